/**
 * HostLedger: the guests planned on one host. It plans new guests against the
 * ones it holds and refuses plans (for example read back from state) that would
 * share CPUs or overdraw memory.
 */
import type { HostFacts } from "../host/facts";
import { formatCpuList } from "../host/sysfs-parse";
import type { TopologyDomain } from "./host-domains";
import { planHugepageBudget, type HugepageBudget } from "./hugepages";
import { planSpec } from "./placement";
import type { PlacementOptions, PlacementPlan, PlacementResult } from "./placement-types";
import { parsePlacementRequest, type PlacementRequest } from "./request";
import { asTopology, hostLabel, indexTopology, sizeLabel, type HostTopology } from "./topology";
import { addUsage, hostUsage, nodeRoom, type HostUsage } from "./usage";

const cpus = (ids: readonly number[]) => `${ids.length === 1 ? "CPU" : "CPUs"} ${formatCpuList(ids)}`;

/** The placement plans of one host; never gives two guests the same CPU. */
export class HostLedger {
  readonly topology: HostTopology;
  private readonly list: PlacementPlan[] = [];
  private usage: HostUsage;

  constructor(
    host: HostTopology | HostFacts,
    readonly options: PlacementOptions = {},
  ) {
    this.topology = asTopology(host);
    this.usage = hostUsage([], this.domains);
  }

  /** The host's libvirt domains (any program's, from the facts). */
  get domains(): readonly TopologyDomain[] {
    return this.topology.domains ?? [];
  }

  /** Plans in the order they were recorded. */
  get plans(): readonly PlacementPlan[] {
    return this.list;
  }

  /** Plans a guest against every recorded plan and records it when it fits. Throws InputError for an invalid request. */
  place(request: PlacementRequest): PlacementResult {
    const spec = parsePlacementRequest(request);
    // The guest's own domain on the host (a re-plan) is replaced by the plan, not avoided.
    const usage = this.domains.some((d) => d.name === spec.name) ? hostUsage(this.list, this.domains, [spec.name]) : this.usage;
    const result = planSpec(this.topology, spec, this.list, usage, this.options);
    if (result.ok) this.record(result.plan);
    return result;
  }

  /** Records a plan made elsewhere (e.g. kept in state). Returns its conflicts; it is recorded only when there are none. */
  add(plan: PlacementPlan): string[] {
    const problems = this.conflicts(plan);
    if (problems.length === 0) this.record(plan);
    return problems;
  }

  /** Why a plan cannot join this ledger, e.g. "guest db2 wants CPUs 4-5 already pinned to guest db1"; empty when it can. */
  conflicts(plan: PlacementPlan): string[] {
    const t = this.topology;
    const ix = indexTopology(t);
    const host = hostLabel(t);
    const g = `guest ${plan.name}`;
    const out: string[] = [];
    if (this.list.some((p) => p.name === plan.name)) out.push(`${g} is already placed on ${host}`);
    const missing = plan.reservedCpus.filter((c) => !ix.cpuById.has(c));
    const offline = plan.reservedCpus.filter((c) => ix.cpuById.get(c)?.online === false);
    if (missing.length) out.push(`${g} wants ${cpus(missing)}, which ${missing.length === 1 ? "does" : "do"} not exist on ${host}`);
    if (offline.length) out.push(`${g} wants ${cpus(offline)}, which ${offline.length === 1 ? "is" : "are"} offline on ${host}`);
    const mine = new Set(plan.reservedCpus);
    for (const p of this.list) {
      const idle = new Set(p.idleSiblings);
      const pinned = p.reservedCpus.filter((c) => mine.has(c) && !idle.has(c));
      const kept = p.reservedCpus.filter((c) => mine.has(c) && idle.has(c));
      if (pinned.length) out.push(`${g} wants ${cpus(pinned)} already pinned to guest ${p.name}`);
      if (kept.length) out.push(`${g} wants ${cpus(kept)} already reserved (kept idle) for guest ${p.name}`);
    }
    for (const d of this.usage.foreign) {
      if (d.name === plan.name || d.sameStack) continue;
      const held = d.vcpuCpus.filter((c) => mine.has(c));
      if (held.length) out.push(`${g} wants ${cpus(held)} held by domain ${d.name}, not in this program`);
    }
    const nodes = new Set([...plan.cells.map((c) => c.hostNode), ...plan.hugepages.map((h) => h.node)]);
    for (const node of [...nodes].sort((a, b) => a - b)) {
      const n = ix.nodeById.get(node);
      if (!n) {
        out.push(`${g} wants node ${node}, which does not exist on ${host}`);
        continue;
      }
      const usage = this.domains.some((d) => d.name === plan.name) ? hostUsage(this.list, this.domains, [plan.name]) : this.usage;
      const room = nodeRoom(n, usage, plan.hugepageSizeKiB, this.options.hugepagePools);
      const pages = plan.hugepages.filter((h) => h.node === node).reduce((s, h) => s + h.pages, 0);
      if (plan.hugepageSizeKiB !== null && pages > room.pages) {
        const note = this.options.hugepagePoolNotes?.[plan.hugepageSizeKiB];
        out.push(`${g} needs ${pages} x ${sizeLabel(plan.hugepageSizeKiB)} hugepages on node${node}; ${room.pages} of ${room.poolPages} left${note ? `; ${note}` : ""}`);
      }
      const mem = plan.cells.filter((c) => c.hostNode === node).reduce((s, c) => s + c.memoryMiB, 0);
      if (plan.hugepageSizeKiB === null && plan.numaMode !== "preferred" && mem > room.normalMiB) {
        out.push(`${g} needs ${mem} MiB of memory on node${node}; ${Math.max(0, room.normalMiB)} MiB left`);
      }
    }
    return out;
  }

  /**
   * The same plans on another topology (e.g. the host as this program's TunedHost will leave it):
   * every plan is kept, so no CPU is given out twice; `conflicts` says which no longer fit there.
   */
  rebase(host: HostTopology | HostFacts, options: PlacementOptions = this.options): { ledger: HostLedger; conflicts: string[] } {
    const next = new HostLedger(host, options);
    const conflicts: string[] = [];
    for (const plan of this.list) {
      conflicts.push(...next.conflicts(plan));
      next.record(plan);
    }
    return { ledger: next, conflicts };
  }

  /** Forgets a guest; false when it was not recorded. */
  remove(name: string): boolean {
    const i = this.list.findIndex((p) => p.name === name);
    if (i < 0) return false;
    this.list.splice(i, 1);
    this.usage = hostUsage(this.list, this.domains);
    return true;
  }

  /** Hugepages the recorded plans need per node and size, against the host's pools. */
  hugepageBudget(): HugepageBudget {
    return planHugepageBudget(this.topology, this.list);
  }

  private record(plan: PlacementPlan): void {
    this.list.push(plan);
    if (this.domains.some((d) => d.name === plan.name)) this.usage = hostUsage(this.list, this.domains);
    else addUsage(this.usage, plan);
  }
}
