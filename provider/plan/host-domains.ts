/**
 * Libvirt domains already on a host, as the planner counts them: the CPUs they
 * pin and the memory they take per node. Where the XML does not say which node
 * memory is on, it is estimated: a cell's memnode nodeset, else the domain's
 * numatune nodeset, else every node, split evenly (floor, the remainder one page
 * each to the lowest nodes).
 */
import type { HostDomain } from "../host/facts-domains";
import type { HugepageNeed } from "./placement-types";

/** A domain on the host that the planner must leave alone. */
export interface TopologyDomain {
  name: string;
  /** Running or paused: its hugepages are already out of the pools' free counts. */
  active: boolean;
  /** CPUs its vCPUs are pinned to, sorted; no guest of this program may run there. */
  vcpuCpus: number[];
  /** Emulator and iothread pins not among vcpuCpus, sorted (a guest's own emulator may share them). */
  helperCpus: number[];
  /** Hugepages per node (estimated when the XML does not bind them). */
  hugepages: HugepageNeed[];
  /** Normal memory per node in MiB, only where numatune binds it. */
  normalMiB: { node: number; miB: number }[];
  /**
   * Defined by this stack (the host's journal says so) but not (yet) a guest of this run: it is either
   * re-planned under its own name or being removed by this same `up`. Its CPUs do not block a new guest (the
   * engine creates before it deletes, and a few seconds of shared pins are harmless); its pages and memory still count.
   */
  sameStack?: boolean;
}

const split = (total: number, nodes: readonly number[]) => nodes.map((node, i) => ({ node, n: Math.floor(total / nodes.length) + (i < total % nodes.length ? 1 : 0) }));

/** The planner's view of the host's domains (pure). `defaultPageKiB` is the size of a bare `<hugepages/>`. */
export function planTopologyDomains(domains: readonly HostDomain[], nodeIds: readonly number[], defaultPageKiB: number | null): TopologyDomain[] {
  return domains.map((d) => {
    const cells = d.cells.length ? d.cells : [{ id: 0, memoryKiB: d.memoryKiB, nodeset: null }];
    const pages = new Map<string, number>();
    const normal = new Map<number, number>();
    for (const cell of cells) {
      const nodes = (cell.nodeset ?? d.nodeset ?? [...nodeIds]).filter((n) => nodeIds.includes(n));
      if (nodes.length === 0) continue;
      const backing = d.hugepages?.find((p) => p.cells?.includes(cell.id)) ?? d.hugepages?.find((p) => p.cells === null) ?? null;
      const sizeKiB = backing ? backing.sizeKiB ?? defaultPageKiB : null;
      if (sizeKiB) {
        for (const { node, n } of split(Math.ceil(cell.memoryKiB / sizeKiB), nodes)) if (n) pages.set(`${node}:${sizeKiB}`, (pages.get(`${node}:${sizeKiB}`) ?? 0) + n);
      } else if (cell.nodeset ?? d.nodeset) {
        // Unbound normal memory may be anywhere; only bound memory is counted against a node.
        for (const { node, n } of split(Math.ceil(cell.memoryKiB / 1024), nodes)) normal.set(node, (normal.get(node) ?? 0) + n);
      }
    }
    const vcpu = new Set(d.vcpuCpus);
    return {
      name: d.name,
      active: d.state !== null && d.state !== "shut off" && d.state !== "crashed",
      vcpuCpus: [...d.vcpuCpus],
      helperCpus: [...new Set([...(d.emulatorCpus ?? []), ...d.iothreadCpus])].filter((c) => !vcpu.has(c)).sort((a, b) => a - b),
      hugepages: [...pages].map(([k, n]) => ({ node: Number(k.split(":")[0]), sizeKiB: Number(k.split(":")[1]), pages: n })).sort((a, b) => a.node - b.node || a.sizeKiB - b.sizeKiB),
      normalMiB: [...normal].map(([node, miB]) => ({ node, miB })).sort((a, b) => a.node - b.node),
    };
  });
}
