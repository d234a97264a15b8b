/**
 * The owned parts of a libvirt domain: the pieces of `<domain>` XML that kvmtune
 * manages, as plain JSON-safe data. Everything else in the XML belongs to someone
 * else and is kept as it is.
 *
 * Conventions, for desired parts passed to `applyOwnedParts` / `diffOwnedParts`:
 * - an omitted field (undefined) is not owned: apply leaves it alone, diff ignores it;
 * - `null` means "must be absent": apply removes it, diff expects it absent (or at
 *   libvirt's default, e.g. `placement='static'`);
 * - a list (vcpupin, memnode, NUMA cells, hugepage pages) is the complete set.
 * `readOwnedParts` returns every part, with `null` for an absent part and omitted
 * fields for absent attributes.
 */

/** A size as libvirt writes it; `unit` defaults to "KiB" (libvirt's default). */
export interface MemorySize {
  value: number;
  /** basictypes.rng `unit`: "KiB", "MiB", "GiB", "k", "M", "G", "KB" (1000), "bytes", ... */
  unit?: string;
}

/** `<vcpu placement cpuset current>count</vcpu>`. */
export interface VcpuPart {
  count: number;
  placement?: "static" | "auto" | null;
  /** Host CPUs the vCPUs may run on by default, libvirt cpuset syntax ("0-7,^3"). */
  cpuset?: string | null;
  /** vCPUs online at boot; libvirt omits it when equal to `count`. */
  current?: number | null;
}

/** `<iothreads>count</iothreads>` (any `<iothreadids>` are left to libvirt). */
export interface IothreadsPart {
  count: number;
}

/** `<vcpupin vcpu cpuset/>`. */
export interface VcpuPin {
  vcpu: number;
  cpuset: string;
}

/** `<iothreadpin iothread cpuset/>`. */
export interface IothreadPin {
  iothread: number;
  cpuset: string;
}

/** The pinning elements of `<cputune>`; shares, quotas, schedulers, cachetune stay unowned. */
export interface CputunePart {
  vcpupin?: VcpuPin[];
  emulatorpin?: { cpuset: string } | null;
  iothreadpin?: IothreadPin[];
}

export type NumaMemoryMode = "strict" | "preferred" | "interleave" | "restrictive";

/** `<numatune><memory mode placement nodeset/>`. */
export interface NumatuneMemory {
  /** libvirt's default is "strict". */
  mode?: NumaMemoryMode | null;
  /** Host NUMA nodes, cpuset syntax. */
  nodeset?: string | null;
  /** "auto" asks numad; it excludes `nodeset`. Default "static". */
  placement?: "static" | "auto" | null;
}

/** `<numatune><memnode cellid mode nodeset/>`: guest cell -> host nodes. */
export interface Memnode {
  cellid: number;
  mode: NumaMemoryMode;
  nodeset: string;
}

export interface NumatunePart {
  memory?: NumatuneMemory | null;
  memnode?: Memnode[];
}

/** `<memoryBacking><hugepages><page size unit nodeset/>`. */
export interface HugePage {
  size: number;
  /** Default "KiB". */
  unit?: string;
  /** Guest NUMA cells this page size backs; omitted = all cells. */
  nodeset?: string;
}

/** The owned children of `<memoryBacking>` (source/access/allocation/discard stay unowned). */
export interface MemoryBackingPart {
  /** `null`: no hugepages; `[]`: `<hugepages/>` (the host's default size). */
  hugepages?: HugePage[] | null;
  locked?: boolean;
  nosharepages?: boolean;
}

export type CpuMode = "host-passthrough" | "host-model" | "custom" | "maximum";

/** `<cpu><topology sockets dies cores threads/>`. */
export interface CpuTopology {
  sockets: number;
  /** libvirt writes dies='1' when not given. */
  dies?: number;
  cores: number;
  threads: number;
}

/** `<distances><sibling id value/>` of a guest NUMA cell. */
export interface NumaDistance {
  id: number;
  value: number;
}

/** `<cpu><numa><cell id cpus memory unit memAccess>`. */
export interface NumaCell {
  id: number;
  /** Guest vCPUs in this cell (cpuset syntax); absent for a memory-only cell (null: remove them). */
  cpus?: string | null;
  memory: number;
  /** Default "KiB". */
  unit?: string;
  memAccess?: "shared" | "private" | null;
  distances?: NumaDistance[] | null;
}

/** The owned bits of `<cpu>`: model, vendor, features and cache stay unowned. */
export interface CpuPart {
  /** libvirt's default is "custom". */
  mode?: CpuMode | null;
  match?: "minimum" | "exact" | "strict" | null;
  check?: "none" | "partial" | "full" | null;
  topology?: CpuTopology | null;
  /**
   * null: no guest NUMA topology. Where the domain needs a cell (memory devices) or its
   * cells carry attributes kvmtune does not own, the provider keeps one cell 0 with every
   * vCPU instead (see domain-fit.ts).
   */
  numa?: NumaCell[] | null;
}

/** `<os><type arch machine>type</type>`; boot order, loader, firmware stay unowned. */
export interface OsPart {
  /** The text of `<type>`, e.g. "hvm". */
  type?: string;
  arch?: string | null;
  machine?: string | null;
}

/** The owned attributes of a disk's `<driver>`; others (error_policy, ...) stay unowned. */
export interface DiskDriver {
  name?: string | null;
  /** Image format, e.g. "raw", "qcow2". */
  type?: string | null;
  cache?: "default" | "none" | "writeback" | "writethrough" | "directsync" | "unsafe" | null;
  io?: "threads" | "native" | "io_uring" | null;
  discard?: "unmap" | "ignore" | null;
  iothread?: number | null;
  queues?: number | null;
}

/** A disk, identified by its target dev (the key of `OwnedParts.disks`). */
export interface DiskPart {
  driver?: DiskDriver | null;
}

/** `<interface><source>`: its attributes, and for type='hostdev' the VF's PCI address. */
export interface InterfaceSource {
  /** e.g. {bridge: "br0"}, {network: "default"}, {dev: "eth0", mode: "passthrough"}. */
  attributes: Record<string, string>;
  /** type='hostdev': `<source><address type='pci' .../>`, as "0000:5e:10.2". */
  pciAddress?: string;
}

/** The owned attributes of an interface's `<driver>`. */
export interface InterfaceDriver {
  name?: "vhost" | "qemu" | null;
  queues?: number | null;
  rx_queue_size?: number | null;
  tx_queue_size?: number | null;
}

/** An interface, identified by MAC (the key of `OwnedParts.interfaces`). */
export interface InterfacePart {
  /** "bridge", "network", "direct", "hostdev", ...; required to create one. */
  type?: string;
  source?: InterfaceSource | null;
  /** `<model type>`, e.g. "virtio". */
  model?: string | null;
  driver?: InterfaceDriver | null;
  /** `<mtu size>`. */
  mtu?: number | null;
  /** `<vlan><tag id>`: one 802.1Q tag (SR-IOV VFs, Open vSwitch); null: untagged. */
  vlan?: number | null;
}

/**
 * A host device, identified by its source: the PCI address ("0000:5e:00.0") for PCI,
 * else "<type>:<attr>=<value>,..." of its source elements (e.g. "usb:vendor=0x1234,product=0x5678").
 */
export interface HostdevPart {
  /** "pci", "usb", "scsi", "mdev", ...; only "pci" can be created. */
  type?: string;
  managed?: boolean | null;
}

/** Every owned part of one domain. */
export interface OwnedParts {
  memory: MemorySize | null;
  currentMemory: MemorySize | null;
  vcpu: VcpuPart | null;
  iothreads: IothreadsPart | null;
  cputune: CputunePart | null;
  numatune: NumatunePart | null;
  memoryBacking: MemoryBackingPart | null;
  cpu: CpuPart | null;
  os: OsPart | null;
  /** libosinfo os id from `<metadata><libosinfo:libosinfo><libosinfo:os id>`, e.g. "http://debian.org/debian/12". */
  osinfo: string | null;
  /** Keyed by target dev ("vda"). Disks are never created or removed here. */
  disks: Record<string, DiskPart>;
  /** Keyed by lower-case MAC; `null` in a desired map removes that interface. */
  interfaces: Record<string, InterfacePart | null>;
  /** Keyed as described on `HostdevPart`; `null` in a desired map removes it. */
  hostdevs: Record<string, HostdevPart | null>;
}

/** One difference between a desired and an actual owned part. */
export interface PartDiff {
  /** Stable path, e.g. "cputune.vcpupin[3]", "devices.disk[vdb].driver.cache". */
  path: string;
  /** Actual value; null when absent. */
  from: string | number | boolean | null;
  /** Desired value; null when it must be absent. */
  to: string | number | boolean | null;
}

/** The libosinfo metadata namespace virt-install and virt-manager write. */
export const LIBOSINFO_NS = "http://libosinfo.org/xmlns/libvirt/domain/1.0";
