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
import { parsePlacementRequest, type PlacementRequest, type PlacementSpec } from "./request";
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
  const ks = cells === "auto" ? range(1, check.allowed.length).filter(splittable) : check.allowed.length >= cells && (spec.vcpus / cells) % unit === 0 ? [cells] : [];

  // numaMode "preferred" with normal pages: for each split, nodes whose memory fits
  // come first, then any node (the kernel falls back); the last pass gives the reasons.
  const passes = spec.numaMode === "preferred" && check.sizeKiB === null ? [true, false] : [true];
  const failed: { k: number; fits: NodeFit[] }[] = [];
  for (const k of ks) {
    let fits: NodeFit[] = [];
    for (const nodeMemory of passes) {
      fits = check.allowed.map((node) => evalNode(ix, check, spec, usage, options, node, k, memUnits, pageMiB, nodeMemory));
      const chosen = chooseNodes(ix, fits, k);
      if (chosen) {
        if (reasons.length > 0) return { ok: false, name: spec.name, reasons };
        return { ok: true, plan: buildPlan(spec, check, chosen, fits, k, memUnits, pageMiB) };
      }
    }
    failed.push({ k, fits });
  }
  // Messages are built only when nothing fits (callers trying many hosts fail often).
  const fitProblems = failed.flatMap(({ k, fits }) => fitReasons(spec, ix.smt, fits, k, options, usage));
  if (cells === "auto" && fitProblems.length > 0) fitProblems.push(...skippedSplitReasons(spec, check, unit, memUnits, pageMiB));
  if (fitProblems.length > 0 && spec.housekeepingCpus === "auto" && t.isolated.length > 0) fitProblems.push(isolationNote(t, check));
  if (fitProblems.length > 0 && check.emulatorSiblings.length > 0) {
    const n = check.emulatorSiblings.length;
    fitProblems.push(`emulatorCpus ${formatCpuList(spec.emulatorCpus ?? [])}: ${n === 1 ? "CPU" : "CPUs"} ${formatCpuList(check.emulatorSiblings)} on the same ${n === 1 ? "core gets" : "cores get"} none of this guest's vCPUs (the emulator never shares a vCPU's core)`);
  }
  return { ok: false, name: spec.name, reasons: [...reasons, ...fitProblems] };
}

/** Why guests see only some CPUs of a host that isolates CPUs. */
function isolationNote(t: HostTopology, check: StaticCheck): string {
  const hk = [...check.housekeeping].sort((a, b) => a - b);
  return `housekeepingCpus "auto": ${hostLabel(t)} isolates CPUs ${formatCpuList(t.isolated)}, so guests get only those; CPUs ${formatCpuList(hk)} stay for housekeeping (give housekeepingCpus to change that)`;
}

const range = (a: number, b: number) => Array.from({ length: Math.max(0, b - a + 1) }, (_, i) => a + i);

function evalNode(ix: TopologyIndex, check: StaticCheck, spec: PlacementSpec, usage: HostUsage, options: PlacementOptions, node: number, k: number, memUnits: number, pageMiB: number, nodeMemory: boolean): NodeFit {
  const cores = ix.coresByNode.get(node) ?? [];
  const wantEmulator = spec.emulatorPolicy === "isolate" && spec.emulatorCpus === null;
  const pick = pickCell(cores, check.blocked, spec.threadPolicy, spec.vcpus / k, ix.smt, wantEmulator);
  // A node must hold the largest cell (cells differ by at most one page when memory does not split evenly).
  const cellMiB = Math.ceil(memUnits / k) * pageMiB;
  const room = nodeRoom(ix.nodeById.get(node)!, usage, check.sizeKiB, options.hugepagePools);
  const memOk = check.sizeKiB !== null || !nodeMemory || cellMiB <= room.normalMiB;
  const pagesOk = check.sizeKiB === null || !check.pagesCheckable || cellMiB / pageMiB <= room.pages;
  return {
    node,
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

/** Node ids chosen (ascending) plus the node that hosts a dedicated emulator core; null when k nodes do not fit. */
function chooseNodes(ix: TopologyIndex, fits: NodeFit[], k: number): { nodes: number[]; emulatorNode: number } | null {
  const ok = fits.filter((f) => f.cpuOk && f.memOk && f.pagesOk);
  const seeds = ok.filter((f) => f.emuOk);
  if (ok.length < k || seeds.length === 0) return null;
  if (k === 1) {
    const best = [...seeds].sort((a, b) => a.free - b.free || a.node - b.node)[0];
    return { nodes: [best.node], emulatorNode: best.node };
  }
  // Grow a set around each seed by nearest nodes; keep the tightest set.
  let best: { nodes: number[]; emulatorNode: number; key: number[] } | null = null;
  for (const seed of seeds) {
    const others = ok
      .filter((f) => f !== seed)
      .sort((a, b) => nodeDistance(ix, seed.node, a.node) - nodeDistance(ix, seed.node, b.node) || a.free - b.free || a.node - b.node)
      .slice(0, k - 1);
    const set = [seed, ...others];
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
  const dedicated = spec.emulatorCpus ? spec.emulatorCpus.filter((c) => !check.housekeeping.has(c)) : spec.emulatorPolicy === "isolate" ? picks.get(chosen.emulatorNode)!.emulator! : [];
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
