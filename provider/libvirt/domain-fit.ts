/**
 * What the rest of the domain demands of the owned parts: memory devices need a
 * guest NUMA cell, `<iothreadids>` fix the iothread ids, a static numatune needs a
 * nodeset. `fitParts` resolves `cpu.numa: null` against the domain; the checks
 * name, before `virsh define`, what libvirt would refuse. Pure.
 */
import { attr, child, children, text, type DomainDocument } from "./dom";
import type { CpuPart, OwnedParts } from "./types";
import { parseDecimal, parseLibvirtCpuset, sizeInBytes } from "./values";

/** The parts of a domain kvmtune does not own but must respect. */
export interface DomainFacts {
  /** `<devices><memory model>` (dimm, nvdimm, virtio-mem, ...), with their target size in KiB. */
  memoryDevices: { model: string; sizeKiB: number }[];
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
    const size = (() => { const t = child(m, "target"); return t ? child(t, "size") : null; })();
    return { model: attr(m, "model") ?? "memory", sizeKiB: size ? kib(text(size), attr(size, "unit")) : 0 };
  });
  const ids = child(doc.domain, "iothreadids");
  const iothreadIds = ids ? children(ids, "iothread").map((t) => parseDecimal(attr(t, "id"))).filter((n): n is number => n !== null) : null;
  return { memoryDevices, iothreadIds };
}

/**
 * `cpu.numa: null` ("no guest NUMA topology") as the domain can take it: a domain
 * with memory devices (libvirt: "can't add memory backend as guest has no NUMA nodes
 * configured") or whose cells carry attributes kvmtune does not own (discard, ...)
 * keeps one cell 0 with every vCPU and the memory not on devices; its other
 * attributes stay. Other parts are returned as given.
 */
export function fitParts(desired: Partial<OwnedParts>, doc: DomainDocument, facts = readDomainFacts(doc)): Partial<OwnedParts> {
  const cpu = desired.cpu;
  if (cpu === undefined || (cpu !== null && cpu.numa !== null)) return desired;
  const numa = child(doc.domain, "cpu") && child(child(doc.domain, "cpu")!, "numa");
  const cells = numa ? children(numa, "cell") : [];
  const owned = new Set(["id", "cpus", "memory", "unit", "memAccess"]);
  const unowned = cells.some((c) => Array.from({ length: c.attributes.length }, (_, i) => c.attributes.item(i)!.name).some((n) => !owned.has(n)));
  if (facts.memoryDevices.length === 0 && !unowned) return desired;
  const vcpuEl = child(doc.domain, "vcpu");
  const vcpus = desired.vcpu?.count ?? parseDecimal(vcpuEl ? text(vcpuEl) : undefined) ?? 1;
  const memEl = child(doc.domain, "memory");
  const total = desired.memory ? kib(String(desired.memory.value), desired.memory.unit ?? "KiB") : memEl ? kib(text(memEl), attr(memEl, "unit")) : 0;
  // With NUMA cells libvirt counts <memory> as the cells plus the memory devices.
  const onDevices = facts.memoryDevices.reduce((s, d) => s + d.sizeKiB, 0);
  const cell = { id: 0, cpus: vcpus > 1 ? `0-${vcpus - 1}` : "0", memory: Math.max(total - onDevices, 0), unit: "KiB" };
  const base: CpuPart = cpu ?? { mode: null, match: null, check: null, topology: null };
  return { ...desired, cpu: { ...base, numa: [cell] } };
}

/** What libvirt would refuse in the domain that applying `parts` gives (`result`), with `facts` of that domain. */
export function fitProblems(parts: Partial<OwnedParts>, result: OwnedParts, facts: DomainFacts, root = "parts"): string[] {
  const problems: string[] = [];
  const cells = result.cpu?.numa ?? [];
  const vcpus = result.vcpu?.count ?? 1;
  if (facts.memoryDevices.length && cells.length === 0) {
    const models = [...new Set(facts.memoryDevices.map((d) => d.model))].join(", ");
    problems.push(`${root}.cpu.numa: the domain has memory devices (${models}) and libvirt needs a guest NUMA cell for them ("can't add memory backend as guest has no NUMA nodes configured"); keep at least one cell`);
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
