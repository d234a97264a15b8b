import * as fs from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import type { HostFacts } from "../provider/host/facts";
import { resolveOsVariant, type DomainDiskSpec } from "../provider/libvirt/domain-builder";
import { planToDomainParts, pinMap } from "../provider/plan/guest-parts";
import type { PlannedHost } from "../provider/plan/future-host";
import type { PlacementPlan } from "../provider/plan/placement-types";
import type { PlacementRequest } from "../provider/plan/request";
import { renderPlacementSvg, type ObservedGuest } from "../provider/plan/svg";
import { ledgerFor } from "./guest-ledgers";
import { resolveDeviceNodes } from "../provider/plan/device-nodes";
import { housekeepingOf } from "../provider/plan/placement-reasons";
import { parsePlacementRequest } from "../provider/plan/request";
import { indexTopology } from "../provider/plan/topology";
import { LibvirtDomain } from "../provider/resources/libvirt-domain";
import type { ObservedSummary } from "../provider/libvirt/placement-drift";
import { InputError, showValue } from "../provider/spec/issues";
import type { ConnectionArgs } from "./connection";
import { cachedHostFacts, hostIdOf } from "./host-facts-cache";
import { TunedHost } from "./tuned-host";
import { stackIdentity } from "./host-ownership";
import { hostIdentityName } from "./stable-name";

/**
 * Arguments of a NumaPinnedGuest. Placement args are plain values: the plan is
 * computed in the program (from the host's facts, read once per host per run),
 * so `pulumi preview` shows the pins before anything changes.
 */
export interface NumaPinnedGuestArgs extends Omit<PlacementRequest, "name" | "deviceNodes"> {
  /** The host: a TunedHost (its connection is reused) or a connection. */
  host: TunedHost | pulumi.Input<ConnectionArgs>;
  /**
   * Host devices this guest uses, which pull it to their NUMA nodes (see `deviceAffinity`): PCI functions
   * (`"0000:41:00.0"`, e.g. a passthrough GPU or VF), network interfaces (`"enp65s0f0"`, a PF or VF netdev)
   * and block devices (`"/dev/nvme0n1"`, a partition or a `/dev/disk/by-id` link). Their nodes come from the
   * host's facts (`numa_node`); a name the host does not have fails the preview. At most 64.
   * Names may be other resources' outputs (a VF another resource made); while one is not known at preview,
   * the plan is not either, and is made and checked at up, before any change.
   */
  numaDevices?: pulumi.Input<string>[];
  /** libvirt domain name. Default: the resource name (the old name after a rename with `aliases`, so the domain stays). Letters, digits, '_', '.', '+', '-'. */
  domainName?: string;
  /** `<cpu mode>`: "host-passthrough" (default), "host-model", or "maximum" (TCG hosts). */
  cpuMode?: "host-passthrough" | "host-model" | "maximum";
  /** libosinfo id or short id (debian12, rhel9.4, win2k22, ...) so virtio defaults follow the guest OS. */
  osVariant?: string;
  /** Disks of a new domain, with `cache="none"` and `io="native"` by default. A disk's `path` may be another resource's output. */
  disks?: GuestDiskArgs[];
  /** Tune an existing domain instead of defining one: only the tuned parts are owned, and restored on delete. */
  adopt?: boolean;
  /** "kvm" (default) or "qemu" (TCG; test hosts). Define mode only. */
  domainType?: "kvm" | "qemu";
  /**
   * Start the domain after defining it. Default false. "paused": QEMU starts with the guest's vCPUs stopped,
   * its memory allocated and placed (hugepages, locked memory), ready for `virsh resume`.
   */
  start?: boolean | "paused";
  /**
   * "when-required": a change libvirt cannot apply to the running guest (memory backing, a strict-mode
   * nodeset, the vCPU count, ...) is applied in the same `pulumi up` by restarting the guest: an ACPI
   * shutdown, a forced stop after `shutdownTimeoutSeconds` (at once for a paused guest), then a start
   * (paused again if it was). Default "never": the change waits for the next start, and `restartRequired`
   * and `restartReasons` say what waits.
   */
  restart?: "never" | "when-required";
  /**
   * Seconds a restart waits for the guest's own shutdown before forcing it off (0-540). Default 120. The whole restart
   * is one remote command: with `customTimeouts`, it must also leave 60 s of the update's (an adopted guest's create's) bound.
   */
  shutdownTimeoutSeconds?: number;
  /** Start the domain with the host. Omitted = not owned. */
  autostart?: boolean;
  /**
   * Where to write the SVG placement map (host nodes, cores, threads, every guest planned on the host so far).
   * Written at preview from the plan, and again once the guest runs, with its measured placement drawn beside the plan.
   */
  placementSvgPath?: string;
  /** Plan from these facts instead of reading the host (offline planning, tests). */
  facts?: pulumi.Input<HostFacts>;
  /**
   * `<memoryBacking><locked/>`: the guest's memory is never swapped out, and libvirt raises (for QEMU/KVM:
   * lifts) the QEMU process's memlock limit, since QEMU's own memory is locked too. Meant for hugepage
   * guests with latency needs. Without `hugepages` it is still written (libvirt accepts `<locked/>` alone):
   * all of the guest's normal memory is then allocated at start and cannot be reclaimed by the host, so
   * leave room for it. Default false.
   */
  lockedMemory?: boolean;
}

/** A disk of a new domain; its path may be another resource's output (e.g. a volume it created). */
export type GuestDiskArgs = Omit<DomainDiskSpec, "path"> & { path: pulumi.Input<string> };

const ARG_FIELDS = [
  "host", "domainName", "vcpus", "memoryMiB", "hugepages", "threadPolicy", "emulatorPolicy", "emulatorCpus", "iothreads", "numaMode", "guestNumaCells",
  "housekeepingCpus", "nodes", "cpuMode", "osVariant", "disks", "adopt", "domainType", "start", "autostart", "placementSvgPath", "facts", "lockedMemory",
  "restart", "shutdownTimeoutSeconds", "numaDevices", "deviceAffinity",
];

/** Unknown fields are refused up front (a typo must not silently fall back to a default). */
function argProblems(args: Record<string, unknown>): string[] {
  const problems = Object.keys(args).filter((k) => !ARG_FIELDS.includes(k)).map((k) => `args: unknown field ${JSON.stringify(k)}; accepted fields: ${ARG_FIELDS.join(", ")}`);
  if (args.cpuMode !== undefined && !["host-passthrough", "host-model", "maximum"].includes(String(args.cpuMode))) {
    problems.push(`args.cpuMode: ${JSON.stringify(args.cpuMode)} is not accepted; expected "host-passthrough", "host-model" or "maximum"`);
  }
  if (args.adopt && (args.disks !== undefined || args.domainType !== undefined)) problems.push("args.adopt: an adopted domain keeps its own disks and type; drop disks/domainType");
  const devices = args.numaDevices;
  // An element that is another resource's output is judged against the host's facts once known (resolveDeviceNodes).
  if (devices !== undefined && (!Array.isArray(devices) || devices.length > 64 || devices.some((d) => !pulumi.Output.isInstance(d) && (typeof d !== "string" || d.length === 0 || d.length > 256)))) {
    problems.push(`args.numaDevices: ${showValue(devices)} is not accepted; expected a list of at most 64 device names such as ["0000:41:00.0", "enp65s0f0", "/dev/nvme0n1"]`);
  }
  return problems;
}

/** The placement request's problems in the user's own field names (`domainName`, `vcpus`, ...), not the planner's `request.*`. */
function placementArgProblems(domainName: string, placement: Omit<PlacementRequest, "name">): string[] {
  try {
    parsePlacementRequest({ name: domainName, ...placement });
    return [];
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    return err.problems.map((p) => p.replace(/^request\.name:/, "domainName:").replace(/^request\./, "").replace(/^request:/, "args:"));
  }
}

/**
 * A guest placed and pinned on a host's NUMA topology: vCPU and emulator pins,
 * numatune, hugepage backing and a `<cpu>` topology that mirrors the pinned
 * cores, kept in the host's libvirt domain XML and drift-checked on refresh.
 * `customTimeouts` in the resource options bound each remote command of that
 * operation (default 10 minutes).
 */
export class NumaPinnedGuest extends pulumi.ComponentResource {
  /** The placement plan (pins, nodeset, cells, hugepages per node). */
  /** The host connection (secret), for devices attached to this guest. */
  readonly connection: pulumi.Output<ConnectionArgs>;
  /** The libvirt domain name, known once the domain exists (so devices wait for it). */
  readonly domainName: pulumi.Output<string>;
  /** The LibvirtDomain resource behind this guest. */
  readonly domain: LibvirtDomain;
  /** The host's facts the plan was made from (devices attached to this guest are checked against them too). */
  readonly facts: pulumi.Output<HostFacts | undefined>;
  /** vCPUs (the queue default and limit of its vhost NICs). */
  readonly vcpus: number;
  /** "kvm" or "qemu" (TCG) for a defined domain; undefined for an adopted one (not known in the program). */
  readonly domainType: "kvm" | "qemu" | undefined;
  readonly plan: pulumi.Output<PlacementPlan>;
  /** `{ vcpu0: hostCpu, ... }`. */
  readonly pinMap: pulumi.Output<Record<string, number>>;
  /** The domain XML kvmtune defined. */
  readonly xml: pulumi.Output<string | null>;
  /** True when a tuned part differs on the running guest and only a restart applies it. */
  readonly restartRequired: pulumi.Output<boolean>;
  readonly restartReasons: pulumi.Output<string[]>;
  /** Owned parts that differ on the host (after a refresh), measured placement included. */
  readonly drift: pulumi.Output<string[]>;
  /**
   * Where the running guest really is, read from the host with the domain (one command): each vCPU and
   * iothread thread's allowed CPUs, the emulator's CPUs and cgroup cpuset, and resident memory per host
   * node and page size (what `numastat -p` shows), from `/proc/<qemu pid>/numa_maps`. Null when not running.
   */
  readonly observed: pulumi.Output<ObservedSummary | null>;
  /**
   * Measured placement that differs from the plan, one line each, e.g.
   * `placement.memory: 64 MiB on node0, outside strict nodeset 1` or
   * `placement.hugepages: 64 MiB of 64 MiB guest memory is in 4 KiB pages, 2048 KiB pages wanted`.
   * A refresh that finds one shows the guest as changed; `up` moves a restrictive guest's memory back live,
   * and what only a restart fixes is listed in `restartReasons` (applied with `restart: "when-required"`).
   */
  readonly placementDrift: pulumi.Output<string[]>;
  /** The SVG placement map. */
  readonly placementSvg: pulumi.Output<string>;
  /** Huge pages this guest needs per host node, to size TunedHost's `hugepages`. */
  readonly hugepagesNeeded: pulumi.Output<{ node: number; size: string; pages: number }[]>;

  constructor(name: string, args: NumaPinnedGuestArgs, opts?: pulumi.ComponentResourceOptions) {
    super("kvmtune:index:NumaPinnedGuest", name, {}, opts);
    const problems = argProblems(args as unknown as Record<string, unknown>);
    if (problems.length) throw new InputError(`NumaPinnedGuest "${name}" args`, problems);
    // Everything that is not about the domain itself is the placement request.
    const { host: _host, domainName: _name, cpuMode, osVariant, disks, adopt, domainType, start, autostart, placementSvgPath, facts: _facts, lockedMemory, restart, shutdownTimeoutSeconds, numaDevices, ...placement } = args;
    const connection = args.host instanceof TunedHost ? args.host.connection : pulumi.output(args.host);
    // Renamed with `aliases`: the default domain name and the journal owner keep the old name (no second domain is defined).
    const identity = hostIdentityName(name, opts);
    const domainName = args.domainName ?? identity;
    const hostId = hostIdOf(connection);
    // Public facts let the preview show the planned pins.
    const read = cachedHostFacts(connection, args.facts);
    const facts = read.apply((r) => r.facts);
    // A TunedHost's pools count as the host's future state: the domain depends on it, so they exist when it starts.
    const planned = args.host instanceof TunedHost ? args.host.plannedHost : pulumi.output(undefined);
    // Placement args are plain values: judged here, named as the user wrote them, and handed to the domain's check.
    const argIssues = placementArgProblems(domainName, placement).map((p) => `NumaPinnedGuest "${name}" args: ${p}`);
    const plan = pulumi.all([read, hostId, planned, pulumi.all(numaDevices ?? [])]).apply(([{ facts: f, problem }, id, pools, deviceNames]) => {
      if (argIssues.length) return { plan: null, svg: "", problems: argIssues };
      if (!f) return { plan: null, svg: "", problems: [`placement of NumaPinnedGuest "${name}" on ${id}: ${problem}`] };
      const { ledger, conflicts, duplicate, devices: deviceMap, warnings } = ledgerFor(id, name, domainName, f as HostFacts, pools as PlannedHost | undefined);
      for (const w of warnings) void pulumi.log.warn(`placement on ${id}: ${w}`, this);
      // The other guest keeps its plan under that name; this one is not placed at all.
      if (duplicate) return { plan: null, svg: "", problems: [`placement of NumaPinnedGuest "${name}" on ${id}: ${duplicate}`] };
      const where = (x: string) => `placement of NumaPinnedGuest "${name}" on ${id}: ${x}`;
      const devices = resolveDeviceNodes(f as HostFacts, deviceNames);
      if (devices.problems.length) return { plan: null, svg: "", problems: devices.problems.map(where) };
      const request = { name: domainName, ...placement, ...(devices.nodes.length ? { deviceNodes: devices.nodes } : {}) };
      const r = ledger.place(request);
      // Handed to the domain's check, so preview fails cleanly (a rejected output would hang an inline Automation API program).
      if (!r.ok || conflicts.length) return { plan: null, svg: "", problems: [...conflicts, ...(r.ok ? [] : r.reasons)].map(where) };
      for (const note of r.notes ?? []) void pulumi.log.warn(where(note), this);
      deviceMap.set(domainName, devices.nodes.map((d) => ({ label: d.device, node: d.node, guest: domainName })));
      const title = `Guest placement on ${(f as HostFacts).hostname ?? id}`;
      const t = ledger.topology;
      const map = () => ({ title, housekeepingCpus: housekeepingOf(t, indexTopology(t), parsePlacementRequest(request).housekeepingCpus), devices: [...deviceMap.values()].flat() });
      const svg = renderPlacementSvg(t, ledger.plans, map());
      if (placementSvgPath) fs.writeFileSync(placementSvgPath, svg);
      // Drawn again once the guest runs, with what was measured (ledger holds every guest of this run on the host).
      const redraw = (observed: ObservedGuest) => renderPlacementSvg(t, ledger.plans, { ...map(), observed: { [domainName]: observed } });
      return { plan: r.plan, svg, problems: [] as string[], redraw };
    });
    // In adopt mode the OS id is an owned part; a defined domain gets it from its spec.
    let osinfo: string | undefined;
    if (adopt && osVariant !== undefined) {
      const os = resolveOsVariant(osVariant);
      if ("problem" in os) throw new InputError(`NumaPinnedGuest "${name}" args`, [`osVariant: ${os.problem}`]);
      osinfo = os.uri;
    }
    const parts = plan.apply(({ plan: p }) => (p ? planToDomainParts(p, { cpuMode: cpuMode, lockedMemory, ...(osinfo ? { osinfo } : {}) }) : {}));
    const domain = new LibvirtDomain(
      `${name}-domain`,
      {
        connection,
        name: domainName,
        mode: adopt ? "adopt" : "define",
        domain: adopt ? undefined : pulumi.output({ memoryMiB: args.memoryMiB, vcpus: args.vcpus, osVariant: osVariant, type: domainType, disks: disks }),
        parts,
        planProblems: plan.apply((p) => p.problems),
        start: start ?? false,
        autostart: autostart,
        ...(restart !== undefined ? { restart } : {}),
        ...(shutdownTimeoutSeconds !== undefined ? { shutdownTimeoutSeconds } : {}),
        owner: { stack: stackIdentity(), resource: `${identity}-domain` },
        timeouts: opts?.customTimeouts,
      },
      // retainOnDelete on the component keeps the domain as it is when the stack forgets it (children do not inherit it).
      { parent: this, dependsOn: args.host instanceof TunedHost ? [args.host] : [], retainOnDelete: opts?.retainOnDelete },
    );
    this.connection = pulumi.output(connection) as pulumi.Output<ConnectionArgs>;
    this.domainName = domain.name;
    this.domain = domain;
    this.facts = facts;
    this.vcpus = args.vcpus;
    this.domainType = adopt ? undefined : domainType ?? "kvm";
    // Unset (null) only when placement failed; the domain's check then stops the run.
    this.plan = plan.apply((p) => p.plan!);
    this.placementSvg = pulumi.all([plan, domain.observed, domain.placementDrift]).apply(([p, observed, drift]) => {
      if (!("redraw" in p) || !p.redraw || !observed) return p.svg;
      const svg = p.redraw({ summary: observed, drift: drift ?? [] });
      if (placementSvgPath) fs.writeFileSync(placementSvgPath, svg);
      return svg;
    });
    this.pinMap = this.plan.apply((p) => (p ? pinMap(p) : {}));
    this.hugepagesNeeded = this.plan.apply((p) => (p?.hugepages ?? []).map((h) => ({ node: h.node, size: h.sizeKiB >= 1048576 ? "1G" : "2M", pages: h.pages })));
    this.xml = domain.xml;
    this.restartRequired = domain.restartRequired;
    this.restartReasons = domain.restartReasons;
    this.drift = domain.drift;
    this.observed = domain.observed;
    this.placementDrift = domain.placementDrift;
    this.registerOutputs({ plan: this.plan, pinMap: this.pinMap, restartRequired: this.restartRequired });
  }
}
