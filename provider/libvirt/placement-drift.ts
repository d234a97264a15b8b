/**
 * Measured placement against the domain XML's wishes: one stable, human line
 * per mismatch, so a guest that drifted from its plan shows up like any other
 * drifted setting. Pure.
 */
import { formatCpuList } from "../host/sysfs-parse";
import type { ObservedPlacement } from "./placement-observed";
import type { MemoryBackingPart, NumaMemoryMode, NumatunePart, OwnedParts } from "./types";
import { cpusetEquals, normalizeCpuset, parseLibvirtCpuset, sizeInBytes } from "./values";

/**
 * Guest RAM amounts below this (MiB, per host node, or per page size) are not
 * drift: QEMU and the firmware touch a little memory before libvirt's cpuset
 * cgroup and memory policy apply, and a guest-RAM guess (anonymous mappings)
 * may catch a small non-RAM mapping. 2 MiB is also one 2 MiB huge page.
 */
export const MEMORY_TOLERANCE_MIB = 2;

const fmt = (n: number) => String(Math.round(n * 100) / 100);

/** What a thread's affinity should be: an explicit pin, or libvirt's fallback `<vcpu cpuset>`. */
type Wanted = { cpuset: string; how: "pinned to" | "vcpu cpuset" } | null;

/**
 * libvirt gives vCPUs, iothreads and the emulator without a pin of their own
 * the `<vcpu cpuset>` mask (unless placement is auto: numad decides). The
 * fallback is only assumed when the pin list is owned (desired), so that pins
 * owned by someone else are never reported as drift.
 */
function wanted(pin: string | undefined, listOwned: boolean, desired: Partial<OwnedParts>): Wanted {
  if (pin !== undefined) return { cpuset: pin, how: "pinned to" };
  const v = desired.vcpu;
  if (!listOwned || !v || typeof v.cpuset !== "string" || v.placement === "auto") return null;
  return { cpuset: v.cpuset, how: "vcpu cpuset" };
}

function cpuLine(part: string, allowed: string, w: Wanted, thread: boolean): string[] {
  if (!w || cpusetEquals(allowed, w.cpuset)) return [];
  return [`${part}: ${thread ? "thread " : ""}allowed on CPUs ${allowed}, ${w.how} ${normalizeCpuset(w.cpuset)}`];
}

/** Thread affinities against cputune pins (cpuset equality, not spelling); threads not running are skipped. */
export function diffCpuPlacement(desired: Partial<OwnedParts>, observed: ObservedPlacement): string[] {
  const ct = desired.cputune;
  const out: string[] = [];
  for (const v of observed.vcpus) {
    const pin = ct?.vcpupin?.find((p) => p.vcpu === v.vcpu)?.cpuset;
    out.push(...cpuLine(`placement.vcpu[${v.vcpu}]`, v.allowedCpus, wanted(pin, ct === null || ct?.vcpupin !== undefined, desired), true));
  }
  if (observed.emulator.allowedCpus !== "") {
    const ep = ct?.emulatorpin;
    const owned = ct === null || ep !== undefined;
    out.push(...cpuLine("placement.emulator", observed.emulator.allowedCpus, wanted(ep?.cpuset, owned, desired), false));
  }
  for (const io of observed.iothreads) {
    const pin = ct?.iothreadpin?.find((p) => p.iothread === io.iothread)?.cpuset;
    out.push(...cpuLine(`placement.iothread[${io.iothread}]`, io.allowedCpus, wanted(pin, ct === null || ct?.iothreadpin !== undefined, desired), true));
  }
  return out;
}

/**
 * The host nodes guest memory may be on, and how to name them: the union of
 * `<memory nodeset>` and the `<memnode>` nodesets (per guest cell; only the
 * total is checked, cells are not matched to mappings). None when nothing is
 * bound: no nodeset, placement auto (numad), or any "preferred" element
 * (preferred memory may legitimately spill to other nodes).
 */
export function allowedMemoryNodes(n: NumatunePart | null | undefined): { nodes: number[]; label: string } | null {
  if (!n) return null;
  const mem = n.memory;
  const elems: { mode: NumaMemoryMode; nodeset: string }[] = [];
  if (mem && mem.placement !== "auto" && typeof mem.nodeset === "string") elems.push({ mode: mem.mode ?? "strict", nodeset: mem.nodeset });
  const memnodes = n.memnode ?? [];
  elems.push(...memnodes);
  if (elems.length === 0 || elems.some((e) => e.mode === "preferred")) return null;
  let nodes: number[];
  try {
    nodes = [...new Set(elems.flatMap((e) => parseLibvirtCpuset(e.nodeset)))].sort((a, b) => a - b);
  } catch {
    return null; // validate.ts reports bad nodesets; drift has nothing to compare with
  }
  const label = memnodes.length === 0 ? `${elems[0].mode} nodeset` : elems.length === memnodes.length ? "memnode nodesets" : "numatune nodesets";
  return { nodes, label };
}

/** Guest memory on host nodes outside the bound nodes (strict, restrictive, interleave). */
export function diffMemoryNodes(numatune: NumatunePart | null | undefined, observed: ObservedPlacement): string[] {
  const allowed = allowedMemoryNodes(numatune);
  if (!allowed) return [];
  const perNode = new Map<number, number>();
  for (const g of observed.guestMemory) perNode.set(g.node, (perNode.get(g.node) ?? 0) + g.mib);
  return [...perNode]
    .filter(([node, amount]) => !allowed.nodes.includes(node) && amount >= MEMORY_TOLERANCE_MIB)
    .sort((a, b) => a[0] - b[0])
    .map(([node, amount]) => `placement.memory: ${fmt(amount)} MiB on node${node}, outside ${allowed.label} ${formatCpuList(allowed.nodes)}`);
}

/**
 * Page sizes backing guest RAM (mapped size, resident or not) against
 * `<memoryBacking><hugepages>`: `[]` accepts any hugetlb size, a list its sizes
 * (their guest-cell nodesets are not matched), `null` wants no hugetlb at all.
 */
export function diffHugepages(
  hugepages: MemoryBackingPart["hugepages"], observed: ObservedPlacement, memoryMiB?: number,
): string[] {
  if (hugepages === undefined) return [];
  const total = memoryMiB ?? observed.guestRam.reduce((s, r) => s + r.mib, 0);
  let sizes: number[] = [];
  try {
    sizes = (hugepages ?? []).map((p) => Number(sizeInBytes(p.size, p.unit ?? "KiB") / 1024n));
  } catch {
    return []; // an invalid unit is validate.ts's to report
  }
  const want = hugepages === null ? "no huge pages" : sizes.length === 0 ? "huge pages" : `${[...new Set(sizes)].join(" or ")} KiB pages`;
  const bad = (r: ObservedPlacement["guestRam"][number]) =>
    hugepages === null ? r.hugetlb : !r.hugetlb || (sizes.length > 0 && !sizes.includes(r.pageSizeKiB));
  return observed.guestRam
    .filter((r) => bad(r) && r.mib >= MEMORY_TOLERANCE_MIB)
    .map((r) => `placement.hugepages: ${fmt(r.mib)} MiB of ${fmt(total)} MiB guest memory is in ${r.pageSizeKiB} KiB pages, ${want} wanted`);
}

/**
 * Every placement mismatch between the desired owned parts and the measured
 * placement, vCPUs, emulator and iothreads first, then memory nodes, then page
 * sizes. `memoryMiB` (the guest's `<memory>`) is the total named in page-size lines.
 */
export function diffPlacement(desired: Partial<OwnedParts>, observed: ObservedPlacement, opts: { memoryMiB?: number } = {}): string[] {
  return [
    ...diffCpuPlacement(desired, observed),
    ...diffMemoryNodes(desired.numatune, observed),
    ...diffHugepages(desired.memoryBacking?.hugepages, observed, opts.memoryMiB),
  ];
}

/** A Pulumi-output-sized view: affinities and MiB per node; no tids or last CPUs (they change on every read). */
export interface ObservedSummary {
  /** vCPU number -> allowed CPUs. */
  vcpus: Record<string, string>;
  /** iothread id -> allowed CPUs. */
  iothreads: Record<string, string>;
  emulatorCpus: string;
  emulatorMems?: string;
  /** "node0" -> resident MiB of the whole process. */
  memoryMiB: Record<string, number>;
  /** "node0" -> resident MiB of guest RAM, and the page sizes backing it ("4 KiB", "2048 KiB hugetlb" -> mapped MiB). */
  guestMemoryMiB: Record<string, number>;
  guestPages: Record<string, number>;
  truncated: boolean;
}

const byNode = (rows: { node: number; mib: number }[]) => {
  const out: Record<string, number> = {};
  for (const r of rows) out[`node${r.node}`] = Math.round(((out[`node${r.node}`] ?? 0) + r.mib) * 100) / 100;
  return out;
};

/** The summary of `observed` for outputs (plain JSON data). */
export function renderObservedSummary(observed: ObservedPlacement): ObservedSummary {
  return {
    vcpus: Object.fromEntries(observed.vcpus.map((v) => [String(v.vcpu), v.allowedCpus])),
    iothreads: Object.fromEntries(observed.iothreads.map((t) => [String(t.iothread), t.allowedCpus])),
    emulatorCpus: observed.emulator.allowedCpus,
    ...(observed.emulator.cgroupMems !== undefined ? { emulatorMems: observed.emulator.cgroupMems } : {}),
    memoryMiB: byNode(observed.memory),
    guestMemoryMiB: byNode(observed.guestMemory),
    guestPages: Object.fromEntries(observed.guestRam.map((r) => [`${r.pageSizeKiB} KiB${r.hugetlb ? " hugetlb" : ""}`, r.mib])),
    truncated: observed.truncated,
  };
}
