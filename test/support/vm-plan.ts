// Pure part of a test VM: options -> what qemu is told (topology, NUMA, disks, NIC)
// and the qemu command line. No I/O, so it can be unit-tested.
import * as path from "node:path";
import { TestbedImage } from "./build-image";

export interface TestVmOptions {
  /** Also the guest's hostname. Default "kvmt-vm". */
  name?: string;
  /** vCPUs, default 4; split evenly over the NUMA nodes (one socket per node). */
  cpus?: number;
  /** Default 2. */
  numaNodes?: number;
  /** Total guest memory, split evenly over the nodes. Default 256 (the maximum for initramfs VMs; see `maxMemoryMiB`). */
  memoryMiB?: number;
  /**
   * Virtio disks: default 2 of 64 MiB (sparse files, serials kvmt-disk0, kvmt-disk1, ...).
   * `blkdebug` lists disks (by index) that QEMU opens through its blkdebug driver, so a
   * test can hold their requests in flight (`vm.hmp('qemu-io d1 "break read_aio A"')`).
   */
  disks?: { count?: number; sizeMiB?: number; blkdebug?: number[] };
  /** An HMP monitor on a unix socket in the VM's run dir (TestVm.hmp); default none. */
  monitor?: boolean;
  /** qemu machine; default "q35" (e.g. "q35,kernel-irqchip=split" for intel-iommu). */
  machine?: string;
  /** qemu -cpu; default DEFAULT_CPU_MODEL. */
  cpuModel?: string;
  extraQemuArgs?: string[];
  /** Appended to "console=ttyS0 panic=-1 quiet". */
  kernelArgs?: string | string[];
  /** Default 240 s (TCG on 2 cores is slow). */
  bootTimeoutMs?: number;
  /** A boot without rcS's first console line by then is a stall, retried once with a fresh qemu; default 120 s. */
  kernelStallMs?: number;
  /** Let a guest reboot restart the VM (default: qemu exits on reboot, -no-reboot). */
  allowReboot?: boolean;
}

export interface Told {
  cpus: number;
  numa: { node: number; cpus: number[]; memoryMiB: number }[];
  /** distances[i][j] as in /sys/devices/system/node/nodeI/distance */
  distances: number[][];
  disks: { serial: string; sizeBytes: number }[];
  nic: { mac: string; model: "virtio-net-pci" };
}

export interface VmPlan {
  name: string;
  machine: string;
  cpuModel: string;
  sockets: number;
  cores: number;
  threads: number;
  memoryMiB: number;
  allowReboot: boolean;
  /** Disks opened through QEMU's blkdebug driver (indexes into told.disks). */
  blkdebugDisks: number[];
  told: Told;
}

export const TEST_VM_MAC = "52:54:00:6b:76:01";
/**
 * max: all TCG features (pdpe1gb for 1G pages). Intel vendor: on this AMD host the
 * AMD default hides SMT threads (needs topoext, which TCG lacks) and warns;
 * with Intel's CPUID leaves the guest sees thread siblings, without warnings.
 */
export const DEFAULT_CPU_MODEL = "max,vendor=GenuineIntel";
const MAX_MEMORY_MIB = 256;

/** Whole-disk hosts need room for 1G pools per node; initramfs VMs stay small. */
export function planVm(o: TestVmOptions, limits: { maxMemoryMiB: number } = { maxMemoryMiB: MAX_MEMORY_MIB }): VmPlan {
  const name = o.name ?? "kvmt-vm";
  const cpus = o.cpus ?? 4;
  const nodes = o.numaNodes ?? 2;
  const memoryMiB = o.memoryMiB ?? 256;
  const count = o.disks?.count ?? 2;
  const sizeMiB = o.disks?.sizeMiB ?? 64;
  const bad: string[] = [];
  if (!/^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/.test(name)) bad.push(`name "${name}" must be a short hostname`);
  if (!(Number.isInteger(nodes) && nodes >= 1 && nodes <= 8)) bad.push(`numaNodes ${nodes} must be 1..8`);
  if (!(Number.isInteger(cpus) && cpus >= 1 && cpus <= 16 && cpus % nodes === 0)) {
    bad.push(`cpus ${cpus} must be 1..16 and a multiple of numaNodes`);
  }
  if (!(Number.isInteger(memoryMiB) && memoryMiB <= limits.maxMemoryMiB && memoryMiB % (2 * nodes) === 0 && memoryMiB / nodes >= 64)) {
    bad.push(`memoryMiB ${memoryMiB} must be <= ${limits.maxMemoryMiB}, >= 64 per node and split into whole 2 MiB per node`);
  }
  if (!(Number.isInteger(count) && count >= 0 && count <= 8)) bad.push(`disks.count ${count} must be 0..8`);
  if (!(Number.isInteger(sizeMiB) && sizeMiB >= 1)) bad.push(`disks.sizeMiB ${sizeMiB} must be >= 1`);
  const blkdebug = [...new Set(o.disks?.blkdebug ?? [])].sort((a, b) => a - b);
  if (!blkdebug.every((i) => Number.isInteger(i) && i >= 0 && i < count)) bad.push(`disks.blkdebug ${JSON.stringify(o.disks?.blkdebug)} must be disk indexes 0..${count - 1}`);
  if (bad.length) throw new Error(`startTestVm: ${bad.join("; ")}`);

  const perNode = cpus / nodes;
  // two threads per core where possible, so thread siblings show up in the guest
  const threads = perNode % 2 === 0 ? 2 : 1;
  const numa = Array.from({ length: nodes }, (_, n) => ({
    node: n,
    cpus: Array.from({ length: perNode }, (_, i) => n * perNode + i),
    memoryMiB: memoryMiB / nodes,
  }));
  const distances = numa.map((a) => numa.map((b) => (a.node === b.node ? 10 : 21)));
  const disks = Array.from({ length: count }, (_, i) => ({ serial: `kvmt-disk${i}`, sizeBytes: sizeMiB * 1048576 }));
  return {
    name, machine: o.machine ?? "q35", cpuModel: o.cpuModel ?? DEFAULT_CPU_MODEL, sockets: nodes, cores: perNode / threads, threads, memoryMiB, allowReboot: o.allowReboot ?? false, blkdebugDisks: blkdebug,
    told: { cpus, numa, distances, disks, nic: { mac: TEST_VM_MAC, model: "virtio-net-pci" } },
  };
}

export interface QemuRun {
  /** Direct kernel boot (initramfs VMs), or `bootDisk`: a disk image that boots by its own boot loader (first virtio disk). */
  image?: Pick<TestbedImage, "kernelPath" | "initrdPath">;
  bootDisk?: { path: string; format: "qcow2" | "raw" };
  dir: string;
  port: number;
  serialLogPath: string;
  kernelArgs?: string | string[];
  extra?: string[];
  /** Unix socket for an HMP monitor (else -monitor none). */
  monitorPath?: string;
}

const cpuRange = (c: number[]) => (c.length === 1 ? `${c[0]}` : `${c[0]}-${c[c.length - 1]}`);

export function qemuArgs(p: VmPlan, r: QemuRun): string[] {
  const t = p.told;
  const a = [
    // 64 MiB translation cache: qemu RSS ~310 MiB instead of ~480 MiB, same speed here
    "-name", p.name, "-accel", "tcg,tb-size=64", "-machine", p.machine,
    "-cpu", p.cpuModel,
    "-smp", `${t.cpus},sockets=${p.sockets},cores=${p.cores},threads=${p.threads}`,
    "-m", String(p.memoryMiB),
  ];
  if (t.numa.length > 1) {
    for (const n of t.numa) {
      a.push("-object", `memory-backend-ram,id=m${n.node},size=${n.memoryMiB}M`);
      a.push("-numa", `node,nodeid=${n.node},cpus=${cpuRange(n.cpus)},memdev=m${n.node}`);
    }
    for (const n of t.numa) {
      for (const m of t.numa) {
        if (m.node > n.node) a.push("-numa", `dist,src=${n.node},dst=${m.node},val=${t.distances[n.node][m.node]}`);
      }
    }
  }
  if (r.bootDisk) {
    a.push("-drive", `file=${r.bootDisk.path},if=none,id=boot,format=${r.bootDisk.format}`, "-device", "virtio-blk-pci,drive=boot,bootindex=0");
  }
  for (const [i, d] of t.disks.entries()) {
    // blkdebug's legacy filename syntax "blkdebug:<config>:<image>" (run dirs have no colons)
    const file = `${p.blkdebugDisks.includes(i) ? "blkdebug::" : ""}${path.join(r.dir, `disk${i}.raw`)}`;
    a.push("-drive", `file=${file},if=none,id=d${i},format=raw`);
    a.push("-device", `virtio-blk-pci,drive=d${i},serial=${d.serial}`);
  }
  a.push(
    // restrict=on: the guest reaches nothing outside; only the forwarded port reaches it
    "-netdev", `user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:${r.port}-:22`,
    "-device", `virtio-net-pci,netdev=n0,mac=${t.nic.mac},romfile=`, // no iPXE ROM: faster boot
    "-nographic", ...(p.allowReboot ? [] : ["-no-reboot"]), "-serial", `file:${r.serialLogPath}`,
    "-monitor", r.monitorPath ? `unix:${r.monitorPath},server=on,wait=off` : "none",
    ...(r.image
      ? ["-kernel", r.image.kernelPath, "-initrd", r.image.initrdPath,
        "-append", ["console=ttyS0 panic=-1 quiet", `kvmtune.name=${p.name}`, ...[r.kernelArgs ?? []].flat()].join(" ")]
      : []),
    ...(r.extra ?? []),
  );
  if (!r.image === !r.bootDisk) throw new Error("qemuArgs: give exactly one of image (kernel boot) and bootDisk");
  return a;
}
