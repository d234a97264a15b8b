/**
 * planHugepageBudget: the hugepages a set of plans needs per host node and page
 * size, against the pools the host has, so the host side can size its pools.
 */
import type { HostFacts } from "../host/facts";
import type { PlacementPlan } from "./placement-types";
import { asTopology, sizeLabel, type HostTopology } from "./topology";
import { hostUsage, pagesUsed, poolTotal } from "./usage";

/** Need and supply of one page size on one node. */
export interface HugepageBudgetEntry {
  node: number;
  sizeKiB: number;
  /** "2M", "1G". */
  size: string;
  /** Pages the plans take from this node. */
  needed: number;
  /** The node's pool now (nr_hugepages). */
  poolTotal: number;
  /** poolTotal - needed; negative when the pool is short. */
  spare: number;
  /** Most pages of this size the node's memory could hold, after its other pools and the plans' normal memory. */
  maxPages: number;
}

/** Result of planHugepageBudget. */
export interface HugepageBudget {
  /** One entry per host node for every size some plan uses; sorted by size, then node. */
  entries: HugepageBudgetEntry[];
  /** Pages needed, shaped like TunedHost's `hugepages` arg: { "1G": { node0: 8 } } (nodes that need none left out). */
  pools: Record<string, Record<string, number>>;
  /** One line per node and size that the host cannot supply as it is. */
  shortfalls: string[];
}

/** Compares what the plans need with what the host offers (pure). */
export function planHugepageBudget(host: HostTopology | HostFacts, plans: readonly PlacementPlan[]): HugepageBudget {
  const t = asTopology(host);
  const usage = hostUsage(plans);
  const sizes = [...new Set(plans.flatMap((p) => p.hugepages.map((h) => h.sizeKiB)))].sort((a, b) => a - b);
  const nodeIds = [...new Set([...t.nodes.map((n) => n.id), ...plans.flatMap((p) => p.hugepages.map((h) => h.node))])].sort((a, b) => a - b);
  const entries: HugepageBudgetEntry[] = [];
  const pools: HugepageBudget["pools"] = {};
  const shortfalls: string[] = [];
  for (const sizeKiB of sizes) {
    const size = sizeLabel(sizeKiB);
    for (const id of nodeIds) {
      const node = t.nodes.find((n) => n.id === id);
      const needed = pagesUsed(usage, id, sizeKiB);
      const total = node ? poolTotal(node, sizeKiB) : 0;
      let maxPages = 0;
      if (node) {
        let otherMiB = usage.normalMiB.get(id) ?? 0;
        for (const p of node.hugepages) if (p.sizeKiB !== sizeKiB) otherMiB += (Math.max(p.total, pagesUsed(usage, id, p.sizeKiB)) * p.sizeKiB) / 1024;
        maxPages = Math.max(0, Math.floor((node.memTotalMiB - otherMiB) / (sizeKiB / 1024)));
      }
      entries.push({ node: id, sizeKiB, size, needed, poolTotal: total, spare: total - needed, maxPages });
      if (needed > 0) (pools[size] ??= {})[`node${id}`] = needed;
      if (!node && needed > 0) shortfalls.push(`node${id}: ${needed} x ${size} hugepages needed, but the host has no node${id}`);
      else if (needed > total) {
        const fit = needed > maxPages ? `; its memory can hold at most ${maxPages}` : "";
        shortfalls.push(`node${id}: ${needed} x ${size} hugepages needed, pool has ${total} (${needed - total} short${fit})`);
      }
    }
  }
  return { entries, pools, shortfalls };
}
