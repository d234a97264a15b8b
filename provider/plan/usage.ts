/**
 * What the guests already planned on a host take: CPUs (with their owner, for
 * conflict messages), normal memory and hugepages per node. Capacity is counted
 * from totals (MemTotal, pool nr_hugepages) minus these plans, not from the
 * momentary MemFree, so planning is deterministic and running guests that are
 * also in the plans are not counted twice.
 */
import type { PlacementOptions, PlacementPlan } from "./placement-types";
import type { TopologyNode } from "./topology";

/** Who holds a CPU: pinned (vCPU or dedicated emulator) or kept idle as an isolated sibling. */
export interface CpuOwner {
  guest: string;
  idle: boolean;
}

/** What the plans on one host take. */
export interface HostUsage {
  owners: Map<number, CpuOwner>;
  /** Normal (non-hugepage) MiB per node. */
  normalMiB: Map<number, number>;
  /** Pages per node per size (KiB). */
  pages: Map<number, Map<number, number>>;
}

/** Sums the usage of plans; later plans do not overwrite an earlier owner of a CPU. */
export function hostUsage(plans: readonly PlacementPlan[]): HostUsage {
  const u: HostUsage = { owners: new Map(), normalMiB: new Map(), pages: new Map() };
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
  for (const h of p.hugepages) {
    let bySize = u.pages.get(h.node);
    if (!bySize) u.pages.set(h.node, (bySize = new Map()));
    bySize.set(h.sizeKiB, (bySize.get(h.sizeKiB) ?? 0) + h.pages);
  }
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

/** Room on a node given earlier plans; in "grow" mode a pool may take the node's spare normal memory. */
export function nodeRoom(node: TopologyNode, u: HostUsage, sizeKiB: number | null, mode: PlacementOptions["hugepagePools"]): NodeRoom {
  let poolsMiB = 0;
  for (const p of node.hugepages) {
    // A pool holds at least what plans already take from it (in "grow" mode it may be planned past its size).
    poolsMiB += (Math.max(p.total, pagesUsed(u, node.id, p.sizeKiB)) * p.sizeKiB) / 1024;
  }
  for (const [size, used] of u.pages.get(node.id) ?? []) if (!node.hugepages.some((p) => p.sizeKiB === size)) poolsMiB += (used * size) / 1024;
  const normalMiB = node.memTotalMiB - poolsMiB - (u.normalMiB.get(node.id) ?? 0);
  if (sizeKiB === null) return { normalMiB, pages: 0, poolPages: 0 };
  const total = poolTotal(node, sizeKiB);
  let pages = Math.max(0, total - pagesUsed(u, node.id, sizeKiB));
  if (mode === "grow") pages += Math.floor(Math.max(0, normalMiB) / (sizeKiB / 1024));
  return { normalMiB, pages, poolPages: total };
}
