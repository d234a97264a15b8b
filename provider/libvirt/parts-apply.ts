/**
 * Applying desired owned parts to a parsed domain, in place. Only owned elements
 * and attributes change; everything else (including unknown elements, attributes
 * and namespaced metadata) is left exactly as parsed. See types.ts for what
 * omitted / null / a value mean.
 */
import type { Element } from "@xmldom/xmldom";
import { applyDevices, deviceProblems } from "./devices-apply";
import { attr, child, children, createChild, ensureChild, insertChild, removeElement, removeIfEmpty, setAttr, setText, type DomainDocument } from "./dom";
import { ATTRS, CELL_ORDER, CPU_ORDER, CPUTUNE_ORDER, DOMAIN_ORDER, MEMORY_BACKING_ORDER, NUMATUNE_ORDER, OS_ORDER } from "./order";
import { findOsinfo } from "./parts-read";
import { numeric, own, syncList } from "./sync";
import {
  LIBOSINFO_NS,
  type CpuPart, type CputunePart, type HugePage, type MemoryBackingPart, type MemorySize,
  type NumaCell, type NumaDistance, type NumatunePart, type OsPart, type OwnedParts, type VcpuPart,
} from "./types";
import { validateParts } from "./validate";
import { cpusetEquals, normalizeCpuset, parseDecimal, sizeEquals } from "./values";

/** Lazily created child of the domain, at its libvirt position. */
function lazy(domain: Element, name: string): { el: Element | null; get: () => Element } {
  const box = { el: child(domain, name), get: () => (box.el ??= createChild(domain, name, DOMAIN_ORDER)) };
  return box;
}

/** Sets a size element's text and unit unless it already holds the same amount. */
function writeSize(el: Element, size: MemorySize): void {
  const present = parseDecimal(el.textContent);
  if (present !== null && sizeEquals(present, attr(el, "unit"), size.value, size.unit)) return;
  setText(el, String(size.value));
  setAttr(el, "unit", size.unit ?? "KiB", ATTRS.memory);
}

function applySize(domain: Element, name: "memory" | "currentMemory", size: MemorySize | null): void {
  if (size === null) {
    const el = child(domain, name);
    if (el) removeElement(el);
  } else writeSize(ensureChild(domain, name, DOMAIN_ORDER), size);
}

function applyVcpu(domain: Element, v: VcpuPart | null): void {
  if (v === null) {
    const old = child(domain, "vcpu");
    if (old) removeElement(old);
    return;
  }
  const el = ensureChild(domain, "vcpu", DOMAIN_ORDER);
  setText(el, String(v.count));
  own(el, "placement", v.placement, ATTRS.vcpu);
  own(el, "cpuset", v.cpuset, ATTRS.vcpu, cpusetEquals);
  own(el, "current", v.current, ATTRS.vcpu);
}

/** A pin list (vcpupin / iothreadpin): keyed by the numbered attribute. */
function syncPins(ct: { el: Element | null; get: () => Element }, tag: string, key: string, pins: { id: number; cpuset: string }[]): void {
  syncList(ct.el, ct.get, pins, {
    tag,
    order: CPUTUNE_ORDER,
    keyOfElement: (el) => attr(el, key) ?? "",
    keyOf: (p) => String(p.id),
    compare: numeric,
    create: (p) => [[key, String(p.id)], ["cpuset", p.cpuset]],
    update: (el, p) => own(el, "cpuset", p.cpuset, [key, "cpuset"], cpusetEquals),
  });
}

function applyCputune(domain: Element, p: CputunePart | null): void {
  const want: CputunePart = p ?? { vcpupin: [], emulatorpin: null, iothreadpin: [] };
  const ct = lazy(domain, "cputune");
  if (want.vcpupin) syncPins(ct, "vcpupin", "vcpu", want.vcpupin.map((x) => ({ id: x.vcpu, cpuset: x.cpuset })));
  if (want.emulatorpin === null) {
    const ep = ct.el && child(ct.el, "emulatorpin");
    if (ep) removeElement(ep);
  } else if (want.emulatorpin) {
    own(ensureChild(ct.get(), "emulatorpin", CPUTUNE_ORDER), "cpuset", want.emulatorpin.cpuset, [], cpusetEquals);
  }
  if (want.iothreadpin) syncPins(ct, "iothreadpin", "iothread", want.iothreadpin.map((x) => ({ id: x.iothread, cpuset: x.cpuset })));
  removeIfEmpty(ct.el);
}

function applyNumatune(domain: Element, p: NumatunePart | null): void {
  const want: NumatunePart = p ?? { memory: null, memnode: [] };
  const nt = lazy(domain, "numatune");
  if (want.memory === null) {
    const m = nt.el && child(nt.el, "memory");
    if (m) removeElement(m);
  } else if (want.memory) {
    const m = ensureChild(nt.get(), "memory", NUMATUNE_ORDER);
    const { mode, nodeset, placement } = want.memory;
    // The schema allows placement='auto' or a nodeset, never both: the new one wins.
    if (typeof nodeset === "string" && placement === undefined && attr(m, "placement") === "auto") setAttr(m, "placement", null);
    if (placement === "auto" && nodeset === undefined) setAttr(m, "nodeset", null);
    own(m, "mode", mode, ATTRS.numatuneMemory);
    own(m, "placement", placement, ATTRS.numatuneMemory);
    own(m, "nodeset", nodeset, ATTRS.numatuneMemory, cpusetEquals);
  }
  if (want.memnode) {
    syncList(nt.el, nt.get, want.memnode, {
      tag: "memnode",
      order: NUMATUNE_ORDER,
      keyOfElement: (el) => attr(el, "cellid") ?? "",
      keyOf: (m) => String(m.cellid),
      compare: numeric,
      create: (m) => [["cellid", String(m.cellid)], ["mode", m.mode], ["nodeset", m.nodeset]],
      update: (el, m) => {
        own(el, "mode", m.mode, ATTRS.memnode);
        own(el, "nodeset", m.nodeset, ATTRS.memnode, cpusetEquals);
      },
    });
  }
  removeIfEmpty(nt.el);
}

/** Hugepage pages are keyed by their (normalised) nodeset; "*" for the page without one. */
const pageKey = (nodeset: string | undefined): string => (nodeset === undefined ? "*" : normalizeCpuset(nodeset));

function applyMemoryBacking(domain: Element, p: MemoryBackingPart | null): void {
  const want: MemoryBackingPart = p ?? { hugepages: null, locked: false, nosharepages: false };
  const mb = lazy(domain, "memoryBacking");
  if (want.hugepages === null) {
    const hp = mb.el && child(mb.el, "hugepages");
    if (hp) removeElement(hp);
  } else if (want.hugepages) {
    const hp = ensureChild(mb.get(), "hugepages", MEMORY_BACKING_ORDER);
    syncList<HugePage>(hp, () => hp, want.hugepages, {
      tag: "page",
      order: ["page"],
      keyOfElement: (el) => pageKey(attr(el, "nodeset")),
      keyOf: (pg) => pageKey(pg.nodeset),
      create: (pg) => [["size", String(pg.size)], ["unit", pg.unit ?? "KiB"], ...(pg.nodeset !== undefined ? [["nodeset", pg.nodeset] as [string, string]] : [])],
      update: (el, pg) => {
        const size = parseDecimal(attr(el, "size"));
        if (size !== null && sizeEquals(size, attr(el, "unit"), pg.size, pg.unit)) return;
        setAttr(el, "size", String(pg.size), ATTRS.page);
        setAttr(el, "unit", pg.unit ?? "KiB", ATTRS.page);
      },
    });
  }
  for (const flag of ["nosharepages", "locked"] as const) {
    if (want[flag] === true) ensureChild(mb.get(), flag, MEMORY_BACKING_ORDER);
    else if (want[flag] === false && mb.el && child(mb.el, flag)) removeElement(child(mb.el, flag)!);
  }
  removeIfEmpty(mb.el);
}

function sameDistances(el: Element, want: NumaDistance[]): boolean {
  const have = children(el, "sibling").map((s) => `${attr(s, "id")}=${attr(s, "value")}`).sort();
  return have.join(",") === want.map((d) => `${d.id}=${d.value}`).sort().join(",");
}

function updateCell(el: Element, c: NumaCell): void {
  own(el, "id", c.id, ATTRS.cell);
  own(el, "cpus", c.cpus, ATTRS.cell, cpusetEquals);
  const mem = parseDecimal(attr(el, "memory"));
  if (mem === null || !sizeEquals(mem, attr(el, "unit"), c.memory, c.unit)) {
    setAttr(el, "memory", String(c.memory), ATTRS.cell);
    setAttr(el, "unit", c.unit ?? "KiB", ATTRS.cell);
  }
  own(el, "memAccess", c.memAccess, ATTRS.cell);
  const d = child(el, "distances");
  if (c.distances === null && d) removeElement(d);
  if (!c.distances || (d && sameDistances(d, c.distances))) return;
  if (d) removeElement(d);
  const nd = createChild(el, "distances", CELL_ORDER);
  for (const s of [...c.distances].sort((a, b) => a.id - b.id)) {
    createChild(nd, "sibling", [], [["id", String(s.id)], ["value", String(s.value)]]);
  }
}

function applyCpu(domain: Element, p: CpuPart | null): void {
  const want: CpuPart = p ?? { mode: null, match: null, check: null, topology: null, numa: null };
  const cpu = lazy(domain, "cpu");
  for (const a of ["mode", "match", "check"] as const) {
    if (want[a] === null && cpu.el) setAttr(cpu.el, a, null);
    else if (want[a]) own(cpu.get(), a, want[a], ATTRS.cpu);
  }
  if (want.topology === null) {
    const t = cpu.el && child(cpu.el, "topology");
    if (t) removeElement(t);
  } else if (want.topology) {
    const t = ensureChild(cpu.get(), "topology", CPU_ORDER);
    for (const a of ["sockets", "dies", "cores", "threads"] as const) own(t, a, want.topology[a], ATTRS.topology);
  }
  // No cells is no <numa> (libvirt's schema wants at least one cell): `numa: []` is `numa: null`.
  if (want.numa === null || want.numa?.length === 0) {
    const n = cpu.el && child(cpu.el, "numa");
    if (n) removeElement(n);
  } else if (want.numa) {
    const numa = ensureChild(cpu.get(), "numa", CPU_ORDER);
    syncList(numa, () => numa, want.numa, {
      tag: "cell",
      order: ["cell"],
      keyOfElement: (el, i) => attr(el, "id") ?? String(i),
      keyOf: (c) => String(c.id),
      compare: numeric,
      create: (c) => [["id", String(c.id)]],
      update: updateCell,
    });
  }
  // A <cpu> left with nothing but unowned attributes (migratable) means nothing.
  if (p === null && cpu.el && children(cpu.el).length === 0) removeElement(cpu.el);
  else removeIfEmpty(cpu.el);
}

function applyOs(domain: Element, os: OsPart): void {
  const type = ensureChild(ensureChild(domain, "os", DOMAIN_ORDER), "type", OS_ORDER);
  if (os.type !== undefined) setText(type, os.type);
  own(type, "arch", os.arch, ATTRS.osType);
  own(type, "machine", os.machine, ATTRS.osType);
}

function applyOsinfo(domain: Element, id: string | null): void {
  const found = findOsinfo(domain);
  if (id === null) {
    if (found.os) removeElement(found.os);
    // The container's only attribute is its xmlns declaration.
    if (found.container && children(found.container).length === 0) removeElement(found.container);
    removeIfEmpty(child(domain, "metadata"));
    return;
  }
  let os = found.os;
  if (!os) {
    let container = found.container;
    if (!container) {
      const md = ensureChild(domain, "metadata", DOMAIN_ORDER);
      container = md.ownerDocument!.createElementNS(LIBOSINFO_NS, "libosinfo:libosinfo");
      container.setAttributeNS("http://www.w3.org/2000/xmlns/", "xmlns:libosinfo", LIBOSINFO_NS);
      container = insertChild(md, container, null);
    }
    const prefix = container.prefix ? `${container.prefix}:` : "";
    os = insertChild(container, container.ownerDocument!.createElementNS(LIBOSINFO_NS, `${prefix}os`), null);
  }
  setAttr(os, "id", id);
}

/**
 * Edits the owned parts given in `parts` (see types.ts for omitted / null / value)
 * and nothing else. Validates everything first and throws with every problem at
 * once, so a rejected apply leaves the document untouched.
 */
export function applyOwnedParts(doc: DomainDocument, parts: Partial<OwnedParts>): void {
  const invalid = validateParts(parts);
  // Only well-typed parts are looked up in the document.
  const problems = invalid.length > 0 ? invalid : deviceProblems(doc, parts);
  if (problems.length > 0) throw new Error(`cannot apply domain parts:\n  - ${problems.join("\n  - ")}`);
  const d = doc.domain;
  if (parts.memory !== undefined) applySize(d, "memory", parts.memory);
  if (parts.currentMemory !== undefined) applySize(d, "currentMemory", parts.currentMemory);
  if (parts.vcpu !== undefined) applyVcpu(d, parts.vcpu);
  if (parts.iothreads !== undefined) {
    const el = child(d, "iothreads");
    if (parts.iothreads === null) {
      if (el) removeElement(el);
    } else setText(el ?? createChild(d, "iothreads", DOMAIN_ORDER), String(parts.iothreads.count));
  }
  if (parts.cputune !== undefined) applyCputune(d, parts.cputune);
  if (parts.numatune !== undefined) applyNumatune(d, parts.numatune);
  if (parts.memoryBacking !== undefined) applyMemoryBacking(d, parts.memoryBacking);
  if (parts.os) applyOs(d, parts.os);
  if (parts.cpu !== undefined) applyCpu(d, parts.cpu);
  if (parts.osinfo !== undefined) applyOsinfo(d, parts.osinfo);
  applyDevices(d, parts);
}
