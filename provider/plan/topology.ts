/**
 * The part of a host the placement planner needs (CPUs, cores, NUMA nodes,
 * memory and hugepage pools), derived from HostFacts or built by hand in tests.
 * Pure; no I/O.
 */
import type { HostFacts, NodeDistance } from "../host/facts";
import { planTopologyDomains, type TopologyDomain } from "./host-domains";

/** One host CPU as the planner sees it. */
export interface TopologyCpu {
  id: number;
  /** Offline CPUs are never used. */
  online: boolean;
  /** Host NUMA node; null when unknown (such a CPU is never used). */
  node: number | null;
  /** Online thread siblings on the same physical core, this CPU included, sorted; [] when offline. */
  siblings: number[];
}

/** A per-node hugetlb pool: `total` is nr_hugepages (persistent pages). */
export interface TopologyHugepagePool {
  sizeKiB: number;
  total: number;
  /** free_hugepages: what guests can take (running domains hold the rest); `total` when not given. */
  free?: number;
}

/** One host NUMA node. */
export interface TopologyNode {
  id: number;
  /** Node MemTotal in MiB (hugepage pools included, as the kernel counts them). */
  memTotalMiB: number;
  /** SLIT distances (10 = local); a missing pair counts as far (100). */
  distances: NodeDistance[];
  /** Pools by page size; a size missing here has 0 pages on this node. */
  hugepages: TopologyHugepagePool[];
}

/** Host topology for `planPlacement`; build with `topologyFromFacts` or by hand. */
export interface HostTopology {
  /** Used in messages only. */
  hostname: string | null;
  /** Sorted by id, offline CPUs included. */
  cpus: TopologyCpu[];
  /** Sorted by id. */
  nodes: TopologyNode[];
  /** Hugepage sizes the kernel offers (/sys/kernel/mm/hugepages), even with empty pools. */
  hugepageSizesKiB: number[];
  /** CPU flag needed for 1G pages. */
  pdpe1gb: boolean;
  /** CPUs isolated from the scheduler (isolcpus=); used by housekeepingCpus "non-isolated". */
  isolated: number[];
  /** Libvirt domains already on the host (any program's); none when not given. */
  domains?: TopologyDomain[];
  /** `virsh --version` on the host, e.g. "9.0.0"; null or absent when unknown. Some placements depend on it. */
  libvirtVersion?: string | null;
}

/** Reduces HostFacts to a HostTopology (pure). Unknown memory sizes count as 0. */
export function topologyFromFacts(facts: HostFacts): HostTopology {
  const online = new Set(facts.cpus.filter((c) => c.online).map((c) => c.id));
  const nodeOf = new Map<number, number>();
  for (const n of facts.numaNodes) for (const c of n.cpus) nodeOf.set(c, n.id);
  const sizes = new Set<number>(facts.memory.hugepages.map((p) => p.sizeKiB));
  for (const n of facts.numaNodes) for (const p of n.hugepages) sizes.add(p.sizeKiB);
  return {
    hostname: facts.hostname,
    cpus: facts.cpus.map((c) => ({
      id: c.id,
      online: c.online,
      node: c.node ?? nodeOf.get(c.id) ?? null,
      siblings: c.online ? [...new Set([c.id, ...c.threadSiblings])].filter((s) => online.has(s)).sort((a, b) => a - b) : [],
    })),
    nodes: facts.numaNodes.map((n) => ({
      id: n.id,
      memTotalMiB: Math.floor((n.memTotalKiB ?? 0) / 1024),
      distances: n.distances.map((d) => ({ ...d })),
      hugepages: n.hugepages.map((p) => ({ sizeKiB: p.sizeKiB, total: p.total ?? 0, free: p.free ?? p.total ?? 0 })),
    })),
    hugepageSizesKiB: [...sizes].sort((a, b) => a - b),
    pdpe1gb: facts.cpu.flags.pdpe1gb,
    isolated: [...facts.cpu.isolated],
    domains: planTopologyDomains(facts.libvirtDomains?.domains ?? [], facts.numaNodes.map((n) => n.id), facts.memory.defaultHugepageSizeKiB),
    libvirtVersion: facts.virt.virsh?.version ?? null,
  };
}

/** Accepts either form; HostFacts is converted (callers planning many guests should convert once). */
export function asTopology(host: HostTopology | HostFacts): HostTopology {
  return "numaNodes" in host ? topologyFromFacts(host) : host;
}

/** A physical core: its online threads on one node. `id` is its lowest CPU. */
export interface Core {
  id: number;
  node: number;
  cpus: number[];
}

/** Lookups derived once per topology object. */
export interface TopologyIndex {
  cpuById: Map<number, TopologyCpu>;
  nodeById: Map<number, TopologyNode>;
  /** Highest CPU id + 1 (size for per-CPU arrays). */
  cpuSlots: number;
  /** Cores per node, sorted by id. */
  coresByNode: Map<number, Core[]>;
  /** Threads per core (SMT width): the most online threads any core has. */
  smt: number;
  /** Lowest online CPU and its siblings: the default housekeeping set. */
  firstCore: number[];
}

const cache = new WeakMap<HostTopology, TopologyIndex>();

/** Index for a topology, cached per object (topologies are treated as immutable). */
export function indexTopology(t: HostTopology): TopologyIndex {
  const hit = cache.get(t);
  if (hit) return hit;
  const cpuById = new Map(t.cpus.map((c) => [c.id, c]));
  const coresByNode = new Map<number, Core[]>(t.nodes.map((n) => [n.id, []]));
  const byKey = new Map<number, Core>();
  for (const c of t.cpus) {
    if (!c.online || c.node === null || !coresByNode.has(c.node)) continue;
    // The lowest online sibling names the core; siblings on another node are not trusted as one core.
    const key = Math.min(c.id, ...c.siblings.filter((s) => cpuById.get(s)?.node === c.node));
    let core = byKey.get(key);
    if (!core) {
      core = { id: key, node: c.node, cpus: [] };
      byKey.set(key, core);
      coresByNode.get(c.node)!.push(core);
    }
    core.cpus.push(c.id);
  }
  let smt = 1;
  for (const cores of coresByNode.values()) {
    cores.sort((a, b) => a.id - b.id);
    for (const core of cores) smt = Math.max(smt, core.cpus.length);
  }
  const first = t.cpus.find((c) => c.online);
  const index: TopologyIndex = {
    cpuById,
    nodeById: new Map(t.nodes.map((n) => [n.id, n])),
    cpuSlots: t.cpus.reduce((m, c) => Math.max(m, c.id + 1), 0),
    coresByNode,
    smt,
    firstCore: first ? (first.siblings.length ? first.siblings : [first.id]) : [],
  };
  cache.set(t, index);
  return index;
}

/** Node distance, 10 for itself, 100 when the host did not report the pair. */
export function nodeDistance(t: TopologyIndex, a: number, b: number): number {
  if (a === b) return 10;
  return t.nodeById.get(a)?.distances.find((d) => d.node === b)?.distance ?? 100;
}

/** "2M", "1G", or "<n>K" for other sizes. */
export function sizeLabel(sizeKiB: number): string {
  if (sizeKiB % 1048576 === 0) return `${sizeKiB / 1048576}G`;
  if (sizeKiB % 1024 === 0) return `${sizeKiB / 1024}M`;
  return `${sizeKiB}K`;
}

/** "host hv01" or "the host". */
export function hostLabel(t: HostTopology): string {
  return t.hostname ? `host ${t.hostname}` : "the host";
}

/**
 * libvirt before 9.3 starts a guest's memory preallocation (hugepages) in a QEMU thread-context bound to
 * each memory node, from inside the emulator's cpuset: when a memory node has none of the emulator's CPUs,
 * QEMU fails with "Setting CPU affinity failed" (libvirt 9.3 prunes the node affinity to the emulator pin).
 * Unknown versions are not assumed affected.
 */
export function preallocNeedsEmulatorOnEveryNode(t: HostTopology): boolean {
  const m = /^(\d+)\.(\d+)/.exec(t.libvirtVersion ?? "");
  if (!m) return false;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major < 9 || (major === 9 && minor < 3);
}
