/**
 * planPlacement: pins one guest onto a host, given the guests already planned
 * there. Pure and deterministic; returns a plan or every reason it cannot fit.
 *
 * Search: the guest is split into k equal cells, one per host node: k = 1 first,
 * then (guestNumaCells "auto") every k up to the allowed node count that splits the
 * vCPUs (in whole cores for "require") and the memory pages evenly; an explicit
 * guestNumaCells N tries k = N only. A node fits a cell when the thread policy finds
 * its CPUs there and, for hugepages, the node has the pages; in "strict" and
 * "interleave" mode also the normal memory ("preferred" tries that first, then
 * ignores it). k = 1 takes the best-fit node (fewest free CPUs, then lowest id);
 * k > 1 the closest set (smallest largest SLIT distance, fewest free CPUs, lowest ids).
 */
import type { HostFacts } from "../host/facts";
import { formatCpuList } from "../host/sysfs-parse";
import { freeCpus, pickCell, type CellPick } from "./cpu-select";
import type { GuestCellPlan, PlacementOptions, PlacementPlan, PlacementResult } from "./placement-types";
import { fitReasons, skippedSplitReasons, staticReasons, type NodeFit, type StaticCheck } from "./placement-reasons";
import { planStickyPasses } from "./sticky";
import { parsePlacementRequest, RESTRICTIVE_ONE_NODE, type PlacementRequest, type PlacementSpec } from "./request";
import { asTopology, hostLabel, indexTopology, nodeDistance, type HostTopology, type TopologyIndex } from "./topology";
import { hostUsage, nodeRoom, type HostUsage } from "./usage";

/** Plans one guest. Throws InputError for an invalid request; returns `ok: false` with every reason when it does not fit. */
export function planPlacement(host: HostTopology | HostFacts, request: PlacementRequest, placed: readonly PlacementPlan[] = [], options: PlacementOptions = {}): PlacementResult {
  const spec = parsePlacementRequest(request);
  const t = asTopology(host);
  return planSpec(t, spec, placed, hostUsage(placed, t.domains, [spec.name]), options);
}

/** planPlacement for an already validated request and precomputed usage (HostLedger's fast path). */
export function planSpec(t: HostTopology, spec: PlacementSpec, placed: readonly PlacementPlan[], usage: HostUsage, options: PlacementOptions): PlacementResult {
  const ix = indexTopology(t);
  const check = staticReasons(t, ix, spec, placed, usage, options);
  const { reasons } = check;
  const unit = spec.threadPolicy === "require" ? ix.smt : 1;
  const pageMiB = (check.sizeKiB ?? 1024) / 1024;
  const memUnits = spec.memoryMiB / pageMiB;
  const splittable = (k: number) => spec.vcpus % k === 0 && (spec.vcpus / k) % unit === 0 && memUnits >= k;
  const cells = spec.guestNumaCells;
  // A "restrictive" guest stays within one node (RESTRICTIVE_ONE_NODE); an explicit count > 1 is refused by the request check.
  const most = spec.numaMode === "restrictive" ? 1 : check.allowed.length;
  const ks = cells === "auto" ? range(1, most).filter(splittable) : check.allowed.length >= cells && (spec.vcpus / cells) % unit === 0 ? [cells] : [];

  // numaMode "preferred" with normal pages: for each split, nodes whose memory fits
  // come first, then any node (the kernel falls back); the last pass gives the reasons.
  const passes = spec.numaMode === "preferred" && check.sizeKiB === null ? [true, false] : [true];
  const affinity = deviceAffinityOf(spec, check.allowed);
  const search = (must: readonly number[], within: StaticCheck = check) => {
    const failed: { k: number; fits: NodeFit[] }[] = [];
    for (const k of ks) {
      let fits: NodeFit[] = [];
      for (const nodeMemory of passes) {
        fits = within.allowed.map((node) => evalNode(ix, within, spec, usage, options, node, k, memUnits, pageMiB, nodeMemory));
        const chosen = chooseNodes(ix, fits, k, must, within.emulatorOnEveryNode && wantsEmulatorCore(spec) && k > 1);
        if (chosen) return { chosen, fits, k, failed };
      }
      failed.push({ k, fits });
    }
    return { chosen: null, fits: [], k: 0, failed };
  };
  // A re-plan keeps the guest where it runs, and a new guest off this stack's others, whenever that still fits.
  let found: ReturnType<typeof search> | undefined;
  for (const blocked of reasons.length ? [] : planStickyPasses(t, ix, spec, check.blocked)) {
    const f = search(affinity.must, { ...check, blocked });
    if (f.chosen) {
      found = f;
      break;
    }
  }
  found ??= search(affinity.must);
  const notes = [...affinity.notes];
  if (!found.chosen && affinity.must.length > 0 && spec.deviceAffinity === "preferred") {
    // "preferred" is not a constraint: when nothing fits either way, the reasons are those without it.
    const anywhere = search([]);
    if (anywhere.chosen) notes.push(`deviceAffinity "preferred": no plan with a cell on ${nodesOf(affinity.must)} (${affinity.text}) fits, so the guest is placed on ${nodesOf(anywhere.chosen.nodes)}; device DMA and interrupts cross nodes`);
    found = anywhere;
  }
  if (found.chosen) {
    if (reasons.length > 0) return { ok: false, name: spec.name, reasons };
    const plan = buildPlan(spec, check, found.chosen, found.fits, found.k, memUnits, pageMiB);
    return notes.length ? { ok: true, plan, notes } : { ok: true, plan };
  }
  const failed = found.failed;
  if (affinity.must.length > 0 && spec.deviceAffinity === "required") {
    reasons.push(`deviceAffinity "required": the guest needs a cell on ${nodesOf(affinity.must)} (${affinity.text}); no split of it that includes ${affinity.must.length === 1 ? "that node" : "those nodes"} fits`);
  }
  // Messages are built only when nothing fits (callers trying many hosts fail often).
  const fitProblems = failed.flatMap(({ k, fits }) => fitReasons(spec, ix.smt, fits, k, options, usage, check.emulatorOnEveryNode && wantsEmulatorCore(spec)));
  if (cells === "auto" && fitProblems.length > 0 && spec.numaMode === "restrictive" && check.allowed.length > 1) fitProblems.push(`numaMode "restrictive" keeps a guest within one NUMA node: ${RESTRICTIVE_ONE_NODE}; use "strict" for a guest that spans nodes`);
  else if (cells === "auto" && fitProblems.length > 0) fitProblems.push(...skippedSplitReasons(spec, check, unit, memUnits, pageMiB));
  if (fitProblems.length > 0 && spec.housekeepingCpus === "auto" && t.isolated.length > 0) fitProblems.push(isolationNote(t, check));
  if (fitProblems.length > 0 && check.emulatorSiblings.length > 0) {
    const n = check.emulatorSiblings.length;
    fitProblems.push(`emulatorCpus ${formatCpuList(spec.emulatorCpus ?? [])}: ${n === 1 ? "CPU" : "CPUs"} ${formatCpuList(check.emulatorSiblings)} on the same ${n === 1 ? "core gets" : "cores get"} none of this guest's vCPUs (the emulator never shares a vCPU's core)`);
  }
  return { ok: false, name: spec.name, reasons: [...reasons, ...fitProblems] };
}

const nodesOf = (ids: readonly number[]) => (ids.length === 1 ? `node${ids[0]}` : `nodes ${formatCpuList(ids)}`);

/** The nodes devices pull the guest to (none for "none" or an unknown node), with what to say about them. */
function deviceAffinityOf(spec: PlacementSpec, allowed: readonly number[]): { must: number[]; text: string; notes: string[] } {
  const notes: string[] = [];
  if (spec.deviceAffinity === "none" || spec.deviceNodes.length === 0) return { must: [], text: "", notes };
  const unknown = spec.deviceNodes.filter((d) => d.node === null).map((d) => d.device);
  if (unknown.length) notes.push(`deviceAffinity: the NUMA node of ${unknown.join(", ")} is unknown (numa_node -1), so ${unknown.length === 1 ? "it does" : "they do"} not pull the guest`);
  const known = spec.deviceNodes.filter((d) => d.node !== null) as { device: string; node: number }[];
  const byNode = new Map<number, string[]>();
  for (const d of known) byNode.set(d.node, [...(byNode.get(d.node) ?? []), d.device]);
  const must = [...byNode.keys()].sort((a, b) => a - b);
  const text = must.map((n) => `${byNode.get(n)!.join(", ")} on node${n}`).join("; ");
  // A device on a node the guest may not use is the user's own contradiction: said, and that node left out.
  const outside = must.filter((n) => !allowed.includes(n));
  if (outside.length) notes.push(`deviceAffinity: ${outside.map((n) => `${byNode.get(n)!.join(", ")} on node${n}`).join("; ")} outside the guest's nodes ${formatCpuList(allowed)}, so ${outside.length === 1 ? "that node does" : "those nodes do"} not pull the guest`);
  const inside = must.filter((n) => allowed.includes(n));
  return { must: inside, text: inside.map((n) => `${byNode.get(n)!.join(", ")} on node${n}`).join("; "), notes };
}

/** emulatorPolicy "isolate" without explicit CPUs: the planner picks a whole core for the emulator. */
const wantsEmulatorCore = (spec: PlacementSpec) => spec.emulatorPolicy === "isolate" && spec.emulatorCpus === null;

/** Why guests see only some CPUs of a host that isolates CPUs. */
function isolationNote(t: HostTopology, check: StaticCheck): string {
  const hk = [...check.housekeeping].sort((a, b) => a - b);
  return `housekeepingCpus "auto": ${hostLabel(t)} isolates CPUs ${formatCpuList(t.isolated)}, so guests get only those; CPUs ${formatCpuList(hk)} stay for housekeeping (give housekeepingCpus to change that)`;
}

const range = (a: number, b: number) => Array.from({ length: Math.max(0, b - a + 1) }, (_, i) => a + i);

function evalNode(ix: TopologyIndex, check: StaticCheck, spec: PlacementSpec, usage: HostUsage, options: PlacementOptions, node: number, k: number, memUnits: number, pageMiB: number, nodeMemory: boolean): NodeFit {
  const cores = ix.coresByNode.get(node) ?? [];
  const wantEmulator = wantsEmulatorCore(spec);
  const pick = pickCell(cores, check.blocked, spec.threadPolicy, spec.vcpus / k, ix.smt, wantEmulator);
  // A node must hold the largest cell (cells differ by at most one page when memory does not split evenly).
  const cellMiB = Math.ceil(memUnits / k) * pageMiB;
  const room = nodeRoom(ix.nodeById.get(node)!, usage, check.sizeKiB, options.hugepagePools);
  const memOk = check.sizeKiB !== null || !nodeMemory || cellMiB <= room.normalMiB;
  const pagesOk = check.sizeKiB === null || !check.pagesCheckable || cellMiB / pageMiB <= room.pages;
  return {
    node,
    emuNodeOk: !check.emulatorOnEveryNode || !spec.emulatorCpus || check.emulatorNodes.has(node),
    free: freeCpus(cores, check.blocked),
    cores,
    blocked: check.blocked,
    pick,
    cpuOk: pick !== null,
    emuOk: !wantEmulator || (pick?.emulator ?? null) !== null,
    memOk,
    pagesOk,
    room,
    cellMiB,
  };
}

/**
 * Node ids chosen (ascending) plus the node that hosts a dedicated emulator core; null when k nodes do not fit.
 * Every node in `must` (the devices' nodes) is in the set; with `emulatorEverywhere`, every node has a core for the emulator.
 */
function chooseNodes(ix: TopologyIndex, fits: NodeFit[], k: number, must: readonly number[], emulatorEverywhere: boolean): { nodes: number[]; emulatorNode: number } | null {
  const ok = fits.filter((f) => f.cpuOk && f.memOk && f.pagesOk && f.emuNodeOk && (!emulatorEverywhere || f.emuOk));
  if (ok.length < k || must.length > k || must.some((n) => !ok.some((f) => f.node === n))) return null;
  const seeds = ok.filter((f) => f.emuOk);
  if (seeds.length === 0) return null;
  if (k === 1) {
    const best = seeds.filter((f) => must.length === 0 || f.node === must[0]).sort((a, b) => a.free - b.free || a.node - b.node)[0];
    return best ? { nodes: [best.node], emulatorNode: best.node } : null;
  }
  // Grow a set around each seed (the devices' nodes first, then the nearest nodes); keep the tightest set.
  let best: { nodes: number[]; emulatorNode: number; key: number[] } | null = null;
  for (const seed of seeds) {
    const base = [seed, ...ok.filter((f) => f !== seed && must.includes(f.node))];
    if (base.length > k) continue;
    const others = ok
      .filter((f) => !base.includes(f))
      .sort((a, b) => nodeDistance(ix, seed.node, a.node) - nodeDistance(ix, seed.node, b.node) || a.free - b.free || a.node - b.node)
      .slice(0, k - base.length);
    const set = [...base, ...others];
    const nodes = set.map((f) => f.node).sort((a, b) => a - b);
    let far = 0;
    for (const a of nodes) for (const b of nodes) far = Math.max(far, nodeDistance(ix, a, b));
    const key = [far, set.reduce((s, f) => s + f.free, 0), ...nodes, seed.node];
    if (!best || compareKeys(key, best.key) < 0) best = { nodes, emulatorNode: seed.node, key };
  }
  return best && { nodes: best.nodes, emulatorNode: best.emulatorNode };
}

function compareKeys(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function buildPlan(spec: PlacementSpec, check: StaticCheck, chosen: { nodes: number[]; emulatorNode: number }, fits: NodeFit[], k: number, memUnits: number, pageMiB: number): PlacementPlan {
  const picks = new Map<number, CellPick>(fits.map((f) => [f.node, f.pick!]));
  const cells: GuestCellPlan[] = [];
  const vcpuPins: number[] = [];
  const idle: number[] = [];
  const widths = new Set<number>();
  chosen.nodes.forEach((node, i) => {
    const pick = picks.get(node)!;
    const first = vcpuPins.length;
    for (const g of pick.groups) {
      vcpuPins.push(...g);
      widths.add(g.length);
    }
    idle.push(...pick.idle);
    const units = Math.floor(memUnits / k) + (i < memUnits % k ? 1 : 0);
    cells.push({ id: i, hostNode: node, vcpus: range(first, vcpuPins.length - 1), memoryMiB: units * pageMiB });
  });
  // Guest threads mirror host siblings only when every core carries the same number of vCPUs.
  const threads = widths.size === 1 ? [...widths][0] : 1;
  // libvirt before 9.3 with hugepages needs the emulator on every memory node: a core on each (see emulatorOnEveryNode).
  const emulatorNodes = check.emulatorOnEveryNode ? chosen.nodes : [chosen.emulatorNode];
  const dedicated = spec.emulatorCpus ? spec.emulatorCpus.filter((c) => !check.housekeeping.has(c)) : spec.emulatorPolicy === "isolate" ? emulatorNodes.flatMap((n) => picks.get(n)!.emulator!) : [];
  const emulatorCpus = spec.emulatorCpus ?? (spec.emulatorPolicy === "isolate" ? dedicated : vcpuPins);
  const sorted = (a: number[]) => [...new Set(a)].sort((x, y) => x - y);
  return {
    name: spec.name,
    vcpuPins,
    emulatorCpus: sorted(emulatorCpus),
    iothreadPins: range(1, spec.iothreads).map((iothread) => ({ iothread, cpus: sorted(emulatorCpus) })),
    numaMode: spec.numaMode,
    nodeset: [...chosen.nodes],
    cells,
    topology: { sockets: k, cores: spec.vcpus / k / threads, threads },
    memoryMiB: spec.memoryMiB,
    hugepageSizeKiB: check.sizeKiB,
    hugepages: check.sizeKiB === null ? [] : cells.map((c) => ({ node: c.hostNode, sizeKiB: check.sizeKiB!, pages: c.memoryMiB / pageMiB })),
    reservedCpus: sorted([...vcpuPins, ...idle, ...dedicated]),
    idleSiblings: sorted(idle),
  };
}
