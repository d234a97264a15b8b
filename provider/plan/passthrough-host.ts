/**
 * What the host itself needs, read from HostFacts, for the passthrough preflights:
 * the disk(s) holding `/`, the PCI functions carrying the management (SSH)
 * connection, and what uses a block device (mounts, swap, holders, loop devices).
 * Pure: no I/O.
 */
import type { BlockDevice, HostFacts, Mount, Partition } from "../host/facts";

/** A disk or a partition, with the disk it belongs to. */
export interface BlockEntry {
  name: string;
  /** The whole disk's kernel name (== name for a disk). */
  disk: string;
  isPartition: boolean;
  device: BlockDevice;
  partition: Partition | null;
}

/** Looks up a kernel block name (disk or partition) in the facts. */
export function findBlock(facts: HostFacts, name: string): BlockEntry | null {
  for (const d of facts.blockDevices) {
    if (d.name === name) return { name, disk: d.name, isPartition: false, device: d, partition: null };
    const p = d.partitions.find((x) => x.name === name);
    if (p) return { name, disk: d.name, isPartition: true, device: d, partition: p };
  }
  return null;
}

/** "/dev/<name>" for a kernel block name (sysfs spells "/" as "!"). */
export function devPathOf(name: string): string {
  return `/dev/${name.replace(/!/g, "/")}`;
}

/** "dm-0 (vg0-root)" for a dm device, else the name. */
export function describeBlock(facts: HostFacts, name: string): string {
  const dm = facts.blockDevices.find((d) => d.name === name)?.dmName;
  return dm ? `${name} (${dm})` : name;
}

/** How `/` reaches its disks. */
export interface RootDisks {
  /** Physical (bottom) disks holding `/`, sorted; empty when `/` is not on a block device (initramfs, NFS). */
  disks: string[];
  /** e.g. '/ is mounted from /dev/mapper/vg0-root (dm-0 on nvme0n1p3)'; null when no disk holds `/`. */
  description: string | null;
}

/** The disk(s) holding `/`, following device-mapper/md slaves down to partitions and disks. */
export function rootDisks(facts: HostFacts): RootDisks {
  const roots: { name: string; mount: Mount }[] = [];
  for (const d of facts.blockDevices) {
    for (const m of d.mounts) if (m.mountPoint === "/") roots.push({ name: d.name, mount: m });
    for (const p of d.partitions) for (const m of p.mounts) if (m.mountPoint === "/") roots.push({ name: p.name, mount: m });
  }
  if (roots.length === 0) return { disks: [], description: null };
  const disks = new Set<string>();
  const parts: string[] = [];
  for (const root of roots) {
    const chain: string[] = [];
    const seen = new Set<string>();
    const walk = (name: string) => {
      if (seen.has(name)) return;
      seen.add(name);
      const e = findBlock(facts, name);
      if (!e) return;
      if (e.isPartition) {
        disks.add(e.disk);
        return;
      }
      if (e.device.slaves.length === 0) {
        disks.add(e.disk);
        return;
      }
      chain.push(...e.device.slaves);
      for (const s of e.device.slaves) walk(s);
    };
    walk(root.name);
    const via = chain.length ? ` on ${chain.join(", ")}` : "";
    parts.push(`${root.mount.source} (${root.name}${via})`);
  }
  return { disks: [...disks].sort(), description: `/ is mounted from ${parts.join(" and ")}` };
}

/** One reason a disk or partition is busy: `name` is the disk/partition it is about, `text` starts with "is". */
export interface BlockUse {
  name: string;
  text: string;
}

/** Why a disk (with its partitions) or a partition is busy on the host; empty when free. */
export function blockUsage(facts: HostFacts, e: BlockEntry, loops: readonly { loop: string; backing: string }[] = []): BlockUse[] {
  const out: BlockUse[] = [];
  const targets: { name: string; mounts: Mount[]; swap: boolean; holders: string[] }[] = e.partition
    ? [{ name: e.name, mounts: e.partition.mounts, swap: e.partition.swap, holders: e.partition.holders }]
    : [
        { name: e.name, mounts: e.device.mounts, swap: e.device.swap, holders: e.device.holders },
        ...e.device.partitions.map((p) => ({ name: p.name, mounts: p.mounts, swap: p.swap, holders: p.holders })),
      ];
  for (const t of targets) {
    const use = (text: string) => out.push({ name: t.name, text });
    for (const m of t.mounts) use(`is mounted at ${JSON.stringify(m.mountPoint)} (${m.fsType}, from ${m.source})`);
    if (t.swap) use(`is active swap (${facts.swaps.find((x) => x.device === t.name)?.path ?? devPathOf(t.name)})`);
    if (t.holders.length) use(`is held by ${t.holders.map((h) => describeBlock(facts, h)).join(", ")} (a device-mapper/LVM/md device is stacked on it)`);
    const backing = loops.filter((l) => l.backing === t.name).map((l) => l.loop);
    if (backing.length) use(`is the backing device of ${backing.join(", ")}`);
  }
  return out;
}

/** "sda1 is mounted at ..." style line for a use, with `self` standing for the entry itself. */
export function describeUse(u: BlockUse, e: BlockEntry, self: string): string {
  return u.name === e.name ? `${self} ${u.text}` : `${self}: partition ${u.name} ${u.text}`;
}

/** A PCI function the management connection depends on. */
export interface ManagementPci {
  address: string;
  /** The interface with that PCI function, e.g. "eno1". */
  nic: string;
  /** "nic": the management NIC itself; "physfn": the SR-IOV PF of a management VF. */
  role: "nic" | "physfn";
  /** e.g. "SSH session to 192.168.10.11 on br0, a bridge with port eno1". */
  path: string;
}

/** PCI functions carrying the SSH session the facts were read over, and why they could not be found. */
export function managementPci(facts: HostFacts): { functions: ManagementPci[]; unknown: string | null } {
  const ssh = facts.network.ssh;
  if (!ssh) return { functions: [], unknown: "the facts were not read over SSH, so the management NIC is unknown" };
  if (!ssh.interface) return { functions: [], unknown: `no interface holds the SSH server address ${ssh.serverAddress}, so the management NIC is unknown` };
  const nics = new Map(facts.network.nics.map((n) => [n.name, n]));
  const functions: ManagementPci[] = [];
  const unresolved: string[] = [];
  const seen = new Set<string>();
  const session = `SSH session to ${ssh.serverAddress} on ${ssh.interface}`;
  /** Adds the PCI functions under `name`; returns the virtual interfaces it could not see below. */
  const visit = (name: string, via: string): string[] => {
    if (seen.has(name)) return [];
    seen.add(name);
    const nic = nics.get(name);
    if (!nic) return [name];
    if (nic.pciAddress) {
      functions.push({ address: nic.pciAddress, nic: name, role: "nic", path: `${session}${via}` });
      if (nic.sriovPhysfn) functions.push({ address: nic.sriovPhysfn, nic: name, role: "physfn", path: `${session}${via}` });
      return [];
    }
    if (nic.isBridge && nic.bridgePorts.length) {
      const before = functions.length;
      const blind = nic.bridgePorts.flatMap((port) => visit(port, `${via}, a bridge with port ${port}`));
      // guest taps/veths on the bridge are not uplinks: only a bridge without a PCI port stays unknown
      return functions.length > before ? [] : blind;
    }
    return [name];
  };
  unresolved.push(...visit(ssh.interface, ""));
  const unknown = unresolved.length
    ? `the management path goes through ${unresolved.join(", ")}, whose lower devices the facts do not show (bond, VLAN or other virtual interface), so not every PCI function it uses is known`
    : null;
  return { functions, unknown };
}
