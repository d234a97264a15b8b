/**
 * What the rest of the domain demands of the owned parts: memory devices and
 * `<maxMemory>` (memory hotplug) need guest NUMA cells, `<iothreadids>` fix the
 * iothread ids, a static numatune needs a nodeset. `fitParts` resolves `cpu.numa: null` against the domain; the checks
 * name, before `virsh define`, what libvirt would refuse. Pure.
 */
import { attr, child, children, text, type DomainDocument } from "./dom";
import { readOwnedParts } from "./parts-read";
import type { CpuPart, HugePage, NumaCell, OwnedParts } from "./types";
import { parseDecimal, parseLibvirtCpuset, sizeInBytes } from "./values";

/** The parts of a domain kvmtune does not own but must respect. */
export interface DomainFacts {
  /** `<devices><memory model>` (dimm, nvdimm, virtio-mem, ...), with their target size in KiB and guest node (`<target><node>`; null: none given). */
  memoryDevices: { model: string; sizeKiB: number; node: number | null }[];
  /** `<maxMemory>` is set: memory hotplug, for which libvirt's qemu driver needs a guest NUMA cell even without memory devices. */
  maxMemory: boolean;
  /** `<iothreadids>` ids in document order; null when the domain has none (ids are then 1..count). */
  iothreadIds: number[] | null;
}

const kib = (value: string | undefined, unit: string | undefined): number => {
  const n = parseDecimal(value);
  try {
    return n === null ? 0 : Number(sizeInBytes(n, unit) / 1024n);
  } catch {
    return 0;
  }
};

export function readDomainFacts(doc: DomainDocument): DomainFacts {
  const devices = child(doc.domain, "devices");
  const memoryDevices = (devices ? children(devices, "memory") : []).map((m) => {
    const target = child(m, "target");
    const size = target && child(target, "size");
    const node = target && child(target, "node");
    return { model: attr(m, "model") ?? "memory", sizeKiB: size ? kib(text(size), attr(size, "unit")) : 0, node: node ? parseDecimal(text(node)) : null };
  });
  const ids = child(doc.domain, "iothreadids");
  const iothreadIds = ids ? children(ids, "iothread").map((t) => parseDecimal(attr(t, "id"))).filter((n): n is number => n !== null) : null;
  return { memoryDevices, maxMemory: child(doc.domain, "maxMemory") !== null, iothreadIds };
}

const HOTPLUG_NEEDS_CELL = "At least one numa node has to be configured when enabling memory hotplug";

/**
 * The least memory a cell that only anchors memory devices can have: QEMU refuses a
 * 0-size backend, libvirt rounds cells up to 1 MiB, and a hugepage backend takes
 * whole pages (`<hugepages/>` without a page size: the host's default, 2 MiB on x86).
 */
function leastCellKiB(id: number, pages: HugePage[] | null | undefined): number {
  if (!pages) return 1024;
  if (pages.length === 0) return 2048;
  const sizes = pages.filter((p) => !p.nodeset || safeCpus(p.nodeset).includes(id)).map((p) => kib(String(p.size), p.unit ?? "KiB"));
  return Math.max(1024, ...sizes);
}

/**
 * `cpu.numa: null` ("no guest NUMA topology") as the domain can take it: a domain
 * with memory devices or `<maxMemory>` (libvirt: "At least one numa node has to be
 * configured when enabling memory hotplug") or whose cells carry attributes kvmtune
 * does not own (discard, ...) keeps one cell 0 with every vCPU and the memory not on
 * devices; its other attributes stay. Memory devices on guest node n > 0 keep cells
 * 1..n too (see below). Iothread pins numbered 1..count (a placement plan's) go to the
 * domain's own `<iothreadids>` in order when it has that many. Other parts are returned as given.
 */
export function fitParts(given: Partial<OwnedParts>, doc: DomainDocument, facts = readDomainFacts(doc)): Partial<OwnedParts> {
  const desired = fitIothreadIds(given, facts);
  const cpu = desired.cpu;
  if (cpu === undefined || (cpu !== null && cpu.numa !== null)) return desired;
  const numa = child(doc.domain, "cpu") && child(child(doc.domain, "cpu")!, "numa");
  const cells = numa ? children(numa, "cell") : [];
  const owned = new Set(["id", "cpus", "memory", "unit", "memAccess"]);
  const unowned = cells.some((c) => Array.from({ length: c.attributes.length }, (_, i) => c.attributes.item(i)!.name).some((n) => !owned.has(n)));
  if (facts.memoryDevices.length === 0 && !facts.maxMemory && !unowned) return desired;
  const vcpuEl = child(doc.domain, "vcpu");
  const vcpus = desired.vcpu?.count ?? parseDecimal(vcpuEl ? text(vcpuEl) : undefined) ?? 1;
  const memEl = child(doc.domain, "memory");
  const total = desired.memory ? kib(String(desired.memory.value), desired.memory.unit ?? "KiB") : memEl ? kib(text(memEl), attr(memEl, "unit")) : 0;
  // With NUMA cells libvirt counts <memory> as the cells plus the memory devices.
  const onDevices = facts.memoryDevices.reduce((s, d) => s + d.sizeKiB, 0);
  // A device on guest node n needs cells 0..n (libvirt: "can't add memory backend for guest node '1' as the
  // guest has only '1' NUMA nodes configured"). Rather than refuse the plan, cells 1..n stay as mere homes for
  // the devices: no vCPUs and the least memory QEMU starts them with, so the guest still sees the plan's one
  // node (cell 0: every vCPU, all other memory) and the host placement (pins, numatune) is the plan's.
  const last = Math.max(0, ...facts.memoryDevices.map((d) => d.node ?? 0));
  const mb = desired.memoryBacking;
  const pages = mb === null ? null : mb?.hugepages !== undefined ? mb.hugepages : last > 0 ? readOwnedParts(doc).memoryBacking?.hugepages : null;
  const homes: NumaCell[] = Array.from({ length: last }, (_, i) => ({ id: i + 1, cpus: null, memory: leastCellKiB(i + 1, pages), unit: "KiB" }));
  const inHomes = homes.reduce((s, c) => s + c.memory, 0);
  const cell = { id: 0, cpus: vcpus > 1 ? `0-${vcpus - 1}` : "0", memory: Math.max(total - onDevices - inHomes, 0), unit: "KiB" };
  const base: CpuPart = cpu ?? { mode: null, match: null, check: null, topology: null };
  return { ...desired, cpu: { ...base, numa: [cell, ...homes] } };
}

/**
 * Pins on iothreads 1..n where the domain's `<iothreadids>` give n other ids (2 and 4, say): pin k goes to the
 * k-th id, since libvirt refuses an id the domain lacks ("Cannot find 'iothread' : 1"). Pins that already name
 * the domain's ids, or counts that differ, are left for fitProblems to judge.
 */
function fitIothreadIds(desired: Partial<OwnedParts>, facts: DomainFacts): Partial<OwnedParts> {
  const ids = facts.iothreadIds;
  const pins = desired.cputune?.iothreadpin;
  if (!ids || !pins || pins.length === 0 || !desired.cputune) return desired;
  const count = desired.iothreads === undefined ? ids.length : (desired.iothreads?.count ?? 0);
  const numbered = pins.every((p) => p.iothread >= 1 && p.iothread <= ids.length);
  if (count !== ids.length || !numbered || pins.every((p) => ids.includes(p.iothread))) return desired;
  return { ...desired, cputune: { ...desired.cputune, iothreadpin: pins.map((p) => ({ ...p, iothread: ids[p.iothread - 1] })) } };
}

/** What libvirt would refuse in the domain that applying `parts` gives (`result`), with `facts` of that domain. */
export function fitProblems(parts: Partial<OwnedParts>, result: OwnedParts, facts: DomainFacts, root = "parts"): string[] {
  const problems: string[] = [];
  const cells = result.cpu?.numa ?? [];
  const vcpus = result.vcpu?.count ?? 1;
  if (cells.length === 0 && facts.memoryDevices.length) {
    const models = [...new Set(facts.memoryDevices.map((d) => d.model))].join(", ");
    problems.push(`${root}.cpu.numa: the domain has memory devices (${models}) and libvirt needs a guest NUMA cell for them ("${HOTPLUG_NEEDS_CELL}"); keep at least one cell`);
  } else if (cells.length === 0 && facts.maxMemory) {
    problems.push(`${root}.cpu.numa: the domain has <maxMemory> (memory hotplug) and libvirt needs a guest NUMA cell for it ("${HOTPLUG_NEEDS_CELL}"); keep at least one cell`);
  } else if (cells.length > 0) {
    facts.memoryDevices.forEach((d, i) => {
      if (d.node !== null && d.node >= cells.length) {
        problems.push(`${root}.cpu.numa: devices.memory[${i}] (${d.model}) is on guest node ${d.node}, but the domain has ${cells.length} guest NUMA cell${cells.length === 1 ? "" : "s"}; keep cells 0-${d.node} (libvirt: "can't add memory backend for guest node '${d.node}' as the guest has only '${cells.length}' NUMA nodes configured")`);
      }
    });
  }
  for (const c of cells) {
    const over = c.cpus ? safeCpus(c.cpus).filter((v) => v >= vcpus) : [];
    if (over.length) problems.push(`${root}.cpu.numa[${c.id}]: vCPU ${over.join(", ")} ${over.length === 1 ? "is" : "are"} beyond the domain's ${vcpus} vCPU${vcpus === 1 ? "" : "s"} (libvirt: "Number of CPUs in <numa> exceeds the <vcpu> count")`);
  }
  const cellIds = new Set(cells.map((c) => c.id));
  for (const m of result.numatune?.memnode ?? []) {
    if (!cellIds.has(m.cellid)) problems.push(`${root}.numatune.memnode[${m.cellid}]: the domain has no guest NUMA cell ${m.cellid} (${cells.length ? `cells ${[...cellIds].join(", ")}` : "no cells"})`);
  }
  const mem = result.numatune?.memory;
  const placement = mem?.placement ?? (result.vcpu?.placement === "auto" ? "auto" : "static");
  if (mem && !mem.nodeset && placement === "static") {
    problems.push(`${root}.numatune.memory: mode '${mem.mode ?? "strict"}' without a nodeset needs placement 'auto' (libvirt: "nodeset for NUMA memory tuning must be set if 'placement' is 'static'")`);
  }
  const t = result.cpu?.topology;
  if (t && parts.cpu?.topology) {
    const product = t.sockets * (t.dies ?? 1) * t.cores * t.threads;
    if (product !== vcpus) problems.push(`${root}.cpu.topology: sockets ${t.sockets} × dies ${t.dies ?? 1} × cores ${t.cores} × threads ${t.threads} = ${product} CPUs, but the domain has ${vcpus} vCPU${vcpus === 1 ? "" : "s"} (libvirt: "CPU topology doesn't match maximum vcpu count")`);
  }
  problems.push(...iothreadProblems(parts, result, facts, root));
  return problems;
}

/** Iothread ids: with `<iothreadids>` they are those ids (plus 1, 2, ... not taken, up to the count), else 1..count. */
function iothreadProblems(parts: Partial<OwnedParts>, result: OwnedParts, facts: DomainFacts, root: string): string[] {
  const problems: string[] = [];
  const count = result.iothreads?.count ?? 0;
  const explicit = facts.iothreadIds;
  if (explicit === null) return problems;
  if (parts.iothreads && count < explicit.length) {
    problems.push(`${root}.iothreads.count: ${count} is fewer than the domain's ${explicit.length} <iothreadids> (ids ${explicit.join(", ")}); libvirt keeps one iothread per id, so ask for at least ${explicit.length} or remove ids from <iothreadids>`);
  }
  const ids = [...explicit];
  for (let n = 1; ids.length < count; n++) if (!ids.includes(n)) ids.push(n);
  (parts.cputune?.iothreadpin ?? []).forEach((p, i) => {
    if (!ids.includes(p.iothread)) {
      problems.push(`${root}.cputune.iothreadpin[${i}]: iothread ${p.iothread} does not exist; the domain's <iothreadids> give iothread ids ${ids.join(", ")} (libvirt: "Cannot find 'iothread' : ${p.iothread}")`);
    }
  });
  return problems;
}

function safeCpus(cpuset: string): number[] {
  try {
    return parseLibvirtCpuset(cpuset);
  } catch {
    return [];
  }
}
