import * as pulumi from "@pulumi/pulumi";
import type { HostFactsSummary } from "../provider/host/facts-summary";
import { fileTag } from "../provider/host/knobs/persistence";
import { normaliseSettings } from "../provider/host/knobs/plan";
import { HostReboot } from "../provider/resources/host-reboot";
import { HostTuning } from "../provider/resources/host-tuning";
import type { HostFacts } from "../provider/host/facts";
import { plannedHostFromSettings, type PlannedHost } from "../provider/plan/future-host";
import { planTuningSettings, type GroupedSettings, type TuningSettingsPlan } from "../provider/spec/tuned-host";
import { InputError } from "../provider/spec/issues";
import type { ConnectionArgs } from "./connection";
import { claimSettings, stackIdentity } from "./host-ownership";
import { checkAgainstFacts } from "./host-checks";
import { hostIdentityName } from "./stable-name";

type PerNode = number | number[] | Record<string, number>;

/** Arguments of a TunedHost. Every setting is optional; only what you set is owned (and restored on delete). */
export interface TunedHostArgs {
  /** How to reach the host. See ConnectionArgs: host keys are pinned, secrets stay secret. */
  connection: pulumi.Input<ConnectionArgs>;
  /**
   * `"virtual-host"`: tuned's virtual-host profile plus the talk's network advice —
   * THP `always`, `vm.swappiness=10`, `vm.dirty_ratio=10`, `vm.dirty_background_ratio=5`,
   * `net.ipv4.conf.all.arp_filter=1` and `vhost_net` loaded. Your own values override it.
   * Default `"none"`.
   */
  preset?: pulumi.Input<"virtual-host" | "none">;
  /** Transparent huge pages: a mode for `enabled`, or `{ enabled, defrag }`. Only modes the host offers are accepted. Live; persisted with tmpfiles.d. */
  thp?: pulumi.Input<string | { enabled?: string; defrag?: string }>;
  /**
   * Static huge pages per size: a total (`{ "2M": 1024 }`, spread over the NUMA nodes by the kernel),
   * per-node counts (`[512, 512]` or `{ node0: 512, node1: 512 }`). The kernel's answer is read back:
   * a short allocation is an error and nothing is recorded. 1G pages need `pdpe1gb`; they are
   * reserved at boot from the kernel command line (`hugepagesz=1G hugepages=...`), so they need a
   * reboot (`pendingReboot`): a running host rarely has a free 1 GiB range per node.
   */
  hugepages?: pulumi.Input<{ "2M"?: PerNode; "1G"?: PerNode }>;
  /**
   * hugetlbfs mounts per page size. Default: mount `/dev/hugepages<size>` for every size with pages; `false` for none.
   * Persisted in /etc/fstab (a marked block). A path must be canonical and at /dev/hugepages*, /run/hugepages[/...],
   * /var/lib/hugetlbfs[/...], below /mnt/ or /srv/, or a new top-level directory such as /hugepages1G.
   */
  hugetlbfs?: pulumi.Input<boolean | { "2M"?: string; "1G"?: string }>;
  /** sysctl keys (dotted) and values, from an allowlist (vm.*, net.*, selected kernel.* and fs.*). Live; persisted in /etc/sysctl.d/90-kvmtune-<name>.conf (the old name after a rename with `aliases`). */
  sysctl?: pulumi.Input<Record<string, string | number | boolean>>;
  /** The talk's `net.ipv4.conf.all.arp_filter`: set when the host has several NICs on one subnet. */
  arpFilter?: pulumi.Input<boolean>;
  /** I/O scheduler per block device: `none`, `mq-deadline`, `bfq`, `kyber` (legacy noop/deadline/cfq are mapped, with a note). Live; persisted with a udev rule. */
  schedulers?: pulumi.Input<Record<string, string>>;
  /** `read_ahead_kb` per block device (0-65536). Live; persisted with a udev rule. */
  readaheadKb?: pulumi.Input<Record<string, number>>;
  /** `nr_requests` per block device (4-65536; the queue may allow less). Live; persisted with a udev rule. */
  nrRequests?: pulumi.Input<Record<string, number>>;
  /** Kernel modules to load (a list) or `{ name: "loaded" | "unloaded" }`, e.g. `["vhost_net", "vfio-pci", "bfq"]`. Live; persisted in modules-load.d. */
  modules?: pulumi.Input<string[] | Record<string, "loaded" | "unloaded">>;
  /** Module options, e.g. `{ kvm_intel: { nested: 1 } }`. Written to modprobe.d; take effect when the module next loads (`pendingReboot`). */
  moduleOptions?: pulumi.Input<Record<string, Record<string, string | number | boolean>>>;
  /** MTU per interface (68-65535). The interface carrying kvmtune's SSH session is refused unless `allowManagementInterface`. Live; persisted with a udev rule. */
  mtu?: pulumi.Input<Record<string, number>>;
  /** Allow `mtu` on the interface that carries the SSH session. Default false. */
  allowManagementInterface?: pulumi.Input<boolean>;
  /**
   * SR-IOV virtual functions per physical function (a NIC name or PCI address), e.g. `{ enp65s0f0: 8 }`.
   * At most the PF's `sriov_totalvfs`. Going from 0 to N is live; changing a non-zero count destroys and
   * recreates every VF (the kernel refuses N to M directly) and needs `allowVfRecreate: true` and no VF
   * bound to vfio-pci. Persisted with a udev rule.
   */
  sriov?: pulumi.Input<Record<string, number>>;
  /** Allow changing a non-zero VF count (write 0, then the new count). Default false. */
  allowVfRecreate?: pulumi.Input<boolean>;
  /**
   * CPUs to isolate for guests (cpulist, e.g. `"2-15"`): sets `isolcpus=managed_irq,domain,<list>`,
   * `nohz_full` and `rcu_nocbs`. At least one online CPU must stay for housekeeping (offline CPUs do not count). Kernel command line:
   * needs a reboot (`pendingReboot`); kvmtune never reboots by itself.
   */
  isolateCpus?: pulumi.Input<string>;
  /** Other kernel arguments kvmtune manages: intel_iommu, amd_iommu, iommu, default_hugepagesz, transparent_hugepage, irqaffinity, ... Needs a reboot. */
  kernelArgs?: pulumi.Input<Record<string, string | number>>;
  /** KSM: true/"run", false/"stop", or "unmerge" (stop and split merged pages). Live; persisted with tmpfiles.d. */
  ksm?: pulumi.Input<boolean | "run" | "stop" | "unmerge">;
  /** cpufreq governor for every CPU, e.g. `performance`. Hosts without cpufreq refuse it. Live; persisted with tmpfiles.d. */
  governor?: pulumi.Input<string>;
  /**
   * Reboot the host when boot-time settings are pending: `"when-pending"` reboots once each
   * time the pending keys change, then waits for SSH to answer with a new boot id.
   * Default `"never"`: kvmtune never reboots by itself.
   */
  reboot?: "never" | "when-pending";
  /** Seconds to wait for the host to come back after a reboot. Default 600. */
  rebootTimeoutSeconds?: pulumi.Input<number>;
  /**
   * Keys to take over from another owner recorded in the host's journal of originals (another stack, or a
   * TunedHost since renamed or deleted without destroy), e.g. `["sysctl:vm.swappiness"]`, or `"all"`.
   * The recorded original is kept, so the last owner's destroy still restores what the host had before kvmtune.
   * Without it, a key another owner recorded first is refused at preview, naming that owner and its stack.
   */
  takeOver?: pulumi.Input<string[] | "all">;
  /** Raw kvmtune keys (`sysctl:...`, `block:<dev>:scheduler`, ...) for anything the friendly args do not cover. Applied last. */
  settings?: pulumi.Input<Record<string, string | number | boolean>>;
  /**
   * The host's facts, instead of reading them (offline planning, tests). Otherwise read at preview, once per host
   * per run, to refuse a boot loader kvmtune cannot drive and to warn about what else sets these settings at boot
   * (`bootOverrides`); an update checks both on its own connection.
   */
  facts?: pulumi.Input<HostFacts>;
}

/**
 * Tunes one KVM host: every setting is previewed per key (grouped by how
 * disruptive it is), applied over one SSH connection, read back, drift-checked
 * on refresh and restored to its original on delete. Originals are recorded in
 * a journal on the host itself (/var/lib/kvmtune/journal) before the first write,
 * so a killed CLI or a lost state never loses them. `customTimeouts` in the
 * resource options bound each remote step of that operation (default 2 minutes).
 * Renamed with `aliases` (`{ name: "<old name>" }` or its URN), it keeps the old name
 * on the host (persistence file tag, journal owner; see hostIdentityName): the rename
 * changes nothing there, and nothing is restored or applied again.
 */
export class TunedHost extends pulumi.ComponentResource {
  /** The connection, for guests placed on this host. */
  readonly connection: pulumi.Output<ConnectionArgs>;
  /** Applied settings, grouped by disruption class (`live`, `guest-restart`, `host-reboot`). */
  readonly settings: pulumi.Output<GroupedSettings>;
  /** Values before kvmtune first changed each key; delete restores these. */
  readonly originals: pulumi.Output<Record<string, string | null>>;
  /** True while a boot-time setting (kernel command line, module option) waits for a reboot. */
  readonly pendingReboot: pulumi.Output<boolean>;
  /** The boot-time keys that wait for a reboot. */
  readonly pendingRebootKeys: pulumi.Output<string[]>;
  /** Messages worth reading (legacy names mapped, ...). */
  readonly notes: pulumi.Output<string[]>;
  /** What the host looked like at the last apply. */
  readonly facts: pulumi.Output<HostFactsSummary | null>;
  /**
   * Settings another actor on the host sets differently at boot, after kvmtune's files (a later sysctl.d file
   * or udev rule, a .link/.network MTU, tuned's profile), one message each, also shown as warnings at preview.
   * kvmtune warns, it does not refuse; after a reboot the drift check names the key.
   */
  readonly bootOverrides: pulumi.Output<string[]>;
  /**
   * What this TunedHost will make of the host, for guests placed on it: the hugepage pools it sets (every
   * arg shape, and raw `settings` keys, as per-node counts or host totals), its `reboot` arg, and its
   * `isolateCpus`. A NumaPinnedGuest on this host plans against these pools instead of today's (1G pools
   * only with `reboot: "when-pending"`; see futureHostTopology), and keeps its vCPUs off the CPUs left
   * for housekeeping (those not isolated) even before the reboot that isolates them.
   */
  readonly plannedHost: pulumi.Output<PlannedHost>;

  constructor(name: string, args: TunedHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("kvmtune:index:TunedHost", name, {}, opts);
    const { connection, allowManagementInterface, allowVfRecreate, reboot, rebootTimeoutSeconds, facts, takeOver, ...tuning } = args;
    // This stack and name own the settings in the host's journal; the tag names the persistence files.
    // Renamed with `aliases`: both keep the old name the host knows, so HostTuning sees no change (no restore, no re-tune).
    const identity = hostIdentityName(name, opts);
    const tag = fileTag(identity);
    const owner = { stack: stackIdentity(), resource: identity };
    // The connection is secret as a whole (its key is); host and port are not, and must not make the settings secret.
    const hostId = pulumi.unsecret(pulumi.output(connection).apply((c) => `${c.host}:${c.port ?? 22}`));
    const planned = pulumi.all([pulumi.output(tuning), hostId]).apply(([plain, id]) => {
      // Bad args become check failures (preview names them); thrown inside an output they would hang an inline program.
      let plan: TuningSettingsPlan;
      try {
        plan = planTuningSettings(plain, `TunedHost "${name}"`);
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        return { plan: planTuningSettings({}), conflicts: err.problems.map((p) => `TunedHost "${name}": ${p.replace(/^args\./, "")}`) };
      }
      const conflicts = claimSettings(id, name, Object.keys(plan.settings));
      // Shown at preview: the resource stores canonical values, so this is the one place a mapping is visible.
      for (const note of normaliseSettings(plan.settings).notes) void pulumi.log.info(note, this);
      return { plan, conflicts };
    });
    const grouped = planned.apply((p) => p.plan.grouped);
    const checks = checkAgainstFacts(this, identity, planned.apply((p) => p.plan), hostId, connection, facts, { ...owner, tag }, takeOver);
    // Both kinds of refusal go to HostTuning's check (preview fails there); absent when there are none.
    const hostProblems = pulumi.all([checks, planned]).apply(([c, p]) => {
      const all = [...c.problems, ...p.conflicts];
      return all.length > 0 ? all : undefined;
    });
    const resource = new HostTuning(
      `${name}-tuning`,
      { connection, tag, allowManagementInterface: allowManagementInterface ?? false, allowVfRecreate: allowVfRecreate ?? false, settings: grouped, hostProblems, owner, takeOver, timeouts: opts?.customTimeouts },
      // retainOnDelete on the component keeps the host as it is when the stack forgets it.
      { parent: this, retainOnDelete: opts?.retainOnDelete },
    );
    if (reboot === "when-pending") {
      // Keys with their wanted values: a changed value of an already pending key is a new reboot.
      const pending = pulumi.all([resource.pendingRebootKeys, grouped]).apply(([keys, g]) => {
        const wanted: Record<string, unknown> = Object.assign({}, ...Object.values(g ?? {}));
        return (keys ?? []).map((k) => `${k}=${String(wanted[k] ?? "")}`);
      });
      new HostReboot(`${name}-reboot`, { connection, pending, timeoutSeconds: rebootTimeoutSeconds ?? 600 }, { parent: this, dependsOn: resource, retainOnDelete: opts?.retainOnDelete });
    } else if (reboot !== undefined && reboot !== "never") {
      throw new Error(`TunedHost "${name}": reboot ${JSON.stringify(reboot)} is not accepted; expected "never" or "when-pending"`);
    }
    this.connection = pulumi.output(connection);
    this.settings = resource.settings;
    this.originals = resource.originals;
    this.pendingReboot = resource.pendingReboot;
    this.pendingRebootKeys = resource.pendingRebootKeys;
    this.notes = resource.notes;
    this.facts = resource.facts;
    // Judged in the program at preview; during an update, by HostTuning from the facts it reads anyway.
    this.bootOverrides = pulumi.all([checks, resource.bootOverrides]).apply(([c, r]) => c.bootOverrides ?? r ?? []);
    this.plannedHost = planned.apply((p) => plannedHostFromSettings(name, p.plan.settings, reboot ?? "never"));
    this.registerOutputs({ settings: this.settings, pendingReboot: this.pendingReboot, originals: this.originals, facts: this.facts, bootOverrides: this.bootOverrides });
  }
}
