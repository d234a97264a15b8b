/**
 * Host facts: what planners need to know about a KVM host, as plain JSON data.
 * `parseHostFacts` turns the output of FACTS_SCRIPT into `HostFacts`; it is pure.
 *
 * Conventions: sizes carry their unit in the name (KiB as the kernel reports
 * them, bytes for block devices); cpulists are expanded to sorted number[];
 * `null` means "not reported by this host" (file absent or unreadable), never 0.
 */
import { FactsDump } from "./facts-dump";
import { readBlockDevices, readIommuGroups, readNetwork, readPciDevices, readSwaps, readUnresponsive } from "./facts-devices";
import { readCpu, readKernel, readMemory, readNuma, readVirt } from "./facts-system";
import { readBootSources, type BootSources } from "./facts-boot";
import { readBootloader, type BootloaderFacts } from "./bootloader";
import { JOURNAL_PATH, parseJournal, type ParsedJournal } from "./journal";
import type { BracketChoice } from "./sysfs-parse";
import { readHostDomains, readMachineId, type HostDomainsFacts } from "./facts-domains";

export { parseBracketChoice, parseCpuList, formatCpuList } from "./sysfs-parse";
export type { BracketChoice } from "./sysfs-parse";
export type { BootConfFile, BootSources, TunedSources } from "./facts-boot";
export type { BootloaderFacts } from "./bootloader";
export type { HostDomain, HostDomainCell, HostDomainPages, HostDomainsFacts } from "./facts-domains";

export interface HostFacts {
  /** /proc/sys/kernel/hostname. */
  hostname: string | null;
  kernel: KernelFacts;
  /** Effective uid the script ran as; non-root (non-0) runs may miss root-only files. */
  uid: number | null;
  /** CPU sets, model and flags. */
  cpu: CpuFacts;
  /** Per CPU, sorted by id. */
  cpus: Cpu[];
  /** False when the host has no /sys/devices/system/node: one node 0 is synthesised from /proc/meminfo. */
  numaFromSysfs: boolean;
  /** NUMA nodes sorted by id. */
  numaNodes: NumaNode[];
  memory: MemoryFacts;
  /** /sys/block entries sorted by name; unused virtual devices (size 0 loop/ram/zram/nbd) are left out. */
  blockDevices: BlockDevice[];
  /**
   * Block devices whose queue and driver files did not answer within the facts
   * script's bound (a frozen request queue blocks those reads in the kernel),
   * sorted by path. Their `blockDevices` entries hold only the generic disk
   * attributes (size, ro, removable, holders, partitions, PCI function); queue
   * and identity fields are null or empty. Nothing may be read from or written
   * to such a device's directory in this run: it would hang. Empty when every
   * device answered; absent in facts from an older kvmtune.
   */
  unresponsive: UnresponsiveDevice[];
  /** Active swap areas (/proc/swaps). */
  swaps: SwapArea[];
  network: NetworkFacts;
  /** All PCI functions (/sys/bus/pci/devices), sorted by address. */
  pciDevices: PciDevice[];
  /** IOMMU groups sorted by id; empty when the IOMMU is off. */
  iommuGroups: IommuGroup[];
  virt: VirtFacts;
  /** Other actors that set kvmtune's settings at boot (sysctl.d, udev rules, .link/.network, tuned); null when not read (facts from an older kvmtune). */
  bootSources: BootSources | null;
  /** Boot loader tools, GRUB configs and BLS entries; null when not read (facts from an older kvmtune). */
  bootloader: BootloaderFacts | null;
  /** /etc/machine-id: the host's identity (one host reached by name and by address is one host); null when absent. Absent in facts from an older kvmtune. */
  machineId?: string | null;
  /** Every libvirt domain on the host (guests of other programs included). Absent in facts from an older kvmtune. */
  libvirtDomains?: HostDomainsFacts;
  /** kvmtune's journal of originals on this host (who owns which key); empty when there is none, absent in facts from an older kvmtune. */
  journal?: ParsedJournal;
}

export interface KernelFacts {
  /** `uname -r` (/proc/sys/kernel/osrelease). */
  release: string | null;
  /** The running kernel's command line (/proc/cmdline). */
  cmdline: string | null;
}

export interface CpuFacts {
  /** CPUs the kernel registered (cpuN directories), online or not. */
  count: number;
  /** /sys/devices/system/cpu/online (falls back to the per-CPU state). */
  online: number[];
  present: number[];
  possible: number[];
  /** CPUs isolated from the scheduler (isolcpus=), /sys/devices/system/cpu/isolated. */
  isolated: number[];
  /** Adaptive-tick CPUs (nohz_full=). */
  nohzFull: number[];
  /** First "model name" of /proc/cpuinfo. */
  model: string | null;
  /** Flags from the first `flags` line of /proc/cpuinfo. */
  flags: CpuFlags;
}

export interface CpuFlags {
  /** 1 GiB pages supported (needed for 1G hugepages). */
  pdpe1gb: boolean;
  /** 2/4 MiB pages supported. */
  pse: boolean;
  /** Intel VT-x. */
  vmx: boolean;
  /** AMD-V. */
  svm: boolean;
  /** Running under a hypervisor (nested KVM). */
  hypervisor: boolean;
}

export interface Cpu {
  id: number;
  /** A missing `online` file (usual for cpu0) means online. */
  online: boolean;
  /** topology/core_id: unique within a socket, not necessarily contiguous. Null when offline. */
  coreId: number | null;
  /** topology/physical_package_id. Null when offline. */
  socketId: number | null;
  /** NUMA node (cpuN/nodeM link, else node cpulists); 0 on hosts without NUMA sysfs. */
  node: number | null;
  /** topology/thread_siblings_list, including this CPU; empty when offline. */
  threadSiblings: number[];
}

export interface NumaNode {
  id: number;
  cpus: number[];
  /** nodeN/meminfo MemTotal. */
  memTotalKiB: number | null;
  /** nodeN/meminfo MemFree. */
  memFreeKiB: number | null;
  /** SLIT distances to every online node, this node included (10 = local). */
  distances: NodeDistance[];
  /** Per-node hugetlb pools, one per supported size. */
  hugepages: HugepagePool[];
}

export interface NodeDistance {
  node: number;
  distance: number;
}

/** A hugetlb pool (Documentation/admin-guide/mm/hugetlbpage.rst). */
export interface HugepagePool {
  /** Page size, e.g. 2048 or 1048576. */
  sizeKiB: number;
  /** nr_hugepages: persistent pages in the pool. */
  total: number | null;
  /** free_hugepages. */
  free: number | null;
  /** surplus_hugepages (overcommitted, above nr_hugepages). */
  surplus: number | null;
}

/** The system-wide pool (/sys/kernel/mm/hugepages) has two more counters than a node's. */
export interface GlobalHugepagePool extends HugepagePool {
  /** resv_hugepages: promised to mappings but not yet faulted in. */
  reserved: number | null;
  /** nr_overcommit_hugepages. */
  overcommit: number | null;
}

export interface MemoryFacts {
  /** /proc/meminfo MemTotal. */
  totalKiB: number | null;
  freeKiB: number | null;
  availableKiB: number | null;
  /** /proc/meminfo Hugepagesize: the size `hugepages=` and a bare hugetlbfs mount use. */
  defaultHugepageSizeKiB: number | null;
  /** Global pools sorted by size. */
  hugepages: GlobalHugepagePool[];
  /** Transparent hugepages; null when the kernel has no THP. */
  thp: ThpFacts | null;
}

export interface ThpFacts {
  /** transparent_hugepage/enabled, e.g. offered [always, madvise, never], active "madvise". */
  enabled: BracketChoice;
  /** transparent_hugepage/defrag. */
  defrag: BracketChoice;
}

export interface BlockDevice {
  /** Kernel name, e.g. "nvme0n1", "sda", "dm-0" ("!" in sysfs names stands for "/" in /dev). */
  name: string;
  /** No `device` link: software devices such as loop, ram, zram, dm-*, md*. */
  virtual: boolean;
  /** size (always in 512-byte sectors) * 512. */
  sizeBytes: number | null;
  removable: boolean | null;
  readOnly: boolean | null;
  /** queue/rotational. */
  rotational: boolean | null;
  /** I/O schedulers offered by queue/scheduler; empty when the queue has none (e.g. zram). */
  schedulers: string[];
  /** Active scheduler ("none" included). */
  scheduler: string | null;
  /** queue/read_ahead_kb. */
  readAheadKiB: number | null;
  /** queue/nr_requests. */
  nrRequests: number | null;
  model: string | null;
  serial: string | null;
  /** World-wide id (wwid or device/wwid), e.g. "eui.…", "naa.…". */
  wwid: string | null;
  /** PCI function the device hangs off (NVMe controller, virtio-blk, SATA/SAS HBA). */
  pciAddress: string | null;
  /** NUMA node of that PCI function; null when unknown. */
  numaNode: number | null;
  /** Device-mapper name (dm/name), e.g. "vg0-root". */
  dmName: string | null;
  /** /dev/disk/by-id paths pointing at this device. */
  byId: string[];
  /** Devices stacked on this one (holders/), e.g. ["dm-0"]. */
  holders: string[];
  /** Devices this one is stacked on (slaves/), e.g. a dm device's ["nvme0n1p3"]. */
  slaves: string[];
  /** Filesystems mounted from the whole device. */
  mounts: Mount[];
  /** The whole device is an active swap area. */
  swap: boolean;
  /** Sorted by partition number. */
  partitions: Partition[];
}

/** A device that did not answer the facts read (see HostFacts.unresponsive). */
export interface UnresponsiveDevice {
  /** Its sysfs directory, e.g. "/sys/block/vdb". */
  path: string;
  /** The facts script's bound: it did not answer within that many seconds (it may have had longer). */
  seconds: number;
}

export interface Partition {
  name: string;
  number: number | null;
  sizeBytes: number | null;
  holders: string[];
  mounts: Mount[];
  swap: boolean;
  byId: string[];
}

export interface Mount {
  /** Source as /proc/mounts shows it, e.g. "/dev/mapper/vg0-root". */
  source: string;
  mountPoint: string;
  fsType: string;
  options: string[];
}

export interface SwapArea {
  path: string;
  /** "partition" or "file". */
  type: string;
  sizeKiB: number;
  usedKiB: number;
  priority: number;
  /** Block device or partition name it lives on directly, when it is one. */
  device: string | null;
}

export interface NetworkFacts {
  /** False when `ip -o addr` could not run: addresses are then unknown, not absent. */
  addressesKnown: boolean;
  /** The SSH session the facts were read over; null when not run over SSH. */
  ssh: SshSession | null;
  /** Sorted by name. */
  nics: Nic[];
  /** net.ipv4.conf.all.arp_filter is 1 (each NIC answers ARP only for its own addresses); null when unreadable. */
  arpFilter: boolean | null;
}

export interface SshSession {
  clientAddress: string;
  /** Local address the session arrived on (3rd field of SSH_CONNECTION). */
  serverAddress: string;
  /** Interface holding serverAddress: changing it can cut the session. Null when no interface matches. */
  interface: string | null;
}

export interface Nic {
  name: string;
  /** No `device` link: lo, bridges, bonds, vlans, taps, veths. */
  virtual: boolean;
  mtu: number | null;
  mac: string | null;
  /** RFC 2863 state: up, down, unknown, lowerlayerdown, … */
  operstate: string | null;
  /** Driver name (device/driver), e.g. "i40e", "virtio_net". */
  driver: string | null;
  /** PCI function of the NIC (virtio NICs: the virtio PCI function); null when virtual or not PCI (USB). */
  pciAddress: string | null;
  /** NUMA node of the device (or its PCI function); null when unknown (-1) or virtual. */
  numaNode: number | null;
  /** device/sriov_totalvfs; null when not an SR-IOV physical function. */
  sriovTotalVfs: number | null;
  /** device/sriov_numvfs: VFs currently enabled. */
  sriovNumVfs: number | null;
  /** For an SR-IOV virtual function: the PCI address of its physical function. */
  sriovPhysfn: string | null;
  /** Is a Linux bridge. */
  isBridge: boolean;
  /** Ports of the bridge (brif/), sorted; empty unless isBridge. */
  bridgePorts: string[];
  /** The bridge this interface is a port of. */
  bridge: string | null;
  /** IPv4 addresses with prefix, e.g. "192.0.2.2/24". */
  ipv4: string[];
  ipv6: string[];
}

export interface PciDevice {
  /** Domain:bus:device.function, e.g. "0000:5e:00.0". */
  address: string;
  /** Class code as lspci -n prints it, e.g. "020000" (Ethernet). */
  classCode: string | null;
  /** e.g. "8086". */
  vendorId: string | null;
  /** e.g. "1572". */
  deviceId: string | null;
  /** Bound driver, e.g. "vfio-pci"; null when unbound. */
  driver: string | null;
  numaNode: number | null;
  iommuGroup: number | null;
  sriovTotalVfs: number | null;
  sriovNumVfs: number | null;
  /** PF address when this function is an SR-IOV VF. */
  physfn: string | null;
}

export interface IommuGroup {
  id: number;
  /** Members sorted by address; passthrough must take all of them (ACS permitting). */
  devices: IommuGroupDevice[];
}

/** A group member; PCI fields are null for non-PCI members. */
export type IommuGroupDevice = Pick<PciDevice, "address" | "classCode" | "vendorId" | "deviceId" | "driver">;

export interface VirtFacts {
  /** /dev/vhost-net exists. */
  vhostNetDevice: boolean | null;
  /** /dev/kvm exists. */
  kvmDevice: boolean | null;
  /** Loaded modules (/proc/modules); empty on kernels without module support. */
  loadedModules: string[];
  /** /sys/module entries: loaded modules plus built-in ones that expose parameters (e.g. a built-in vhost_net). */
  sysfsModules: string[];
  /** libvirt's virsh, when on PATH. */
  virsh: { path: string; version: string | null } | null;
}

/**
 * Parses FACTS_SCRIPT output. Missing or unreadable files just leave fields null/empty;
 * it throws only when the output is not complete facts output or a kernel-formatted
 * value (cpulist, choice list) is malformed, naming the file.
 */
export function parseHostFacts(output: string): HostFacts {
  const dump = new FactsDump(output);
  const { cpu, cpus } = readCpu(dump);
  const memory = readMemory(dump);
  const numa = readNuma(dump, cpus, memory);
  const pciDevices = readPciDevices(dump);
  return {
    hostname: dump.file("/proc/sys/kernel/hostname")?.trim() || null,
    kernel: readKernel(dump),
    uid: readUid(dump),
    cpu,
    cpus,
    numaFromSysfs: numa.fromSysfs,
    numaNodes: numa.nodes,
    memory,
    blockDevices: readBlockDevices(dump, pciDevices),
    unresponsive: readUnresponsive(dump),
    swaps: readSwaps(dump),
    network: readNetwork(dump, pciDevices),
    pciDevices,
    iommuGroups: readIommuGroups(dump, pciDevices),
    virt: readVirt(dump),
    bootSources: readBootSources(dump),
    bootloader: readBootloader(dump),
    journal: parseJournal(dump.file(JOURNAL_PATH)),
    machineId: readMachineId(dump),
    libvirtDomains: readHostDomains(dump),
  };
}

function readUid(dump: FactsDump): number | null {
  // "Uid:\treal\teffective\tsaved\tfs"
  const f = dump.variable("status-uid")?.trim().split(/\s+/);
  const n = f && f.length >= 3 ? Number(f[2]) : NaN;
  return Number.isSafeInteger(n) ? n : null;
}
