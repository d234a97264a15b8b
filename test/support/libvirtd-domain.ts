// Tiny TCG domains for the libvirtd test bed (test/support/libvirtd.ts): an XML
// builder (built with @xmldom/xmldom, never by string splicing) covering the parts
// kvmtune tunes, and helpers that run virsh / read qemu's threads through the
// bed's sshd, as kvmtune itself would.
import { DOMImplementation, XMLSerializer, Document, Element } from "@xmldom/xmldom";
import type { Libvirtd } from "./libvirtd";
import { shQuote } from "./libvirtd";
import type { SshCallOptions } from "./ssh-client";

export type NumaMode = "strict" | "preferred" | "interleave" | "restrictive";

export interface DiskOptions {
  /** "file" (an image) or "block" (a block device path, e.g. /dev/disk/by-id/...). */
  type: "file" | "block";
  /** Path as seen inside the bed (e.g. `${lv.imagesPath}/d0.raw`). */
  source: string;
  /** vda, sda, ... */
  target: string;
  bus?: "virtio" | "sata" | "scsi";
  device?: "disk" | "lun";
  format?: "raw" | "qcow2";
  cache?: "none" | "writeback" | "writethrough" | "directsync" | "unsafe" | "default";
  io?: "native" | "threads" | "io_uring";
  /** iothread id (1-based) serving this virtio disk. */
  iothread?: number;
  serial?: string;
  readonly?: boolean;
}

export interface InterfaceOptions {
  /** "bridge": a Linux bridge (create one in the bed with `bridges`); "hostdev": an SR-IOV VF by PCI address. */
  type: "bridge" | "hostdev";
  /** Bridge name, or a PCI address "0000:3b:02.0" for type hostdev. */
  source: string;
  mac?: string;
  model?: "virtio" | "e1000e";
  driver?: { name?: "vhost" | "qemu"; queues?: number };
  mtu?: number;
}

export interface CpuOptions {
  mode: "host-passthrough" | "host-model" | "maximum" | "custom";
  match?: "exact" | "minimum" | "strict";
  check?: "none" | "partial" | "full";
  migratable?: "on" | "off";
  model?: string;
  fallback?: "allow" | "forbid";
  topology?: { sockets: number; dies?: number; cores: number; threads: number };
  /** Guest NUMA cells. */
  cells?: { id: number; cpus: string; memoryMiB: number; memAccess?: "shared" | "private" }[];
  /** distances[i][j] between cells i and j (optional). */
  distances?: number[][];
  features?: { policy: "require" | "disable" | "force" | "optional" | "forbid"; name: string }[];
}

export interface TinyDomainOptions {
  name: string;
  /** "qemu" = TCG (default; what starts here), "kvm" for define-only corpus entries. */
  type?: "qemu" | "kvm";
  uuid?: string;
  /** Default 64; at most 128 (the test bed keeps guests tiny). */
  memoryMiB?: number;
  /** Default 2. */
  vcpus?: number;
  /** `<vcpu cpuset=...>` (the default pinning of all vCPUs). */
  vcpuCpuset?: string;
  /** cpuset per vCPU index: vcpupin[i] pins vCPU i. */
  vcpupin?: string[];
  emulatorpin?: string;
  /** `<iothreads>N</iothreads>` */
  iothreads?: number;
  /** cpuset per iothread (iothreadpin[i] pins iothread i+1). */
  iothreadpin?: string[];
  numatune?: { mode: NumaMode; nodeset: string; memnodes?: { cellid: number; mode: NumaMode; nodeset: string }[] };
  memoryBacking?: { hugepages?: { sizeKiB: number; nodeset?: string }[] | true; locked?: boolean; nosharepages?: boolean };
  cpu?: CpuOptions;
  disks?: DiskOptions[];
  interfaces?: InterfaceOptions[];
  /** PCI hostdevs (managed='yes'), e.g. "0000:3b:00.0". */
  hostdevs?: string[];
  /** libosinfo OS id, e.g. "http://debian.org/debian/12". */
  osinfo?: string;
  /** A pty serial console (default true). */
  console?: boolean;
}

export const DOMAIN_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const PCI_ADDRESS = /^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/;
export const LIBOSINFO_NS = "http://libosinfo.org/xmlns/libvirt/domain/1.0";

/** A small element tree, turned into DOM nodes with indentation. */
interface Node {
  name: string;
  attrs?: Record<string, string | number | undefined>;
  text?: string;
  children?: (Node | undefined | false)[];
  ns?: string;
}

const n = (name: string, attrs?: Node["attrs"], children?: Node["children"] | string): Node =>
  typeof children === "string" ? { name, attrs, text: children } : { name, attrs, children };

function toDom(doc: Document, parent: Element, node: Node, depth: number): void {
  const el = node.ns ? doc.createElementNS(node.ns, node.name) : doc.createElement(node.name);
  for (const [k, v] of Object.entries(node.attrs ?? {})) if (v !== undefined) el.setAttribute(k, String(v));
  if (node.text !== undefined) el.appendChild(doc.createTextNode(node.text));
  const kids = (node.children ?? []).filter((c): c is Node => !!c);
  for (const c of kids) {
    el.appendChild(doc.createTextNode("\n" + "  ".repeat(depth + 1)));
    toDom(doc, el, c, depth + 1);
  }
  if (kids.length) el.appendChild(doc.createTextNode("\n" + "  ".repeat(depth)));
  parent.appendChild(el);
}

/** Domain XML for a tiny guest that starts under the bed's libvirtd (no OS: it sits in SeaBIOS). */
export function tinyDomainXml(o: TinyDomainOptions): string {
  if (!DOMAIN_NAME.test(o.name)) throw new Error(`domain name ${JSON.stringify(o.name)}`);
  const mem = o.memoryMiB ?? 64;
  if (!(Number.isInteger(mem) && mem >= 16 && mem <= 128)) throw new Error(`memoryMiB ${mem}: the test bed keeps guests at 16..128 MiB`);
  const vcpus = o.vcpus ?? 2;
  const pages = o.memoryBacking?.hugepages;

  const cputune = [
    ...(o.vcpupin ?? []).map((c, i) => n("vcpupin", { vcpu: i, cpuset: c })),
    o.emulatorpin !== undefined && n("emulatorpin", { cpuset: o.emulatorpin }),
    ...(o.iothreadpin ?? []).map((c, i) => n("iothreadpin", { iothread: i + 1, cpuset: c })),
  ].filter(Boolean);

  const cpu = o.cpu && n("cpu", { mode: o.cpu.mode, match: o.cpu.match, check: o.cpu.check, migratable: o.cpu.migratable }, [
    o.cpu.model !== undefined && n("model", { fallback: o.cpu.fallback }, o.cpu.model),
    o.cpu.topology && n("topology", {
      sockets: o.cpu.topology.sockets, dies: o.cpu.topology.dies, cores: o.cpu.topology.cores, threads: o.cpu.topology.threads,
    }),
    ...(o.cpu.features ?? []).map((f) => n("feature", { policy: f.policy, name: f.name })),
    o.cpu.cells && n("numa", {}, o.cpu.cells.map((c, i) =>
      n("cell", { id: c.id, cpus: c.cpus, memory: c.memoryMiB, unit: "MiB", memAccess: c.memAccess },
        o.cpu?.distances ? [n("distances", {}, o.cpu.distances[i].map((v, j) => n("sibling", { id: o.cpu?.cells?.[j].id, value: v })))] : []))),
  ]);

  const root: Node = n("domain", { type: o.type ?? "qemu" }, [
    n("name", {}, o.name),
    o.uuid !== undefined && n("uuid", {}, o.uuid),
    o.osinfo !== undefined && n("metadata", {}, [
      { name: "libosinfo:libosinfo", ns: LIBOSINFO_NS, children: [{ name: "libosinfo:os", ns: LIBOSINFO_NS, attrs: { id: o.osinfo } }] },
    ]),
    n("memory", { unit: "MiB" }, String(mem)),
    n("currentMemory", { unit: "MiB" }, String(mem)),
    o.memoryBacking && n("memoryBacking", {}, [
      pages === true ? n("hugepages") : pages && n("hugepages", {}, pages.map((p) => n("page", { size: p.sizeKiB, unit: "KiB", nodeset: p.nodeset }))),
      o.memoryBacking.nosharepages && n("nosharepages"),
      o.memoryBacking.locked && n("locked"),
    ]),
    n("vcpu", { placement: "static", cpuset: o.vcpuCpuset }, String(vcpus)),
    o.iothreads !== undefined && n("iothreads", {}, String(o.iothreads)),
    cputune.length > 0 && n("cputune", {}, cputune),
    o.numatune && n("numatune", {}, [
      n("memory", { mode: o.numatune.mode, nodeset: o.numatune.nodeset }),
      ...(o.numatune.memnodes ?? []).map((m) => n("memnode", { cellid: m.cellid, mode: m.mode, nodeset: m.nodeset })),
    ]),
    n("os", {}, [n("type", { arch: "x86_64", machine: "q35" }, "hvm"), n("boot", { dev: "hd" })]),
    n("features", {}, [n("acpi"), n("apic")]),
    cpu,
    n("clock", { offset: "utc" }),
    n("on_poweroff", {}, "destroy"),
    n("on_reboot", {}, "restart"),
    n("on_crash", {}, "destroy"),
    n("devices", {}, [
      n("emulator", {}, "/usr/bin/qemu-system-x86_64"),
      ...(o.disks ?? []).map(diskNode),
      ...(o.interfaces ?? []).map(interfaceNode),
      ...(o.hostdevs ?? []).map((a) => n("hostdev", { mode: "subsystem", type: "pci", managed: "yes" }, [n("source", {}, [pciAddress(a)])])),
      (o.console ?? true) && n("serial", { type: "pty" }, [n("target", { port: 0 })]),
      (o.console ?? true) && n("console", { type: "pty" }, [n("target", { type: "serial", port: 0 })]),
      n("memballoon", { model: "none" }),
    ]),
  ]);
  const doc = new DOMImplementation().createDocument(null, "x", null);
  const holder = doc.documentElement as Element;
  toDom(doc, holder, root, 0);
  return new XMLSerializer().serializeToString(holder.firstChild as Element) + "\n";
}

function diskNode(d: DiskOptions): Node {
  const bus = d.bus ?? "virtio";
  return n("disk", { type: d.type, device: d.device ?? "disk" }, [
    n("driver", { name: "qemu", type: d.format ?? "raw", cache: d.cache, io: d.io, iothread: d.iothread }),
    n("source", d.type === "file" ? { file: d.source } : { dev: d.source }),
    n("target", { dev: d.target, bus }),
    d.serial !== undefined && n("serial", {}, d.serial),
    d.readonly && n("readonly"),
  ]);
}

function interfaceNode(i: InterfaceOptions): Node {
  const driver = i.driver && n("driver", { name: i.driver.name, queues: i.driver.queues });
  if (i.type === "hostdev") {
    return n("interface", { type: "hostdev", managed: "yes" }, [
      i.mac !== undefined && n("mac", { address: i.mac }),
      driver && n("driver", { name: "vfio" }),
      n("source", {}, [pciAddress(i.source, "pci")]),
    ]);
  }
  return n("interface", { type: "bridge" }, [
    i.mac !== undefined && n("mac", { address: i.mac }),
    n("source", { bridge: i.source }),
    n("model", { type: i.model ?? "virtio" }),
    driver,
    i.mtu !== undefined && n("mtu", { size: i.mtu }),
  ]);
}

function pciAddress(a: string, type?: "pci"): Node {
  const m = PCI_ADDRESS.exec(a);
  if (!m) throw new Error(`PCI address ${JSON.stringify(a)}`);
  return n("address", { type, domain: `0x${m[1]}`, bus: `0x${m[2]}`, slot: `0x${m[3]}`, function: `0x${m[4]}` });
}

/** Runs virsh through the bed and returns stdout; throws with the exact stderr on failure. */
export async function mustVirsh(lv: Libvirtd, args: string[], opts?: SshCallOptions): Promise<string> {
  const r = await lv.virsh(args, opts);
  if (r.code !== 0) throw new Error(`virsh ${args.join(" ")} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** `virsh define /dev/stdin` with the XML as data. */
export async function defineDomain(lv: Libvirtd, xml: string): Promise<void> {
  await mustVirsh(lv, ["define", "/dev/stdin"], { input: xml });
}

/** Creates a disk image with qemu-img inside the bed; returns its path as libvirt sees it. */
export async function createDiskImage(lv: Libvirtd, file: string, sizeMiB: number, format: "raw" | "qcow2" = "raw"): Promise<string> {
  if (!/^[A-Za-z0-9_.-]+$/.test(file)) throw new Error(`image file name ${JSON.stringify(file)}`);
  if (!(Number.isInteger(sizeMiB) && sizeMiB > 0 && sizeMiB <= 1024)) throw new Error(`sizeMiB ${sizeMiB}`);
  const p = `${lv.imagesPath}/${file}`;
  const r = await lv.ssh(`qemu-img create -q -f ${format} ${shQuote(p)} ${sizeMiB}M`);
  if (r.code !== 0) throw new Error(`qemu-img create ${p} failed: ${r.stderr.trim()}`);
  return p;
}

/** The running domain's qemu PID inside the bed (as libvirt records it). */
export async function qemuPid(lv: Libvirtd, name: string): Promise<number> {
  if (!DOMAIN_NAME.test(name)) throw new Error(`domain name ${JSON.stringify(name)}`);
  const r = await lv.ssh(`cat /run/libvirt/qemu/${name}.pid`);
  if (r.code !== 0) throw new Error(`no pid file for ${name}: ${r.stderr.trim()}`);
  return Number(r.stdout.trim());
}

export interface QemuThread {
  tid: number;
  /** comm, e.g. "CPU 0/TCG", "qemu-system-x86", "IO mon_iothread", "IO iothread1", "worker" */
  name: string;
  /** Cpus_allowed_list from /proc/PID/task/TID/status, e.g. "0-1" */
  cpus: string;
  /** vCPU index for "CPU n/TCG" or "CPU n/KVM" threads. */
  vcpu?: number;
}

/** Every thread of the domain's qemu with its affinity, read inside the bed in one command. */
export async function qemuThreads(lv: Libvirtd, name: string): Promise<QemuThread[]> {
  const pid = await qemuPid(lv, name);
  const r = await lv.ssh(
    `for t in /proc/${pid}/task/*; do printf '%s\\t%s\\t%s\\n' "\${t##*/}" "$(cat $t/comm)" "$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' $t/status)"; done`,
  );
  if (r.code !== 0) throw new Error(`reading qemu threads of ${name} failed: ${r.stderr.trim()}`);
  return r.stdout.trim().split("\n").map((l) => {
    const [tid, tname, cpus] = l.split("\t");
    const m = /^CPU (\d+)\/(KVM|TCG)$/.exec(tname);
    return { tid: Number(tid), name: tname, cpus, ...(m ? { vcpu: Number(m[1]) } : {}) };
  }).sort((a, b) => a.tid - b.tid);
}

/** vCPU index -> Cpus_allowed_list of its thread. */
export async function vcpuAffinity(lv: Libvirtd, name: string): Promise<Record<number, string>> {
  const out: Record<number, string> = {};
  for (const t of await qemuThreads(lv, name)) if (t.vcpu !== undefined) out[t.vcpu] = t.cpus;
  return out;
}
