/** Reading the owned parts out of a parsed domain. Pure; the DOM is not changed. */
import { attr, child, children, text, type DomainDocument } from "./dom";
import type { Element } from "@xmldom/xmldom";
import {
  LIBOSINFO_NS,
  type CpuPart, type CputunePart, type DiskDriver, type DiskPart, type HostdevPart,
  type InterfacePart, type MemoryBackingPart, type MemorySize, type Memnode, type NumaCell,
  type NumatuneMemory, type NumatunePart, type OsPart, type OwnedParts,
} from "./types";
import { formatPciAddress, normalizeMac, parseDecimal } from "./values";

/** A decimal attribute or text that libvirt always writes as a number; anything else is a corrupt document. */
function int(value: string | undefined, where: string): number {
  const n = parseDecimal(value);
  if (n === null) throw new Error(`domain XML: ${where} is ${JSON.stringify(value)}, expected a decimal integer`);
  return n;
}

function optInt(el: Element, name: string, where: string): number | undefined {
  const v = attr(el, name);
  return v === undefined ? undefined : int(v, `${where} ${name}`);
}

/** Copies the attributes that are present; absent ones stay omitted. */
function pick<T extends string>(el: Element, names: readonly T[]): Partial<Record<T, string>> {
  const out: Partial<Record<T, string>> = {};
  for (const n of names) {
    const v = attr(el, n);
    if (v !== undefined) out[n] = v;
  }
  return out;
}

function readSize(el: Element | null, where: string): MemorySize | null {
  if (!el) return null;
  const unit = attr(el, "unit");
  return { value: int(text(el), where), ...(unit !== undefined ? { unit } : {}) };
}

function readCputune(domain: Element): CputunePart | null {
  const ct = child(domain, "cputune");
  if (!ct) return null;
  const vcpupin = children(ct, "vcpupin").map((p) => ({
    vcpu: int(attr(p, "vcpu"), "vcpupin vcpu"),
    cpuset: attr(p, "cpuset") ?? "",
  }));
  const iothreadpin = children(ct, "iothreadpin").map((p) => ({
    iothread: int(attr(p, "iothread"), "iothreadpin iothread"),
    cpuset: attr(p, "cpuset") ?? "",
  }));
  const ep = child(ct, "emulatorpin");
  if (vcpupin.length === 0 && iothreadpin.length === 0 && !ep) return null;
  return { vcpupin, emulatorpin: ep ? { cpuset: attr(ep, "cpuset") ?? "" } : null, iothreadpin };
}

function readNumatune(domain: Element): NumatunePart | null {
  const nt = child(domain, "numatune");
  if (!nt) return null;
  const mem = child(nt, "memory");
  const memnode = children(nt, "memnode").map((m) => ({
    cellid: int(attr(m, "cellid"), "memnode cellid"),
    ...(pick(m, ["mode", "nodeset"]) as Pick<Memnode, "mode" | "nodeset">),
  }));
  if (!mem && memnode.length === 0) return null;
  return { memory: mem ? (pick(mem, ["mode", "nodeset", "placement"]) as NumatuneMemory) : null, memnode };
}

function readMemoryBacking(domain: Element): MemoryBackingPart | null {
  const mb = child(domain, "memoryBacking");
  if (!mb) return null;
  const hp = child(mb, "hugepages");
  const out: MemoryBackingPart = {
    hugepages: hp
      ? children(hp, "page").map((p) => ({ size: int(attr(p, "size"), "hugepage size"), ...pick(p, ["unit", "nodeset"]) }))
      : null,
    locked: child(mb, "locked") !== null,
    nosharepages: child(mb, "nosharepages") !== null,
  };
  return hp || out.locked || out.nosharepages ? out : null;
}

function readCell(c: Element, index: number): NumaCell {
  const d = child(c, "distances");
  const id = optInt(c, "id", "NUMA cell");
  return {
    id: id ?? index, // libvirt numbers cells in order when ids are omitted
    ...pick(c, ["cpus"]),
    memory: int(attr(c, "memory"), "NUMA cell memory"),
    ...pick(c, ["unit", "memAccess"]),
    ...(d
      ? {
          distances: children(d, "sibling").map((s) => ({
            id: int(attr(s, "id"), "NUMA sibling id"),
            value: int(attr(s, "value"), "NUMA sibling value"),
          })),
        }
      : {}),
  } as NumaCell;
}

function readCpu(domain: Element): CpuPart | null {
  const cpu = child(domain, "cpu");
  if (!cpu) return null;
  const topo = child(cpu, "topology");
  const numa = child(cpu, "numa");
  return {
    ...(pick(cpu, ["mode", "match", "check"]) as Pick<CpuPart, "mode" | "match" | "check">),
    topology: topo
      ? {
          sockets: int(attr(topo, "sockets"), "topology sockets"),
          ...(attr(topo, "dies") !== undefined ? { dies: int(attr(topo, "dies"), "topology dies") } : {}),
          cores: int(attr(topo, "cores"), "topology cores"),
          threads: int(attr(topo, "threads"), "topology threads"),
        }
      : null,
    numa: numa ? children(numa, "cell").map(readCell) : null,
  };
}

function readOs(domain: Element): OsPart | null {
  const os = child(domain, "os");
  if (!os) return null;
  const type = child(os, "type");
  return type ? { type: text(type), ...pick(type, ["arch", "machine"]) } : {};
}

/** The libosinfo container under <metadata>, whatever prefix it uses. */
export function findOsinfo(domain: Element): { container: Element | null; os: Element | null } {
  const md = child(domain, "metadata");
  const container = md ? children(md).find((e) => e.namespaceURI === LIBOSINFO_NS && e.localName === "libosinfo") : undefined;
  const os = container ? children(container).find((e) => e.namespaceURI === LIBOSINFO_NS && e.localName === "os") : undefined;
  return { container: container ?? null, os: os ?? null };
}

function readDisk(disk: Element): DiskPart {
  const d = child(disk, "driver");
  if (!d) return { driver: null };
  const driver: DiskDriver = pick(d, ["name", "type", "cache", "io", "discard"]) as DiskDriver;
  const iothread = optInt(d, "iothread", "disk driver");
  const queues = optInt(d, "queues", "disk driver");
  if (iothread !== undefined) driver.iothread = iothread;
  if (queues !== undefined) driver.queues = queues;
  return { driver };
}

/** The PCI address inside `<source>` (hostdev and type='hostdev' interfaces). */
export function sourcePciAddress(source: Element | null): string | null {
  const a = source ? child(source, "address") : null;
  if (!a || (attr(a, "type") ?? "pci") !== "pci") return null;
  return formatPciAddress((n) => attr(a, n));
}

function readInterface(iface: Element): InterfacePart {
  const out: InterfacePart = {};
  const type = attr(iface, "type");
  if (type !== undefined) out.type = type;
  const src = child(iface, "source");
  if (src) {
    const attributes: Record<string, string> = {};
    for (let i = 0; i < src.attributes.length; i++) attributes[src.attributes.item(i)!.name] = src.attributes.item(i)!.value;
    const pci = sourcePciAddress(src);
    out.source = pci ? { attributes, pciAddress: pci } : { attributes };
  }
  const model = child(iface, "model");
  if (model && attr(model, "type") !== undefined) out.model = attr(model, "type");
  const drv = child(iface, "driver");
  if (drv) {
    out.driver = pick(drv, ["name"]) as InterfacePart["driver"] & object;
    for (const n of ["queues", "rx_queue_size", "tx_queue_size"] as const) {
      const v = optInt(drv, n, "interface driver");
      if (v !== undefined) out.driver[n] = v;
    }
  }
  const mtu = child(iface, "mtu");
  if (mtu) out.mtu = int(attr(mtu, "size"), "interface mtu size");
  const tags = (() => { const v = child(iface, "vlan"); return v ? children(v, "tag") : []; })();
  if (tags.length === 1) out.vlan = int(attr(tags[0], "id"), "interface vlan tag id");
  return out;
}

/** The key of a disk: its target dev. */
export function diskKey(disk: Element): string | undefined {
  const t = child(disk, "target");
  return t ? attr(t, "dev") : undefined;
}

/** The key of an interface: its MAC, lower-case. */
export function macKey(iface: Element): string | undefined {
  const m = child(iface, "mac");
  const a = m ? attr(m, "address") : undefined;
  return a === undefined ? undefined : normalizeMac(a);
}

/** The key of a hostdev: its PCI address, else "<type>:" and its source description. */
export function hostdevKey(hd: Element): string | null {
  const type = attr(hd, "type") ?? "";
  const src = child(hd, "source");
  if (!src) return null;
  if (type === "pci") return sourcePciAddress(src);
  const parts: string[] = [];
  const walk = (el: Element, prefix: string) => {
    for (let i = 0; i < el.attributes.length; i++) {
      const a = el.attributes.item(i)!;
      parts.push(`${prefix}${a.name}=${a.value}`);
    }
    for (const c of children(el)) {
      const t = text(c);
      if (t !== "" && children(c).length === 0) parts.push(`${prefix}${c.nodeName}=${t}`);
      walk(c, `${prefix}${c.nodeName}.`);
    }
  };
  walk(src, "");
  return `${type}:${parts.join(",")}`;
}

function readHostdev(hd: Element): HostdevPart {
  const out: HostdevPart = {};
  const type = attr(hd, "type");
  if (type !== undefined) out.type = type;
  const managed = attr(hd, "managed");
  if (managed !== undefined) out.managed = managed === "yes";
  return out;
}

/** Reads every owned part. Devices without a key (disk without target dev, interface without MAC) are skipped; the first of duplicate keys wins. */
export function readOwnedParts(doc: DomainDocument): OwnedParts {
  const d = doc.domain;
  const vcpuEl = child(d, "vcpu");
  const iothreadsEl = child(d, "iothreads");
  const osinfo = findOsinfo(d).os;
  const devices = child(d, "devices");
  const disks: Record<string, DiskPart> = {};
  const interfaces: Record<string, InterfacePart> = {};
  const hostdevs: Record<string, HostdevPart> = {};
  for (const disk of devices ? children(devices, "disk") : []) {
    const dev = diskKey(disk);
    if (dev !== undefined && !(dev in disks)) disks[dev] = readDisk(disk);
  }
  for (const iface of devices ? children(devices, "interface") : []) {
    const mac = macKey(iface);
    if (mac !== undefined && !(mac in interfaces)) interfaces[mac] = readInterface(iface);
  }
  for (const hd of devices ? children(devices, "hostdev") : []) {
    const key = hostdevKey(hd);
    if (key !== null && !(key in hostdevs)) hostdevs[key] = readHostdev(hd);
  }
  return {
    memory: readSize(child(d, "memory"), "memory"),
    currentMemory: readSize(child(d, "currentMemory"), "currentMemory"),
    vcpu: vcpuEl
      ? {
          count: int(text(vcpuEl), "vcpu"),
          ...(pick(vcpuEl, ["placement", "cpuset"]) as { placement?: "static" | "auto"; cpuset?: string }),
          ...(attr(vcpuEl, "current") !== undefined ? { current: int(attr(vcpuEl, "current"), "vcpu current") } : {}),
        }
      : null,
    iothreads: iothreadsEl ? { count: int(text(iothreadsEl), "iothreads") } : null,
    cputune: readCputune(d),
    numatune: readNumatune(d),
    memoryBacking: readMemoryBacking(d),
    cpu: readCpu(d),
    os: readOs(d),
    osinfo: osinfo ? attr(osinfo, "id") ?? null : null,
    disks,
    interfaces,
    hostdevs,
  };
}
