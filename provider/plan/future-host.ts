/**
 * The host as it will be when a guest on a TunedHost starts: the hugepage pools
 * that TunedHost sets replace the pools read from the host's facts, where they
 * will exist by then, and its `isolateCpus` replaces the host's isolated CPUs.
 * Pure; no I/O.
 *
 * - Per-node counts (`[512, 512]`, `{ node0: 512 }`) replace that node's pool of that size;
 *   nodes without a count keep their pool.
 * - A host total (`{ "2M": 1024 }`) is spread by the kernel, which does not promise an even
 *   spread (it adds to or takes from the pools it has, round robin, and skips a node that has
 *   no room). It is counted as an even split over the nodes with memory: the floor on every
 *   node, the remainder one page each to the lowest nodes. Guests that need pages on a given
 *   node should get per-node counts.
 * - 2M pools are set live, before the guest is defined. 1G pools are reserved at boot (kernel
 *   command line), so they count only when the TunedHost reboots the host itself
 *   (`reboot: "when-pending"`). Otherwise a node counts the smaller of its pool now and the
 *   planned one (the guest must start now and after the next boot), and the pages it does
 *   not count are named in `notes`, which the planner adds to a refusal.
 * - Isolated CPUs count at once, reboot or not: they decide which CPUs are housekeeping
 *   (never given to guests), and pins on CPUs still waiting for isolation are valid today.
 */
import type { HostFacts } from "../host/facts";
import { isolcpusList } from "../host/knobs/cmdline";
import { formatCpuList, parseCpuList } from "../host/sysfs-parse";
import { asTopology, type HostTopology, type TopologyNode } from "./topology";

/** One pool a TunedHost sets. */
export interface PlannedHugepagePool {
  size: "2M" | "1G";
  /** The node of a per-node count; null for a host total (spread over the nodes by the kernel). */
  node: number | null;
  pages: number;
}

/** What a TunedHost will make of its host that guests plan against: hugepage pools, whether it reboots for those reserved at boot, and isolated CPUs. */
export interface PlannedHost {
  /** The TunedHost's resource name (for messages). */
  tunedHost: string;
  /** Its `reboot` arg: only "when-pending" brings boot-time (1G) pools up before its guests start. */
  reboot: "never" | "when-pending";
  /** Per-node counts and host totals, sorted by size, then node (totals first). */
  pools: PlannedHugepagePool[];
  /** Its `isolateCpus`, sorted; null when it does not set them (the host's own isolcpus stay). */
  isolatedCpus: number[] | null;
}

/** The host topology a guest on that TunedHost plans against. */
export interface FutureHost {
  topology: HostTopology;
  /**
   * Why planned pages are not counted, per page size (KiB), e.g. `{ 1048576: 'TunedHost "hv01" asks for ...' }`.
   * Handed to the planner (PlacementOptions.hugepagePoolNotes), which adds it to a refusal for lack of such pages.
   */
  notes: Record<number, string>;
}

const SIZES = { "2M": 2048, "1G": 1048576 } as const;
/** Pools the kernel can only reserve at boot (kvmtune sets them on the kernel command line). */
const BOOT_TIME = new Set(["1G"]);
/** The kvmtune key grammar of TunedHost's pools (see the hugepages knob): hugepages:<2M|1G>[:node<N>]. */
const POOL_KEY = /^hugepages:(2M|1G)(?::node(0|[1-9]\d{0,3}))?$/;

/**
 * The pools and isolated CPUs in a TunedHost's settings (planTuningSettings(...).settings, which
 * has already turned every arg shape into keys; raw `settings` keys count too). Values that are not
 * whole numbers or cpulists are left out (HostTuning's check refuses them).
 */
export function plannedHostFromSettings(tunedHost: string, settings: Record<string, string>, reboot: "never" | "when-pending" = "never"): PlannedHost {
  const pools: PlannedHugepagePool[] = [];
  for (const [key, value] of Object.entries(settings)) {
    const m = POOL_KEY.exec(key);
    if (!m || !/^\d{1,8}$/.test(value)) continue;
    pools.push({ size: m[1] as "2M" | "1G", node: m[2] === undefined ? null : Number(m[2]), pages: Number(value) });
  }
  pools.sort((a, b) => SIZES[a.size] - SIZES[b.size] || (a.node ?? -1) - (b.node ?? -1));
  return { tunedHost, reboot, pools, isolatedCpus: isolatedOf(settings["cmdline:isolcpus"]) };
}

function isolatedOf(value: string | undefined): number[] | null {
  if (value === undefined) return null;
  try {
    const cpus = parseCpuList(isolcpusList(value));
    return cpus.length ? cpus : null;
  } catch {
    return null;
  }
}

/** Pages per node of a host total: floor on every node with memory, the remainder one each to the lowest. */
export function spreadHostTotal(total: number, nodeIds: readonly number[]): Map<number, number> {
  const ids = [...nodeIds].sort((a, b) => a - b);
  const each = ids.length ? Math.floor(total / ids.length) : 0;
  const rest = ids.length ? total % ids.length : 0;
  return new Map(ids.map((id, i) => [id, each + (i < rest ? 1 : 0)]));
}

/** The topology after `planned` applies (a copy; `host` is not changed). Without a plan, the host as it is. */
export function futureHostTopology(host: HostTopology | HostFacts, planned: PlannedHost | undefined): FutureHost {
  const here = asTopology(host);
  const notes: Record<number, string> = {};
  const now = planned?.isolatedCpus ? { ...here, isolated: [...planned.isolatedCpus] } : here;
  if (!planned || planned.pools.length === 0) return { topology: now, notes };
  const nodes = now.nodes.map((n) => ({ ...n, hugepages: n.hugepages.map((p) => ({ ...p })) }));
  for (const size of ["2M", "1G"] as const) {
    const sizeKiB = SIZES[size];
    // A size the host does not offer stays out: HostTuning refuses it, the planner names it.
    if (!now.hugepageSizesKiB.includes(sizeKiB)) continue;
    const pools = planned.pools.filter((p) => p.size === size);
    const perNode = pools.filter((p) => p.node !== null);
    const total = pools.find((p) => p.node === null);
    let wanted: Map<number, number>;
    // Both shapes for one size are refused by HostTuning's check; per-node counts win here.
    if (perNode.length) wanted = new Map(perNode.filter((p) => nodes.some((n) => n.id === p.node)).map((p) => [p.node!, p.pages]));
    else if (total) {
      const withMemory = nodes.filter((n) => n.memTotalMiB > 0).map((n) => n.id);
      wanted = spreadHostTotal(total.pages, withMemory.length ? withMemory : nodes.map((n) => n.id));
    } else continue;
    const waits = BOOT_TIME.has(size) && planned.reboot !== "when-pending";
    const uncounted = new Map<number, number>();
    for (const [id, pages] of wanted) {
      const node = nodes.find((n) => n.id === id)!;
      const current = poolOf(node, sizeKiB);
      if (waits && pages > current.total) uncounted.set(id, pages);
      const total = waits ? Math.min(current.total, pages) : pages;
      // Pages in use stay in use: the free count moves with the pool (never below 0).
      if (current.free !== undefined) current.free = Math.max(0, current.free + total - current.total);
      current.total = total;
    }
    if (uncounted.size) {
      const asked = perNode.length ? perNodeText(uncounted, size) : `${total!.pages} x ${size} (a host total)`;
      notes[sizeKiB] =
        `TunedHost "${planned.tunedHost}" asks for ${asked}, but ${size} pools are reserved at boot and it has reboot: "${planned.reboot}"` +
        ` (set reboot: "when-pending", or reboot the host and run again)`;
    }
  }
  return { topology: { ...now, nodes }, notes };
}

/** The node's pool of one size, added (empty) when the node has none yet. */
function poolOf(node: TopologyNode, sizeKiB: number): { sizeKiB: number; total: number; free?: number } {
  let pool = node.hugepages.find((p) => p.sizeKiB === sizeKiB);
  if (!pool) node.hugepages.push((pool = { sizeKiB, total: 0 }));
  node.hugepages.sort((a, b) => a.sizeKiB - b.sizeKiB);
  return pool;
}

/** "16 x 1G on nodes 0-1", "16 x 1G on node0 and 8 x 1G on node1" (nodes with the same count grouped). */
function perNodeText(pages: Map<number, number>, size: string): string {
  const byCount = new Map<number, number[]>();
  for (const [id, n] of [...pages].sort((a, b) => a[0] - b[0])) byCount.set(n, [...(byCount.get(n) ?? []), id]);
  const parts = [...byCount].map(([n, ids]) => `${n} x ${size} on ${ids.length === 1 ? `node${ids[0]}` : `nodes ${formatCpuList(ids)}`}`);
  return parts.length === 1 ? parts[0] : `${parts.slice(0, -1).join(", ")} and ${parts[parts.length - 1]}`;
}
