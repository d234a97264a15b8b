/**
 * The XML of a new domain (LibvirtDomain's define mode): a fixed skeleton with
 * no user values, then every user value set through the DOM (escaped by the
 * renderer) and the owned parts applied with `applyOwnedParts`. Pure.
 */
import { child, createChild, parseDomainXml, setAttr, setText } from "./dom";
import { DEVICES_ORDER, DOMAIN_ORDER } from "./order";
import { applyOwnedParts } from "./parts-apply";
import { renderDomainXml } from "./serialize";
import type { DiskDriver, OwnedParts } from "./types";
import { InputError, showValue } from "../spec/issues";

/** One disk of a new domain. */
export interface DomainDiskSpec {
  /** Image file or block device on the host (absolute; "/dev/..." makes a `type='block'` disk). */
  path: string;
  /** Guest device: vda, vdb, ... (default: by position). */
  target?: string;
  /** Image format; default qcow2 for a ".qcow2" file, else raw. */
  format?: "raw" | "qcow2";
  /** Default "none" (O_DIRECT). */
  cache?: "none" | "writeback" | "writethrough" | "directsync" | "unsafe";
  /** Default "native" with cache "none"/"directsync", else "threads"; "native" needs one of those caches. */
  io?: "native" | "threads" | "io_uring";
}

/** What a new domain is made of (define mode only). */
export interface DomainSpec {
  memoryMiB: number;
  vcpus: number;
  /** libosinfo id ("http://debian.org/debian/12") or a short id ("debian12", "rhel9.4", "win2k22"). */
  osVariant?: string;
  /** "kvm" (default) or "qemu" (TCG, for tests). */
  type?: "kvm" | "qemu";
  disks?: DomainDiskSpec[];
}

/** A DomainSpec with the domain's name. */
export interface NewDomainSpec extends DomainSpec {
  name: string;
}

const rhel = (major: number, minors: number) =>
  Object.fromEntries(Array.from({ length: minors + 1 }, (_, m) => [`rhel${major}.${m}`, `http://redhat.com/rhel/${major}.${m}`]));

/** Short ids (libosinfo's own short-ids) kvmtune maps to their libosinfo URI. */
export const OS_VARIANTS: Readonly<Record<string, string>> = {
  debian10: "http://debian.org/debian/10",
  debian11: "http://debian.org/debian/11",
  debian12: "http://debian.org/debian/12",
  debian13: "http://debian.org/debian/13",
  "ubuntu20.04": "http://ubuntu.com/ubuntu/20.04",
  "ubuntu22.04": "http://ubuntu.com/ubuntu/22.04",
  "ubuntu24.04": "http://ubuntu.com/ubuntu/24.04",
  ...rhel(8, 10),
  ...rhel(9, 6),
  "centos-stream9": "http://centos.org/centos-stream/9",
  rocky8: "http://rockylinux.org/rocky/8",
  rocky9: "http://rockylinux.org/rocky/9",
  almalinux8: "http://almalinux.org/almalinux/8",
  almalinux9: "http://almalinux.org/almalinux/9",
  fedora40: "http://fedoraproject.org/fedora/40",
  fedora41: "http://fedoraproject.org/fedora/41",
  sles15sp5: "http://suse.com/sles/15.5",
  "opensuse15.5": "http://opensuse.org/opensuse/15.5",
  "freebsd14.0": "http://freebsd.org/freebsd/14.0",
  win10: "http://microsoft.com/win/10",
  win11: "http://microsoft.com/win/11",
  win2k16: "http://microsoft.com/win/2k16",
  win2k19: "http://microsoft.com/win/2k19",
  win2k22: "http://microsoft.com/win/2k22",
};

const OS_URI = /^http:\/\/[a-z0-9]+(?:[.-][a-z0-9]+)*\.[a-z]{2,}\/[A-Za-z0-9][A-Za-z0-9._+-]*\/[A-Za-z0-9][A-Za-z0-9._+-]*$/;
const SHORT_ID = /^[a-z][a-z0-9.-]*[a-z0-9]$/;
const SHOWN_VARIANTS = ["debian12", "ubuntu24.04", "rhel9.4", "rocky9", "sles15sp5", "win11", "win2k22"];

/** The libosinfo URI for an osVariant, or the reason it is not accepted. */
export function resolveOsVariant(variant: unknown): { uri: string } | { problem: string } {
  const accepted = `a libosinfo id "http://<vendor>/<os>/<version>" (e.g. "http://debian.org/debian/12") or a short id such as ${SHOWN_VARIANTS.join(", ")}`;
  if (typeof variant !== "string") return { problem: `${showValue(variant)} is not accepted; expected ${accepted}` };
  if (variant.startsWith("http")) return OS_URI.test(variant) ? { uri: variant } : { problem: `${showValue(variant)} is not accepted; expected ${accepted}` };
  const uri = OS_VARIANTS[variant];
  if (uri) return { uri };
  const why = SHORT_ID.test(variant) ? "is not a short id kvmtune knows" : "is not accepted";
  return { problem: `${showValue(variant)} ${why}; expected ${accepted} (${Object.keys(OS_VARIANTS).length} short ids known; any other OS by its URI)` };
}

const DISK_PATH = /^\/(?:[A-Za-z0-9._+:@-]+\/)*[A-Za-z0-9._+:@-]+$/;
const DISK_TARGET = /^vd[a-z]{1,2}$/;
const DIRECT_CACHES = ["none", "directsync"];

/** The io/cache rule from the talk: io='native' is only asynchronous with O_DIRECT (cache none or directsync). */
export function ioCacheProblem(driver: Pick<DiskDriver, "cache" | "io">): string | undefined {
  if (driver.io !== "native" || driver.cache == null || DIRECT_CACHES.includes(driver.cache)) return undefined;
  return `io "native" needs cache "none" or "directsync" (O_DIRECT), got cache ${JSON.stringify(driver.cache)}; use io "threads" or "io_uring" with a host page cache`;
}

/** The target dev of disk `i` ("vda", "vdb", ...). */
export function diskTarget(d: DomainDiskSpec, i: number): string {
  return d.target ?? `vd${String.fromCharCode(97 + i)}`;
}

/** The driver a spec disk gets: cache none and io native unless told. */
export function diskDriver(d: DomainDiskSpec): DiskDriver {
  const cache = d.cache ?? "none";
  return { name: "qemu", type: diskFormat(d), cache, io: d.io ?? (DIRECT_CACHES.includes(cache) ? "native" : "threads") };
}

function diskFormat(d: DomainDiskSpec): "raw" | "qcow2" {
  return d.format ?? (d.path.endsWith(".qcow2") ? "qcow2" : "raw");
}

/** Every problem with a domain spec (field paths start at `root`). */
export function domainSpecProblems(spec: unknown, root = "domain"): string[] {
  if (typeof spec !== "object" || spec === null || Array.isArray(spec)) return [`${root}: ${showValue(spec)} is not accepted; expected an object with memoryMiB and vcpus`];
  const s = spec as Record<string, unknown>;
  const problems: string[] = [];
  const fields = ["memoryMiB", "vcpus", "osVariant", "type", "disks"];
  for (const k of Object.keys(s)) if (!fields.includes(k)) problems.push(`${root}: unknown field ${JSON.stringify(k)}; accepted fields: ${fields.join(", ")}`);
  const int = (k: string, min: number, max: number) => {
    if (!Number.isSafeInteger(s[k]) || (s[k] as number) < min || (s[k] as number) > max) problems.push(`${root}.${k}: ${showValue(s[k])} is not accepted; expected an integer from ${min} to ${max}`);
  };
  int("memoryMiB", 16, 16 * 1024 * 1024);
  int("vcpus", 1, 4096);
  if (s.osVariant !== undefined) {
    const v = resolveOsVariant(s.osVariant);
    if ("problem" in v) problems.push(`${root}.osVariant: ${v.problem}`);
  }
  if (s.type !== undefined && s.type !== "kvm" && s.type !== "qemu") problems.push(`${root}.type: ${showValue(s.type)} is not accepted; expected "kvm" or "qemu"`);
  if (s.disks === undefined) return problems;
  if (!Array.isArray(s.disks)) return [...problems, `${root}.disks: ${showValue(s.disks)} is not accepted; expected a list of disks`];
  const targets = new Set<string>();
  s.disks.forEach((d: unknown, i: number) => {
    const p = `${root}.disks[${i}]`;
    if (typeof d !== "object" || d === null) return problems.push(`${p}: ${showValue(d)} is not accepted; expected an object with a path`);
    const disk = d as Record<string, unknown>;
    const known = ["path", "target", "format", "cache", "io"];
    for (const k of Object.keys(disk)) if (!known.includes(k)) problems.push(`${p}: unknown field ${JSON.stringify(k)}; accepted fields: ${known.join(", ")}`);
    if (typeof disk.path !== "string" || !DISK_PATH.test(disk.path) || disk.path.split("/").includes("..")) {
      problems.push(`${p}.path: ${showValue(disk.path)} is not accepted; expected an absolute path of letters, digits and . _ + : @ - (no '..')`);
    }
    const oneOf = (k: string, values: string[]) => {
      if (disk[k] !== undefined && !values.includes(disk[k] as string)) problems.push(`${p}.${k}: ${showValue(disk[k])} is not accepted; expected one of ${values.join(", ")}`);
    };
    oneOf("format", ["raw", "qcow2"]);
    oneOf("cache", ["none", "writeback", "writethrough", "directsync", "unsafe"]);
    oneOf("io", ["native", "threads", "io_uring"]);
    const target = disk.target ?? `vd${String.fromCharCode(97 + i)}`;
    if (typeof target !== "string" || !DISK_TARGET.test(target)) problems.push(`${p}.target: ${showValue(target)} is not accepted; expected a virtio disk name such as vda, vdb`);
    else if (targets.has(target)) problems.push(`${p}.target: ${JSON.stringify(target)} is used by another disk`);
    else targets.add(target);
    const rule = ioCacheProblem({ cache: disk.cache as DiskDriver["cache"], io: disk.io as DiskDriver["io"] });
    if (rule) problems.push(`${p}: ${rule}`);
  });
  return problems;
}

/**
 * The owned parts a spec stands for: what LibvirtDomain keeps in sync after the
 * domain was built (memory, vCPU count, osinfo, disk drivers). The os type and
 * machine come from the skeleton and are not kept in sync.
 */
export function specParts(spec: DomainSpec): Partial<OwnedParts> {
  const memory = { value: spec.memoryMiB, unit: "MiB" };
  const v = spec.osVariant === undefined ? undefined : resolveOsVariant(spec.osVariant);
  const parts: Partial<OwnedParts> = {
    memory,
    currentMemory: { ...memory },
    vcpu: { count: spec.vcpus },
    disks: Object.fromEntries((spec.disks ?? []).map((d, i) => [
      diskTarget(d, i),
      { driver: diskDriver(d) },
    ])),
  };
  if (v && "uri" in v) parts.osinfo = v.uri;
  return parts;
}

/**
 * q35 has no hot-plug slot of its own: every hot-plugged PCIe device (a
 * VhostNetwork NIC, a PassthroughDisk) needs a free root port. libvirt places
 * the built-in devices on the first ones, so eight leave room for several.
 */
const ROOT_PORTS = 8;

// No user value in here: they are all set through the DOM below.
const SKELETON = `<domain type='kvm'>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <boot dev='hd'/>
  </os>
  <features>
    <acpi/>
    <apic/>
  </features>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
%PORTS%    <serial type='pty'>
      <target port='0'/>
    </serial>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>
  </devices>
</domain>
`.replace("%PORTS%", Array.from({ length: ROOT_PORTS }, (_, i) => `    <controller type='pci' index='${i + 1}' model='pcie-root-port'/>\n`).join(""));

/**
 * XML of a new domain: name, memory, vCPUs, type, q35 machine, libosinfo
 * metadata, virtio disks (cache none / io native unless told), a pty serial
 * console; then `parts` applied on top. Throws an InputError listing every
 * problem with the spec. The name must already be valid (see domainNameProblem).
 */
export function buildMinimalDomain(spec: NewDomainSpec, parts: Partial<OwnedParts> = {}): string {
  const { name, ...rest } = spec;
  const problems = domainSpecProblems(rest);
  if (problems.length > 0) throw new InputError("domain", problems);
  const doc = parseDomainXml(SKELETON);
  const d = doc.domain;
  setAttr(d, "type", spec.type ?? "kvm");
  setText(createChild(d, "name", DOMAIN_ORDER), name);
  const devices = child(d, "devices")!;
  (spec.disks ?? []).forEach((disk, i) => {
    const block = disk.path.startsWith("/dev/");
    const el = createChild(devices, "disk", DEVICES_ORDER, [["type", block ? "block" : "file"], ["device", "disk"]]);
    createChild(el, "driver", ["driver", "source", "target"], [["name", "qemu"]]);
    createChild(el, "source", ["driver", "source", "target"], [[block ? "dev" : "file", disk.path]]);
    createChild(el, "target", ["driver", "source", "target"], [["dev", diskTarget(disk, i)], ["bus", "virtio"]]);
  });
  // The spec's own parts first (disk drivers, memory, ...), then the caller's on top.
  applyOwnedParts(doc, specParts(rest));
  applyOwnedParts(doc, parts);
  return renderDomainXml(doc);
}
