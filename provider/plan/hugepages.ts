/**
 * planHugepageBudget: the hugepages a set of plans needs per host node and page
 * size, against the pools the host has, so the host side can size its pools.
 * Other programs' libvirt domains (the topology's `domains`) keep their pages:
 * a running one holds them, a shut-off one takes them at its next start, so a
 * pool must hold theirs as well as the plans'.
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
  /** Pages other domains on the host hold (running) or will take at their next start (shut off). */
  otherDomains: number;
  /** The node's pool now (nr_hugepages). */
  poolTotal: number;
  /** poolTotal - needed - otherDomains; negative when the pool is short. */
  spare: number;
  /** Most pages of this size the node's memory could hold, after its other pools and the plans' normal memory. */
  maxPages: number;
}

/** Result of planHugepageBudget. */
export interface HugepageBudget {
  /** One entry per host node for every size some plan uses; sorted by size, then node. */
  entries: HugepageBudgetEntry[];
  /** Pool sizes that hold the plans and the other domains, shaped like TunedHost's `hugepages` arg: { "1G": { node0: 8 } } (nodes that need none left out). */
  pools: Record<string, Record<string, number>>;
  /** One line per node and size that the host cannot supply as it is. */
  shortfalls: string[];
}

/** Compares what the plans need with what the host offers (pure). */
export function planHugepageBudget(host: HostTopology | HostFacts, plans: readonly PlacementPlan[]): HugepageBudget {
  const t = asTopology(host);
  const usage = hostUsage(plans, t.domains ?? []);
  const others = new Map<string, number>();
  for (const d of usage.foreign) for (const h of d.hugepages) others.set(`${h.node}:${h.sizeKiB}`, (others.get(`${h.node}:${h.sizeKiB}`) ?? 0) + h.pages);
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
      const otherDomains = others.get(`${id}:${sizeKiB}`) ?? 0;
      const total = node ? poolTotal(node, sizeKiB) : 0;
      let maxPages = 0;
      if (node) {
        let otherMiB = usage.normalMiB.get(id) ?? 0;
        for (const p of node.hugepages) if (p.sizeKiB !== sizeKiB) otherMiB += (Math.max(p.total, pagesUsed(usage, id, p.sizeKiB)) * p.sizeKiB) / 1024;
        maxPages = Math.max(0, Math.floor((node.memTotalMiB - otherMiB) / (sizeKiB / 1024)));
      }
      const want = needed + otherDomains;
      entries.push({ node: id, sizeKiB, size, needed, otherDomains, poolTotal: total, spare: total - want, maxPages });
      if (needed > 0) (pools[size] ??= {})[`node${id}`] = want;
      const held = otherDomains ? ` and ${otherDomains} held by other domains` : "";
      if (!node && needed > 0) shortfalls.push(`node${id}: ${needed} x ${size} hugepages needed, but the host has no node${id}`);
      else if (needed > 0 && want > total) {
        const fit = want > maxPages ? `; its memory can hold at most ${maxPages}` : "";
        shortfalls.push(`node${id}: ${needed} x ${size} hugepages needed${held}, pool has ${total} (${want - total} short${fit})`);
      }
    }
  }
  return { entries, pools, shortfalls };
}
