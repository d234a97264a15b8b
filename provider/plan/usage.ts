/**
 * What is already taken on a host: CPUs (with their owner, for conflict
 * messages), normal memory and hugepages per node, by the guests planned here
 * and by the libvirt domains of other programs. Normal memory is counted from
 * totals (MemTotal minus pools minus plans), not the momentary MemFree, so
 * running guests that are also in the plans are not counted twice. Hugepages are
 * counted from the pools' free pages: a running domain's pages are already out
 * of them, a shut-off one's are claimed, and a running domain of this program
 * gives its pages back (its plan replaces it).
 */
import type { TopologyDomain } from "./host-domains";
import type { PlacementOptions, PlacementPlan } from "./placement-types";
import type { TopologyNode } from "./topology";

/** Who holds a CPU: a guest of this program (pinned, or kept idle as an isolated sibling) or another domain. */
export interface CpuOwner {
  guest: string;
  idle: boolean;
  /** A domain not in this program; `helper`: only its emulator or iothreads are pinned there. */
  foreign?: { helper: boolean };
}

/** What is taken on one host. */
export interface HostUsage {
  owners: Map<number, CpuOwner>;
  /** Normal (non-hugepage) MiB per node. */
  normalMiB: Map<number, number>;
  /** Pages per node per size (KiB) the plans take. */
  pages: Map<number, Map<number, number>>;
  /** Pages per node per size taken from (positive) or given back to (negative) the free pages by domains. */
  domainPages: Map<number, Map<number, number>>;
  /** The domains counted (not replaced by a plan). */
  foreign: TopologyDomain[];
}

const bump = (m: Map<number, Map<number, number>>, node: number, size: number, n: number) => {
  let bySize = m.get(node);
  if (!bySize) m.set(node, (bySize = new Map()));
  bySize.set(size, (bySize.get(size) ?? 0) + n);
};

/**
 * Sums the usage of plans and of the host's domains; a domain with the name of a plan (or of a name in
 * `also`, the guest being planned) is that guest, replaced by its plan. Earlier owners of a CPU are kept.
 */
export function hostUsage(plans: readonly PlacementPlan[], domains: readonly TopologyDomain[] = [], also: readonly string[] = []): HostUsage {
  const u: HostUsage = { owners: new Map(), normalMiB: new Map(), pages: new Map(), domainPages: new Map(), foreign: [] };
  const mine = new Set([...plans.map((p) => p.name), ...also]);
  for (const d of domains) {
    if (mine.has(d.name)) {
      for (const h of d.hugepages) if (d.active) bump(u.domainPages, h.node, h.sizeKiB, -h.pages);
      continue;
    }
    u.foreign.push(d);
    if (!d.sameStack) {
      for (const c of d.vcpuCpus) if (!u.owners.has(c)) u.owners.set(c, { guest: d.name, idle: false, foreign: { helper: false } });
      for (const c of d.helperCpus) if (!u.owners.has(c)) u.owners.set(c, { guest: d.name, idle: false, foreign: { helper: true } });
    }
    for (const h of d.hugepages) if (!d.active) bump(u.domainPages, h.node, h.sizeKiB, h.pages);
    for (const m of d.normalMiB) u.normalMiB.set(m.node, (u.normalMiB.get(m.node) ?? 0) + m.miB);
  }
  for (const p of plans) addUsage(u, p);
  return u;
}

/** Adds one plan's usage (HostLedger keeps its usage up to date this way). */
export function addUsage(u: HostUsage, p: PlacementPlan): void {
  const idle = new Set(p.idleSiblings);
  for (const c of p.reservedCpus) if (!u.owners.has(c)) u.owners.set(c, { guest: p.name, idle: idle.has(c) });
  if (p.hugepageSizeKiB === null) {
    for (const cell of p.cells) u.normalMiB.set(cell.hostNode, (u.normalMiB.get(cell.hostNode) ?? 0) + cell.memoryMiB);
  }
  for (const h of p.hugepages) bump(u.pages, h.node, h.sizeKiB, h.pages);
}

/** nr_hugepages of one size on a node (0 when the node has no such pool). */
export function poolTotal(node: TopologyNode, sizeKiB: number): number {
  return node.hugepages.find((p) => p.sizeKiB === sizeKiB)?.total ?? 0;
}

/** Pages of one size the plans take from a node. */
export function pagesUsed(u: HostUsage, node: number, sizeKiB: number): number {
  return u.pages.get(node)?.get(sizeKiB) ?? 0;
}

/** Memory a node can still give one guest. */
export interface NodeRoom {
  /** Normal memory left, MiB (may be negative when over-committed). */
  normalMiB: number;
  /** Pages of the guest's size it can still supply (0 for normal pages). */
  pages: number;
  /** Pool total of that size (for messages). */
  poolPages: number;
}

/** Room on a node given earlier plans and the host's domains; in "grow" mode a pool may take the node's spare normal memory. */
export function nodeRoom(node: TopologyNode, u: HostUsage, sizeKiB: number | null, mode: PlacementOptions["hugepagePools"]): NodeRoom {
  // Pages of a size taken beyond what is free now: plans plus domain claims, less pages given back.
  const taken = (size: number) => pagesUsed(u, node.id, size) + (u.domainPages.get(node.id)?.get(size) ?? 0);
  let poolsMiB = 0;
  for (const p of node.hugepages) {
    // A pool holds at least what is in use plus what is planned (in "grow" mode it may be planned past its size).
    poolsMiB += (Math.max(p.total, p.total - (p.free ?? p.total) + taken(p.sizeKiB)) * p.sizeKiB) / 1024;
  }
  for (const [size, used] of u.pages.get(node.id) ?? []) if (!node.hugepages.some((p) => p.sizeKiB === size)) poolsMiB += (used * size) / 1024;
  const normalMiB = node.memTotalMiB - poolsMiB - (u.normalMiB.get(node.id) ?? 0);
  if (sizeKiB === null) return { normalMiB, pages: 0, poolPages: 0 };
  const pool = node.hugepages.find((p) => p.sizeKiB === sizeKiB);
  let pages = Math.max(0, (pool?.free ?? pool?.total ?? 0) - taken(sizeKiB));
  if (mode === "grow") pages += Math.floor(Math.max(0, normalMiB) / (sizeKiB / 1024));
  return { normalMiB, pages, poolPages: pool?.total ?? 0 };
}
