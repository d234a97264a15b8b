/**
 * Why a guest cannot be placed: checks that do not depend on the node choice
 * (names, CPUs and nodes that do not exist, page sizes) and, per attempted split,
 * which nodes fall short on what.
 */
import { formatCpuList } from "../host/sysfs-parse";
import { policyCapacity, type Blocked, type CellPick } from "./cpu-select";
import type { PlacementOptions, PlacementPlan } from "./placement-types";
import { hugepageSizeKiB, type PlacementSpec } from "./request";
import { hostLabel, preallocNeedsEmulatorOnEveryNode, sizeLabel, type Core, type HostTopology, type TopologyIndex } from "./topology";
import { nodeRoom, type HostUsage, type NodeRoom } from "./usage";

/** Everything decided before trying nodes. */
export interface StaticCheck {
  reasons: string[];
  /** Existing nodes the guest may use, ascending. */
  allowed: number[];
  /** CPUs no vCPU of this guest may take. */
  blocked: Blocked;
  housekeeping: Set<number>;
  sizeKiB: number | null;
  /** False when the page size itself is unusable (already a reason), so per-node page counts are not reported too. */
  pagesCheckable: boolean;
  /** Thread siblings of explicit emulatorCpus that would otherwise be free: kept off this guest's vCPUs. */
  emulatorSiblings: number[];
  /** Hugepages on a libvirt before 9.3: every memory node of the guest needs an emulator CPU (preallocNeedsEmulatorOnEveryNode). */
  emulatorOnEveryNode: boolean;
  /** Nodes of the explicit emulatorCpus. */
  emulatorNodes: Set<number>;
}

/** How one node does for one cell. */
export interface NodeFit {
  node: number;
  free: number;
  cores: readonly Core[];
  blocked: Blocked;
  pick: CellPick | null;
  cpuOk: boolean;
  emuOk: boolean;
  memOk: boolean;
  pagesOk: boolean;
  /** An explicit emulator CPU is on this node, where libvirt needs one (StaticCheck.emulatorOnEveryNode). */
  emuNodeOk: boolean;
  room: NodeRoom;
  cellMiB: number;
}

const nodesText = (ids: readonly number[]) => `${ids.length === 1 ? "node" : "nodes"} ${formatCpuList(ids)}`;
const cpus = (ids: readonly number[]) => `${ids.length === 1 ? "CPU" : "CPUs"} ${formatCpuList(ids)}`;

/**
 * The CPUs no guest may take. "auto": where the host isolates CPUs (isolcpus=, or its TunedHost's
 * isolateCpus), every online CPU outside that set, so guests land only on isolated CPUs; otherwise
 * the lowest online CPU and its siblings. "non-isolated": every online CPU outside isolcpus=.
 */
export function housekeepingOf(t: HostTopology, ix: TopologyIndex, hk: PlacementSpec["housekeepingCpus"]): number[] {
  const isolated = new Set(t.isolated);
  const nonIsolated = () => t.cpus.filter((c) => c.online && !isolated.has(c.id)).map((c) => c.id);
  if (hk === "auto") return isolated.size ? nonIsolated() : [...ix.firstCore];
  return hk === "non-isolated" ? nonIsolated() : [...hk];
}

/** Checks that do not depend on the nodes chosen, plus the CPUs this guest's vCPUs must avoid. */
export function staticReasons(t: HostTopology, ix: TopologyIndex, spec: PlacementSpec, placed: readonly PlacementPlan[], usage: HostUsage, options: PlacementOptions): StaticCheck {
  const reasons: string[] = [];
  const host = hostLabel(t);
  const allCpus = () => cpus(t.cpus.map((c) => c.id)); // only built for a message
  if (placed.some((p) => p.name === spec.name)) reasons.push(`guest ${spec.name} is already placed on ${host}`);

  const blocked: Blocked = new Uint8Array(ix.cpuSlots);
  for (const c of usage.owners.keys()) if (c < blocked.length) blocked[c] = 1;
  const housekeeping = new Set(housekeepingOf(t, ix, spec.housekeepingCpus));
  const missingHk = [...housekeeping].filter((c) => !ix.cpuById.has(c));
  if (missingHk.length) reasons.push(`housekeepingCpus: ${cpus(missingHk)} ${missingHk.length === 1 ? "does" : "do"} not exist on ${host} (${allCpus()})`);
  for (const c of housekeeping) if (c < blocked.length) blocked[c] = 1;

  const emulatorSiblings: number[] = [];
  if (spec.emulatorCpus) {
    const missing = spec.emulatorCpus.filter((c) => !ix.cpuById.has(c));
    const offline = spec.emulatorCpus.filter((c) => ix.cpuById.get(c)?.online === false);
    if (missing.length) reasons.push(`emulatorCpus: ${cpus(missing)} ${missing.length === 1 ? "does" : "do"} not exist on ${host} (${allCpus()})`);
    if (offline.length) reasons.push(`emulatorCpus: ${cpus(offline)} ${offline.length === 1 ? "is" : "are"} offline on ${host}`);
    const byOwner = new Map<string, number[]>();
    for (const c of spec.emulatorCpus) {
      const o = usage.owners.get(c);
      // Another domain's emulator or iothreads may share CPUs with this guest's emulator (housekeeping CPUs).
      if (!o || o.foreign?.helper) continue;
      const key = o.foreign ? `held by domain ${o.guest}, not in this program` : o.idle ? `reserved (kept idle) for guest ${o.guest}` : `pinned to guest ${o.guest}`;
      byOwner.set(key, [...(byOwner.get(key) ?? []), c]);
    }
    for (const [owner, list] of byOwner) reasons.push(`emulatorCpus: ${cpus(list)} ${list.length === 1 ? "is" : "are"} already ${owner}`);
    for (const c of spec.emulatorCpus) if (c < blocked.length) blocked[c] = 1;
    // The emulator never shares a core with this guest's vCPUs: its CPUs' thread siblings get none of them.
    for (const c of spec.emulatorCpus) {
      for (const sib of ix.cpuById.get(c)?.siblings ?? []) {
        if (sib < blocked.length && blocked[sib] === 0) emulatorSiblings.push(sib);
        if (sib < blocked.length) blocked[sib] = 1;
      }
    }
  }

  const sizeKiB = hugepageSizeKiB(spec.hugepages);
  let pagesCheckable = true;
  if (sizeKiB !== null) {
    if (!t.hugepageSizesKiB.includes(sizeKiB)) {
      const offered = t.hugepageSizesKiB.map(sizeLabel).join(", ") || "none";
      reasons.push(`hugepages "${spec.hugepages}": ${host} offers no ${spec.hugepages} hugepages (offers: ${offered})`);
      pagesCheckable = false;
    }
    if (sizeKiB === 1048576 && !t.pdpe1gb) {
      reasons.push(`hugepages "1G": the CPUs of ${host} lack the pdpe1gb flag (1 GiB pages)`);
      pagesCheckable = false;
    }
  }

  const existing = t.nodes.map((n) => n.id);
  const missingNodes = (spec.nodes ?? []).filter((n) => !ix.nodeById.has(n));
  if (missingNodes.length) reasons.push(`nodes: ${nodesText(missingNodes)} ${missingNodes.length === 1 ? "does" : "do"} not exist on ${host} (${nodesText(existing)})`);
  const allowed = spec.nodes ? spec.nodes.filter((n) => ix.nodeById.has(n)) : existing;

  const unit = spec.threadPolicy === "require" ? ix.smt : 1;
  if (typeof spec.guestNumaCells === "number") {
    const n = spec.guestNumaCells;
    if (allowed.length < n) reasons.push(`guestNumaCells: ${n} cells need ${n} host NUMA nodes; ${allowed.length ? `only ${nodesText(allowed)} ${allowed.length === 1 ? "is" : "are"}` : "none is"} usable`);
    if ((spec.vcpus / n) % unit !== 0) reasons.push(`threadPolicy "require": ${spec.vcpus / n} vCPUs per cell do not fill whole cores of ${unit} threads`);
  } else if (spec.vcpus % unit !== 0) {
    reasons.push(`threadPolicy "require": ${spec.vcpus} vCPUs do not fill whole cores of ${unit} threads`);
  }

  if (sizeKiB === null && spec.numaMode === "preferred" && allowed.length > 0) {
    // "preferred" lets the kernel fall back to other nodes, so only the total must fit.
    const avail = allowed.reduce((s, n) => s + Math.max(0, nodeRoom(ix.nodeById.get(n)!, usage, null, options.hugepagePools).normalMiB), 0);
    if (spec.memoryMiB > avail) reasons.push(`needs ${spec.memoryMiB} MiB of memory; ${nodesText(allowed)} ${allowed.length === 1 ? "has" : "have"} ${avail} MiB available (numaMode "preferred")`);
  }
  const emulatorNodes = new Set((spec.emulatorCpus ?? []).map((c) => ix.cpuById.get(c)?.node).filter((n): n is number => n !== null && n !== undefined));
  const emulatorOnEveryNode = sizeKiB !== null && preallocNeedsEmulatorOnEveryNode(t);
  return { reasons, allowed, blocked, housekeeping, sizeKiB, pagesCheckable, emulatorSiblings: emulatorSiblings.sort((a, b) => a - b), emulatorOnEveryNode, emulatorNodes };
}

/** Every shortfall of one attempted split into k cells. */
export function fitReasons(spec: PlacementSpec, smt: number, fits: readonly NodeFit[], k: number, options: PlacementOptions, usage?: HostUsage, emulatorEverywhere = false): string[] {
  const out: string[] = [];
  const where = k === 1 ? "within one NUMA node" : `on each of ${k} NUMA nodes`;
  const n = spec.vcpus / k;
  // Nodes that say the same are grouped: "nodes 0-7 have 0 of 0 free".
  const list = (fs: readonly NodeFit[], say: (f: NodeFit) => string) => {
    const groups = new Map<string, number[]>();
    for (const f of fs) groups.set(say(f), [...(groups.get(say(f)) ?? []), f.node]);
    return [...groups].map(([text, ids]) => (ids.length === 1 ? `node${ids[0]} has ${text}` : `nodes ${formatCpuList(ids)} have ${text}`)).join(", ");
  };
  const threads = `${smt} thread${smt === 1 ? "" : "s"}`;
  const cpuShort = fits.filter((f) => !f.cpuOk);
  if (cpuShort.length) {
    const cap = (f: NodeFit) => policyCapacity(f.cores, f.blocked, spec.threadPolicy, smt);
    const cores = (c: number) => `${c} whole free core${c === 1 ? "" : "s"}`;
    const held = (f: NodeFit) => (usage ? foreignHolders(f, usage) : "");
    if (spec.threadPolicy === "prefer") out.push(`needs ${n} CPU${n === 1 ? "" : "s"} ${where}; ${list(cpuShort, (f) => `${f.free} free${held(f)}`)}`);
    else if (spec.threadPolicy === "require") out.push(`needs ${cores(n / smt)} of ${threads} (threadPolicy "require") ${where}; ${list(cpuShort, (f) => `${cap(f)}${held(f)}`)}`);
    else out.push(`needs ${cores(n)} (threadPolicy "isolate") ${where}; ${list(cpuShort, (f) => `${cap(f)}${held(f)}`)}`);
  }
  const usable = fits.filter((f) => f.cpuOk && f.memOk && f.pagesOk);
  const noEmu = fits.filter((f) => f.cpuOk && !f.emuOk);
  if (emulatorEverywhere && k > 1 && noEmu.length) {
    out.push(`emulatorPolicy "isolate" with ${spec.hugepages} hugepages needs a whole free core besides the vCPUs on each of the ${k} NUMA nodes (libvirt before 9.3 preallocates memory from the emulator's CPUs); none left on ${nodesText(noEmu.map((f) => f.node))}`);
  } else if (!usable.some((f) => f.emuOk) && noEmu.length) {
    out.push(`emulatorPolicy "isolate" needs a whole free core besides the vCPUs on ${k === 1 ? "the same NUMA node" : "one of the NUMA nodes"}; none left on ${nodesText(noEmu.map((f) => f.node))}`);
  }
  const noEmuNode = fits.filter((f) => !f.emuNodeOk);
  if (noEmuNode.length && spec.emulatorCpus) {
    out.push(
      `emulatorCpus ${formatCpuList(spec.emulatorCpus)} with ${spec.hugepages} hugepages: libvirt before 9.3 cannot start a guest with memory on a node none of its emulator CPUs is on ` +
        `(QEMU: "Setting CPU affinity failed"), so ${nodesText(noEmuNode.map((f) => f.node))} ${noEmuNode.length === 1 ? "is" : "are"} left out; add an emulator CPU there, or upgrade libvirt`,
    );
  }
  const memShort = fits.filter((f) => !f.memOk);
  if (memShort.length) {
    out.push(`needs ${fits[0].cellMiB} MiB of memory ${where} (numaMode "${spec.numaMode}"); ${list(memShort, (f) => `${Math.max(0, f.room.normalMiB)} MiB available`)}`);
  }
  const pageShort = fits.filter((f) => !f.pagesOk);
  if (pageShort.length) {
    const grow = options.hugepagePools === "grow";
    const say = (f: NodeFit) => (grow ? `room for ${f.room.pages}` : `${f.room.pages} of ${f.room.poolPages} free`);
    const sizeKiB = hugepageSizeKiB(spec.hugepages)!;
    const note = options.hugepagePoolNotes?.[sizeKiB];
    out.push(`needs ${fits[0].cellMiB / (sizeKiB / 1024)} free ${spec.hugepages} hugepages ${where}; ${list(pageShort, say)}${note ? `; ${note}` : ""}`);
  }
  return out;
}

/** " (CPUs 2-3 held by domain web7, not in this program)" for a node's CPUs other programs' domains hold; "" when none. */
function foreignHolders(f: NodeFit, usage: HostUsage): string {
  const byDomain = new Map<string, number[]>();
  for (const core of f.cores) {
    for (const c of core.cpus) {
      const o = usage.owners.get(c);
      if (o?.foreign) byDomain.set(o.guest, [...(byDomain.get(o.guest) ?? []), c]);
    }
  }
  if (byDomain.size === 0) return "";
  const parts = [...byDomain].map(([name, ids]) => `${cpus(ids.sort((a, b) => a - b))} held by domain ${name}`);
  return ` (${parts.join(", ")}, not in this program)`;
}

/** With guestNumaCells "auto": the node counts that were not tried because the guest does not split evenly over them. */
export function skippedSplitReasons(spec: PlacementSpec, check: StaticCheck, unit: number, memUnits: number, pageMiB: number): string[] {
  const ks = Array.from({ length: Math.max(0, check.allowed.length - 1) }, (_, i) => i + 2);
  const join = (a: number[]) => (a.length === 1 ? `${a[0]}` : `${a.slice(0, -1).join(", ")} or ${a[a.length - 1]}`);
  const out: string[] = [];
  // A single vCPU obviously cannot be split; say nothing then.
  const byCpu = spec.vcpus < 2 ? [] : ks.filter((k) => spec.vcpus % k !== 0 || (spec.vcpus / k) % unit !== 0);
  if (byCpu.length) out.push(`${spec.vcpus} vCPUs cannot be split evenly${unit > 1 ? ` into whole cores of ${unit} threads` : ""} over ${join(byCpu)} NUMA nodes`);
  const byMem = spec.vcpus < 2 ? [] : ks.filter((k) => !byCpu.includes(k) && memUnits < k);
  if (byMem.length) out.push(`${spec.memoryMiB} MiB cannot be split into ${pageMiB} MiB pages over ${join(byMem)} NUMA nodes`);
  return out;
}
