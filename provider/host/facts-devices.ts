/** Block device, swap, network, PCI and IOMMU facts from a FactsDump. */
import { posix } from "node:path";
import type { FactsDump } from "./facts-dump";
import type { BlockDevice, IommuGroup, Mount, NetworkFacts, Nic, Partition, PciDevice, SshSession, SwapArea, UnresponsiveDevice } from "./facts";
import {
  basename,
  parseBracketChoice,
  parseFlag,
  parseHexId,
  parseIntStrict,
  parseIpAddrOneline,
  parseLsSymlinks,
  parseProcMounts,
  parseProcSwaps,
  pciAddressOfPath,
  textOrNull,
} from "./sysfs-parse";

const BLOCK = "/sys/block";
const BY_ID = "/dev/disk/by-id";
const NET = "/sys/class/net";
const PCI = "/sys/bus/pci/devices";
const IOMMU = "/sys/kernel/iommu_groups";

/** Compares digit runs numerically: "loop2" < "loop10", "nvme1n2" < "nvme1n10". */
export function naturalCompare(a: string, b: string): number {
  const chunks = (s: string) => s.match(/\d+|\D+/g) ?? [];
  const [ca, cb] = [chunks(a), chunks(b)];
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
    const [x, y] = [ca[i], cb[i]];
    if (x === y) continue;
    const numeric = /^\d/.test(x) && /^\d/.test(y);
    if (numeric && Number(x) !== Number(y)) return Number(x) - Number(y);
    return x < y ? -1 : 1;
  }
  return ca.length - cb.length;
}

/** Partition names of a disk: its sub-directories that have a `partition` file. */
function partitionNames(dump: FactsDump, disk: string): string[] {
  return dump.dirs(`${BLOCK}/${disk}`, `${disk}*`).filter((p) => dump.file(`${BLOCK}/${disk}/${p}/partition`) !== undefined);
}

/** /dev path of a kernel block name; sysfs spells "/" as "!" (cciss!c0d0). */
function devPath(name: string): string {
  return `/dev/${name.replace(/!/g, "/")}`;
}

/** Maps device paths seen in /proc/mounts and /proc/swaps to kernel block names. */
function blockResolver(dump: FactsDump): { resolve: (source: string) => string | null; byId: Map<string, string[]> } {
  const known = new Map<string, string>();
  for (const disk of dump.dirs(BLOCK)) {
    known.set(devPath(disk), disk);
    const dm = textOrNull(dump.file(`${BLOCK}/${disk}/dm/name`));
    if (dm !== null) known.set(`/dev/mapper/${dm}`, disk);
    for (const p of partitionNames(dump, disk)) known.set(devPath(p), p);
  }
  const byId = new Map<string, string[]>();
  for (const [link, target] of parseLsSymlinks(dump.command("ls-by-id") ?? "")) {
    const name = known.get(posix.resolve(BY_ID, target));
    if (name === undefined) continue;
    known.set(`${BY_ID}/${link}`, name);
    byId.set(name, [...(byId.get(name) ?? []), `${BY_ID}/${link}`].sort());
  }
  return { resolve: (source) => known.get(source) ?? null, byId };
}

export function readSwaps(dump: FactsDump): SwapArea[] {
  const { resolve } = blockResolver(dump);
  return parseProcSwaps(dump.file("/proc/swaps") ?? "").map((s) => ({ ...s, device: resolve(s.path) }));
}

/** NUMA node of a PCI function, by address. */
function pciNode(pci: PciDevice[], address: string | null): number | null {
  return pci.find((d) => d.address === address)?.numaNode ?? null;
}

export function readBlockDevices(dump: FactsDump, pci: PciDevice[]): BlockDevice[] {
  const { resolve, byId } = blockResolver(dump);
  const mountsOf = new Map<string, Mount[]>();
  for (const m of parseProcMounts(dump.file("/proc/mounts") ?? "")) {
    const name = resolve(m.source);
    if (name !== null) mountsOf.set(name, [...(mountsOf.get(name) ?? []), m]);
  }
  const swapped = new Set(parseProcSwaps(dump.file("/proc/swaps") ?? "").map((s) => resolve(s.path)));
  const sectorsToBytes = (path: string) => {
    const sectors = parseIntStrict(dump.file(path));
    return sectors === null ? null : sectors * 512; // `size` is always in 512-byte sectors
  };

  const devices: BlockDevice[] = [];
  for (const name of dump.dirs(BLOCK)) {
    const dir = `${BLOCK}/${name}`;
    const deviceLink = dump.link(`${dir}/device`);
    const sizeBytes = sectorsToBytes(`${dir}/size`);
    if (deviceLink === undefined && sizeBytes === 0) continue; // unused loop/ram/zram/nbd
    const sched = dump.parsed(`${dir}/queue/scheduler`, parseBracketChoice);
    const pciAddress = deviceLink === undefined ? null : pciAddressOfPath(deviceLink);
    const partitions: Partition[] = partitionNames(dump, name).map((p) => ({
      name: p,
      number: parseIntStrict(dump.file(`${dir}/${p}/partition`)),
      sizeBytes: sectorsToBytes(`${dir}/${p}/size`),
      holders: dump.list(`${dir}/${p}/holders`).sort(naturalCompare),
      mounts: mountsOf.get(p) ?? [],
      swap: swapped.has(p),
      byId: byId.get(p) ?? [],
    }));
    partitions.sort((a, b) => (a.number ?? 0) - (b.number ?? 0) || naturalCompare(a.name, b.name));
    devices.push({
      name,
      virtual: deviceLink === undefined,
      sizeBytes,
      removable: parseFlag(dump.file(`${dir}/removable`)),
      readOnly: parseFlag(dump.file(`${dir}/ro`)),
      rotational: parseFlag(dump.file(`${dir}/queue/rotational`)),
      schedulers: sched?.offered ?? [],
      // A queue that cannot take an elevator prints a bare "none".
      scheduler: sched === null ? null : (sched.active ?? (sched.offered.length === 1 ? sched.offered[0] : null)),
      readAheadKiB: parseIntStrict(dump.file(`${dir}/queue/read_ahead_kb`)),
      nrRequests: parseIntStrict(dump.file(`${dir}/queue/nr_requests`)),
      model: textOrNull(dump.file(`${dir}/device/model`)),
      serial: textOrNull(dump.file(`${dir}/serial`)) ?? textOrNull(dump.file(`${dir}/device/serial`)),
      wwid: textOrNull(dump.file(`${dir}/wwid`)) ?? textOrNull(dump.file(`${dir}/device/wwid`)),
      pciAddress,
      numaNode: pciNode(pci, pciAddress),
      dmName: textOrNull(dump.file(`${dir}/dm/name`)),
      byId: byId.get(name) ?? [],
      holders: dump.list(`${dir}/holders`).sort(naturalCompare),
      slaves: dump.list(`${dir}/slaves`).sort(naturalCompare),
      mounts: mountsOf.get(name) ?? [],
      swap: swapped.has(name),
      partitions,
    });
  }
  return devices.sort((a, b) => naturalCompare(a.name, b.name));
}

/**
 * Devices the facts script gave up on (`var unresponsive`: one `<dir> <seconds>`
 * line each), sorted by path. Lines that are not a /sys/block directory and a
 * whole number are not kvmtune's and are skipped.
 */
export function readUnresponsive(dump: FactsDump): UnresponsiveDevice[] {
  const out: UnresponsiveDevice[] = [];
  for (const line of (dump.variable("unresponsive") ?? "").split("\n")) {
    const m = /^(\/sys\/block\/[^/\s]+) (\d+)$/.exec(line.trim());
    if (m) out.push({ path: m[1], seconds: Number(m[2]) });
  }
  return out.sort((a, b) => naturalCompare(a.path, b.path));
}

/** Numeric node id, with the kernel's -1 ("no affinity") as null. */
function numaNodeOf(text: string | undefined): number | null {
  const n = parseIntStrict(text);
  return n === null || n < 0 ? null : n;
}

function linkName(dump: FactsDump, path: string): string | null {
  const target = dump.link(path);
  return target === undefined ? null : basename(target);
}

/** Address part of an SSH_CONNECTION field: drops an IPv6 zone and the IPv4-mapped prefix. */
function plainAddress(addr: string): string {
  const a = addr.toLowerCase().replace(/%.*$/, "");
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/.test(a) ? a.slice(7) : a;
}

export function readNetwork(dump: FactsDump, pci: PciDevice[]): NetworkFacts {
  const ipOutput = dump.command("ip-addr");
  const addrs = parseIpAddrOneline(ipOutput ?? "");
  const nics: Nic[] = dump
    .dirs(NET)
    .sort(naturalCompare)
    .map((name) => {
      const dir = `${NET}/${name}`;
      const deviceLink = dump.link(`${dir}/device`);
      const isBridge = dump.hasList(`${dir}/brif`);
      const own = addrs.filter((a) => a.ifname === name);
      const pciAddress = deviceLink === undefined ? null : pciAddressOfPath(deviceLink);
      return {
        name,
        virtual: deviceLink === undefined,
        mtu: parseIntStrict(dump.file(`${dir}/mtu`)),
        mac: textOrNull(dump.file(`${dir}/address`)),
        operstate: textOrNull(dump.file(`${dir}/operstate`)),
        driver: linkName(dump, `${dir}/device/driver`),
        pciAddress,
        numaNode: numaNodeOf(dump.file(`${dir}/device/numa_node`)) ?? pciNode(pci, pciAddress),
        sriovTotalVfs: parseIntStrict(dump.file(`${dir}/device/sriov_totalvfs`)),
        sriovNumVfs: parseIntStrict(dump.file(`${dir}/device/sriov_numvfs`)),
        sriovPhysfn: linkName(dump, `${dir}/device/physfn`),
        isBridge,
        bridgePorts: isBridge ? dump.list(`${dir}/brif`).sort(naturalCompare) : [],
        bridge: linkName(dump, `${dir}/brport/bridge`),
        ipv4: own.filter((a) => a.family === "inet").map((a) => a.cidr),
        ipv6: own.filter((a) => a.family === "inet6").map((a) => a.cidr),
      };
    });

  let ssh: SshSession | null = null;
  const conn = textOrNull(dump.variable("ssh-connection"))?.split(/\s+/);
  if (conn && conn.length >= 3) {
    const server = plainAddress(conn[2]);
    const holder = addrs.find((a) => plainAddress(a.cidr.split("/")[0]) === server);
    ssh = { clientAddress: plainAddress(conn[0]), serverAddress: server, interface: holder?.ifname ?? null };
  }
  const arp = dump.file("/proc/sys/net/ipv4/conf/all/arp_filter")?.trim();
  return { addressesKnown: ipOutput !== undefined, ssh, nics, arpFilter: arp === undefined ? null : arp === "1" };
}

export function readPciDevices(dump: FactsDump): PciDevice[] {
  return dump
    .dirs(PCI)
    .sort()
    .map((address) => {
      const dir = `${PCI}/${address}`;
      return {
        address,
        classCode: parseHexId(dump.file(`${dir}/class`)),
        vendorId: parseHexId(dump.file(`${dir}/vendor`)),
        deviceId: parseHexId(dump.file(`${dir}/device`)),
        driver: linkName(dump, `${dir}/driver`),
        numaNode: numaNodeOf(dump.file(`${dir}/numa_node`)),
        iommuGroup: parseIntStrict(linkName(dump, `${dir}/iommu_group`) ?? undefined),
        sriovTotalVfs: parseIntStrict(dump.file(`${dir}/sriov_totalvfs`)),
        sriovNumVfs: parseIntStrict(dump.file(`${dir}/sriov_numvfs`)),
        physfn: linkName(dump, `${dir}/physfn`),
      };
    });
}

export function readIommuGroups(dump: FactsDump, pci: PciDevice[]): IommuGroup[] {
  const byAddress = new Map(pci.map((d) => [d.address, d]));
  const groups: IommuGroup[] = [];
  for (const g of dump.dirs(IOMMU)) {
    const id = parseIntStrict(g);
    if (id === null) continue;
    const devices = dump
      .list(`${IOMMU}/${g}/devices`)
      .sort()
      .map((address) => {
        const d = byAddress.get(address);
        return {
          address,
          classCode: d?.classCode ?? null,
          vendorId: d?.vendorId ?? null,
          deviceId: d?.deviceId ?? null,
          driver: d?.driver ?? null,
        };
      });
    groups.push({ id, devices });
  }
  return groups.sort((a, b) => a.id - b.id);
}
