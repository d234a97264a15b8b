// A whole Debian 12 test host: the cached disk image (debian-image.ts) behind a
// copy-on-write overlay, booted by SeaBIOS -> GRUB -> the kernel from its own
// disk under qemu (TCG), with 2 NUMA nodes, a data disk (vdb) and a second NIC
// that no network manager touches. Reboots are real: GRUB decides the next
// command line, systemd/udev re-apply the persisted settings.
import * as fs from "node:fs";
import * as path from "node:path";
import { buildDebianImage, DebianImage } from "./debian-image";
import { suiteKeys } from "./keys";
import { preflightVm, run } from "./preflight";
import { makeRunDir, rmTree, stopProcess } from "./processes";
import { freePort, runSsh, SshCallOptions, SshResult, SshTarget, writeKnownHosts } from "./ssh-client";
import { failureDetail, logTail, spawnQemu, waitForBoot } from "./vm";
import { planVm, qemuArgs, Told } from "./vm-plan";

export interface DebianHostOptions {
  name?: string;
  /**
   * Default 8192, 4 GiB per node: node0 then has two 1G-aligned ranges above 4 GiB, so a boot-time
   * 1G page fits wherever KASLR put the kernel (with 2 GiB it never fits, with 3 GiB not always).
   * Reserved pages are never touched, so qemu does not grow by them.
   */
  memoryMiB?: number;
  /** vCPUs, split evenly over the 2 NUMA nodes, two threads per core. Default 4. */
  cpus?: number;
  /**
   * Add QEMU's SR-IOV capable NVMe controller (PF 0000:01:00.0, up to 4 VFs) behind an emulated
   * intel-iommu, so VF counts can be proven across a reboot.
   */
  sriovNvme?: boolean;
  extraQemuArgs?: string[];
  bootTimeoutMs?: number;
}

/** The SR-IOV PF's PCI address inside the host when `sriovNvme` is set. */
export const SRIOV_PF = "0000:01:00.0";
const SRIOV_NVME_ARGS = [
  "-device", "intel-iommu,intremap=on,caching-mode=on",
  "-device", "pcie-root-port,id=rp0,chassis=1",
  "-device", "nvme-subsys,id=subsys0,nqn=kvmt",
  "-device", "nvme,serial=kvmt0,bus=rp0,subsys=subsys0,sriov_max_vfs=4,max_ioqpairs=12,msix_qsize=13,sriov_vq_flexible=8,sriov_vi_flexible=4",
];

export interface DebianHost {
  name: string;
  host: "127.0.0.1";
  port: number;
  privateKey: string;
  hostKey: string;
  told: Told;
  image: DebianImage;
  /** MAC of the second NIC (no network manager owns it; its name comes from udev). */
  dataNicMac: string;
  serialLogPath: string;
  /** From spawning qemu to sshd's banner. */
  bootMs: number;
  /** kvmtune connection args for this host (root, host key pinned). */
  connection(): { host: string; port: number; user: string; privateKey: string; hostKey: string };
  ssh(cmd: string, opts?: SshCallOptions): Promise<SshResult>;
  /** Like ssh, but fails on a non-zero exit with the command's stderr. */
  sh(cmd: string, opts?: SshCallOptions): Promise<string>;
  /** Reboots through systemd and GRUB; resolves when sshd answers with a new boot id. */
  reboot(timeoutMs?: number): Promise<{ seconds: number }>;
  consoleTail(lines?: number): string;
  stop(): Promise<void>;
}

export const DATA_NIC_MAC = "52:54:00:6b:76:02";

/** Console lines that mean this boot will never reach sshd: fail at once instead of waiting out the timeout. */
const STUCK = [/Kernel panic - not syncing[^\n]*/, /grub rescue>/, /error: (?:no such device|file `[^']*' not found|unknown filesystem)[^\n]*/, /You are in emergency mode[^\n]*/, /Give root password for maintenance/];

/** Why the console says the boot is stuck, if it does (only text after `from`, so an earlier boot's lines do not count). */
export function consoleBootFailure(console: string, from = 0): string | undefined {
  const text = console.slice(from);
  for (const re of STUCK) {
    const m = re.exec(text);
    if (m) return `the console shows: ${m[0].trim()}`;
  }
  return undefined;
}
const BOOT_TIMEOUT_MS = 300_000;

export async function startDebianHost(opts: DebianHostOptions = {}): Promise<DebianHost> {
  preflightVm();
  const name = opts.name ?? "kvmt-debian";
  const plan = planVm({
    name, cpus: opts.cpus ?? 4, numaNodes: 2, memoryMiB: opts.memoryMiB ?? 8192, disks: { count: 1, sizeMiB: 64 }, allowReboot: true,
    ...(opts.sriovNvme ? { machine: "q35,kernel-irqchip=split" } : {}), // intel-iommu's interrupt remapping needs it
  }, { maxMemoryMiB: 8192 });
  const image = await buildDebianImage();
  const dir = makeRunDir(`debian-${name}`);
  const overlay = path.join(dir, "root.qcow2");
  let port: number;
  try {
    run("qemu-img", ["create", "-q", "-f", "qcow2", "-b", image.diskPath, "-F", "raw", overlay]);
    for (const [i, d] of plan.told.disks.entries()) {
      const fd = fs.openSync(path.join(dir, `disk${i}.raw`), "w");
      fs.ftruncateSync(fd, d.sizeBytes);
      fs.closeSync(fd);
    }
    port = await freePort();
  } catch (e) {
    rmTree(dir);
    throw e;
  }
  const serialLogPath = path.join(dir, "serial.log");
  const extra = [
    // A second NIC with nothing behind it: the MTU tests' own interface, never the SSH path.
    "-netdev", "user,id=n1,restrict=on", "-device", `virtio-net-pci,netdev=n1,mac=${DATA_NIC_MAC},romfile=`,
    ...(opts.sriovNvme ? SRIOV_NVME_ARGS : []),
    ...(opts.extraQemuArgs ?? []),
  ];
  const t0 = Date.now();
  const child = spawnQemu(qemuArgs(plan, { bootDisk: { path: overlay, format: "qcow2" }, dir, port, serialLogPath, extra }), dir);
  const consoleText = () => {
    try {
      return fs.readFileSync(serialLogPath, "latin1");
    } catch {
      return "";
    }
  };
  const boot = await waitForBoot(child, port, opts.bootTimeoutMs ?? BOOT_TIMEOUT_MS, () => consoleBootFailure(consoleText()));
  if (boot !== "ok") {
    const detail = failureDetail(dir, serialLogPath);
    await stopProcess(child);
    throw new Error(`Debian test host ${name} did not boot: ${boot}\n${detail}`);
  }
  const bootMs = Date.now() - t0;
  const keys = suiteKeys();
  const knownHostsPath = path.join(dir, "known_hosts");
  writeKnownHosts(knownHostsPath, "127.0.0.1", port, keys.hostPublicKey);
  const target: SshTarget = { host: "127.0.0.1", port, clientKeyPath: keys.clientKeyPath, knownHostsPath };
  const ssh = (cmd: string, o?: SshCallOptions) => runSsh(target, "root", cmd, o);
  const sh = async (cmd: string, o?: SshCallOptions) => {
    const r = await ssh(cmd, o);
    if (r.code !== 0) throw new Error(`on ${name}: ${cmd}\nexited ${r.code}: ${r.stderr.trim()}`);
    return r.stdout;
  };
  const consoleTail = (lines = 40) => logTail(serialLogPath, lines);
  let stopping: Promise<void> | undefined;
  return {
    name, host: "127.0.0.1", port, privateKey: keys.clientPrivateKey, hostKey: keys.hostPublicKey, told: plan.told, image,
    dataNicMac: DATA_NIC_MAC, serialLogPath, bootMs,
    connection: () => ({ host: "127.0.0.1", port, user: "root", privateKey: keys.clientPrivateKey, hostKey: keys.hostPublicKey }),
    ssh, sh, consoleTail,
    async reboot(timeoutMs = BOOT_TIMEOUT_MS) {
      const t = Date.now();
      const before = (await sh("cat /proc/sys/kernel/random/boot_id")).trim();
      const from = consoleText().length;
      await ssh("systemd-run --on-active=1 systemctl reboot >/dev/null 2>&1 || (sleep 1; systemctl reboot) &");
      while (Date.now() - t < timeoutMs) {
        await new Promise((r) => setTimeout(r, 2000));
        if (child.exitCode !== null) throw new Error(`qemu exited during the reboot of ${name}\n${consoleTail()}`);
        const stuck = consoleBootFailure(consoleText(), from);
        if (stuck) throw new Error(`${name} did not come back from a reboot: ${stuck}\n${consoleTail()}`);
        const r = await ssh("cat /proc/sys/kernel/random/boot_id", { timeoutMs: 15_000 }).catch(() => undefined);
        if (r?.code === 0 && r.stdout.trim() !== before) return { seconds: Math.round((Date.now() - t) / 1000) };
      }
      throw new Error(`${name} did not come back within ${timeoutMs / 1000} s of a reboot\n${consoleTail()}`);
    },
    stop: () => (stopping ??= stopProcess(child)),
  };
}
