// Builds (once, then cached by content) a whole Debian 12 host on a disk image:
// systemd, udev, GRUB on its own disk, the cloud kernel, sshd, tuned. Unlike the
// busybox initramfs, its boot reads sysctl.d, tmpfiles.d, udev rules,
// modules-load.d, modprobe.d, fstab and the GRUB configuration, so tests can
// prove what survives a reboot.
// Script: node -r ts-node/register/transpile-only test/support/debian-image.ts
import { spawn, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { testbedCacheDir } from "./cache";
import { suiteKeys } from "./keys";
import { mib } from "./kernel";
import { pdeathsigPrefix } from "./processes";
import { run } from "./preflight";
import { logTail } from "./vm";
import { TEST_VM_MAC } from "./vm-plan";

export interface DebianImage {
  dir: string;
  /** Raw disk: one bootable ext4 partition (label kvmt-root) with GRUB in the MBR gap. */
  diskPath: string;
  kernelRelease: string;
  hash: string;
  /** debootstrap + configuration + first boot, when it was made. */
  buildMs: number;
  firstBootMs: number;
  cached: boolean;
}

const SUITE = "bookworm";
export const DEBIAN_PACKAGES = [
  "systemd", "systemd-sysv", "udev", "kmod", "dbus", "openssh-server", "linux-image-cloud-amd64", "grub-pc",
  "procps", "iproute2", "python3", "sudo",
];
/**
 * Installed after debootstrap with apt inside the tree: polkitd (a tuned and
 * libvirt dependency) fails in debootstrap's own configure step, but installs
 * with /proc mounted and services held back by a policy-rc.d. libvirt runs as
 * the host's own systemd service, with machined placing guests in cgroup v2
 * scopes; numactl gives the tests `migratepages` and `numastat`. locales and
 * libvirt-l10n let a test give the login a German locale, in which virsh says
 * "ausgeschaltet" for "shut off" (kvmtune's scripts must not care).
 */
export const CHROOT_PACKAGES = [
  "tuned", "libvirt-daemon-system", "libvirt-daemon-driver-qemu", "libvirt-clients", "qemu-system-x86", "systemd-container", "numactl", "locales", "libvirt-l10n",
];
const BUILDER_SOURCES = ["debian-image.ts", "debian-rootfs.sh"];
/** Their text as this process loaded it; the image is named after it and the tree configured with it (as build-image.ts does). */
const LOADED_SOURCES = new Map(BUILDER_SOURCES.map((f) => [f, fs.readFileSync(path.join(__dirname, f), "utf8")] as const));
const DISK_MIB = 3072;
const FIRST_BOOT_TIMEOUT_MS = 600_000;

/** The tools the build needs, named by Debian package. */
function preflight(): void {
  const needs: [string, string][] = [["/usr/sbin/debootstrap", "debootstrap"], ["/usr/sbin/sfdisk", "fdisk"], ["/usr/sbin/mkfs.ext4", "e2fsprogs"], ["/usr/bin/qemu-system-x86_64", "qemu-system-x86"], ["/usr/bin/qemu-img", "qemu-utils"]];
  const missing = needs.filter(([p]) => !fs.existsSync(p));
  if (missing.length) throw new Error(`kvmtune Debian test host: missing ${missing.map(([p]) => p).join(", ")}; apt-get install -y ${missing.map(([, pkg]) => pkg).join(" ")} (or run .ci/install-testbed.sh)`);
}

/** The Debian archive apt already uses on this machine (a deb822 or one-line source serving bookworm main). */
export function debianMirror(): string {
  const dir = "/etc/apt/sources.list.d";
  const texts = [...(fs.existsSync("/etc/apt/sources.list") ? [fs.readFileSync("/etc/apt/sources.list", "utf8")] : []),
    ...(fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /\.(sources|list)$/.test(f)).map((f) => fs.readFileSync(path.join(dir, f), "utf8")) : [])];
  for (const text of texts) {
    for (const stanza of text.split(/\n\s*\n/)) {
      const uri = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
      if (uri && /^Suites:.*\bbookworm\b/m.test(stanza) && /^Components:.*\bmain\b/m.test(stanza) && !/security/.test(uri)) return uri;
    }
    for (const line of text.split("\n")) {
      const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s+.*\bmain\b/.exec(line.trim());
      if (m && !/security/.test(m[1])) return m[1];
    }
  }
  throw new Error("kvmtune Debian test host: no apt source for bookworm main found in /etc/apt/sources.list{,.d}");
}

let memo: DebianImage | undefined;

export async function buildDebianImage(opts: { log?: (s: string) => void; force?: boolean } = {}): Promise<DebianImage> {
  if (memo && !opts.force) return memo;
  const log = opts.log ?? ((s: string) => process.stderr.write(`[debian-host] ${s}\n`));
  const keys = suiteKeys();
  const root = testbedCacheDir();
  const hash = inputsHash(keys.clientPublicKey, keys.hostPublicKey);
  const dir = path.join(root, `debian-${hash}`);
  const manifest = path.join(dir, "manifest.json");
  if (!opts.force && fs.existsSync(manifest)) {
    memo = { ...(JSON.parse(fs.readFileSync(manifest, "utf8")) as DebianImage), dir, diskPath: path.join(dir, "disk.img"), cached: true };
    return memo;
  }
  preflight();
  const t0 = Date.now();
  const work = fs.mkdtempSync(path.join(root, `debian-${hash}.tmp-`));
  try {
    const rootfs = path.join(work, "root");
    const mirror = debianMirror();
    log(`debootstrap ${SUITE} (${DEBIAN_PACKAGES.length} packages and their dependencies); takes minutes ...`);
    let t = Date.now();
    await runLogged("debootstrap", ["--variant=minbase", `--include=${DEBIAN_PACKAGES.join(",")}`, SUITE, rootfs, mirror], path.join(work, "debootstrap.log"));
    log(`debootstrap: ${Math.round((Date.now() - t) / 1000)} s`);
    t = Date.now();
    await chrootInstall(rootfs, CHROOT_PACKAGES, path.join(work, "apt.log"));
    log(`apt-get install ${CHROOT_PACKAGES.join(" ")}: ${Math.round((Date.now() - t) / 1000)} s`);
    const kernels = fs.readdirSync(path.join(rootfs, "boot")).filter((f) => f.startsWith("vmlinuz-"));
    if (kernels.length !== 1) throw new Error(`expected one kernel in the Debian tree, found ${kernels.join(", ") || "none"}`);
    const kernelRelease = kernels[0].slice("vmlinuz-".length);
    // The loaded text, from a file: on stdin, any command in it that reads stdin would eat the rest of the script.
    const script = path.join(work, "debian-rootfs.sh");
    fs.writeFileSync(script, LOADED_SOURCES.get("debian-rootfs.sh")!);
    run("bash", [script, rootfs, keys.clientKeyPath + ".pub", keys.hostKeyPath, TEST_VM_MAC]);

    // The disk: an MBR with one partition at 1 MiB, the ext4 file system made from the tree in place (no loop device).
    t = Date.now();
    const disk = path.join(work, "disk.img");
    fs.closeSync(fs.openSync(disk, "w"));
    fs.truncateSync(disk, (DISK_MIB + 1) * 1048576);
    run("sfdisk", ["-q", disk], { input: "start=2048, type=83, bootable\n" });
    run("mkfs.ext4", ["-q", "-F", "-L", "kvmt-root", "-E", "offset=1048576", "-d", rootfs, disk, `${DISK_MIB}M`]);
    log(`disk: ${mib(fs.statSync(disk).blocks * 512)} used in ${Date.now() - t} ms`);

    // First boot with the tree's own kernel: install GRUB on the disk, then power off.
    t = Date.now();
    const console = path.join(work, "firstboot.log");
    const initrd = path.join(rootfs, "boot", `initrd.img-${kernelRelease}`);
    await firstBoot(disk, path.join(rootfs, "boot", kernels[0]), initrd, console);
    const firstBootMs = Date.now() - t;
    if (!fs.readFileSync(console, "utf8").includes("kvmt-firstboot: done")) throw new Error(`first boot did not install GRUB:\n${logTail(console)}`);
    log(`first boot (grub-install, update-grub): ${Math.round(firstBootMs / 1000)} s`);

    const out = path.join(work, "out");
    fs.mkdirSync(out);
    fs.renameSync(disk, path.join(out, "disk.img"));
    const image: DebianImage = { dir, diskPath: path.join(dir, "disk.img"), kernelRelease, hash, buildMs: Date.now() - t0, firstBootMs, cached: false };
    fs.writeFileSync(path.join(out, "manifest.json"), JSON.stringify(image, null, 2) + "\n");
    try {
      fs.renameSync(out, dir);
    } catch (e) {
      if (!fs.existsSync(manifest)) throw e; // a concurrent run published the same image first
    }
    prune(root, dir);
    log(`image ready in ${Math.round(image.buildMs / 1000)} s: ${dir}`);
    memo = image;
    return image;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** apt-get install inside the tree, in a private mount namespace (its /proc mount never reaches this machine). */
function chrootInstall(rootfs: string, packages: string[], logFile: string): Promise<void> {
  const policy = path.join(rootfs, "usr/sbin/policy-rc.d");
  fs.writeFileSync(policy, "#!/bin/sh\n# the image build starts no services\nexit 101\n", { mode: 0o755 });
  const script = 'mount -t proc proc "$1/proc" && DEBIAN_FRONTEND=noninteractive chroot "$1" apt-get install -y -q --no-install-recommends "${@:2}"';
  return runLogged("unshare", ["--mount", "--propagation", "private", "--fork", "bash", "-c", script, "install", rootfs, ...packages], logFile).finally(() => fs.rmSync(policy, { force: true }));
}

function firstBoot(disk: string, kernel: string, initrd: string, consoleLog: string): Promise<void> {
  const args = [
    "-accel", "tcg,tb-size=64", "-machine", "q35", "-cpu", "max,vendor=GenuineIntel", "-smp", "2", "-m", "1024",
    "-drive", `file=${disk},if=virtio,format=raw`, "-nic", "none", "-nographic", "-no-reboot", "-monitor", "none",
    "-serial", `file:${consoleLog}`, "-kernel", kernel, "-initrd", initrd,
    "-append", "root=LABEL=kvmt-root rw console=ttyS0,115200 panic=-1",
  ];
  return runLogged("qemu-system-x86_64", args, consoleLog + ".stderr", FIRST_BOOT_TIMEOUT_MS).catch((e: Error) => {
    throw new Error(`${e.message}\n--- console (tail) ---\n${logTail(consoleLog)}`);
  });
}

/** Runs a long command with its output in a log file; on failure the error carries the log's tail. */
function runLogged(cmd: string, args: string[], logFile: string, timeoutMs = 30 * 60_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const fd = fs.openSync(logFile, "w");
    const child = spawn(pdeathsigPrefix[0], [...pdeathsigPrefix.slice(1), cmd, ...args], { stdio: ["ignore", fd, fd] });
    fs.closeSync(fd);
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => reject(e));
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${cmd} failed (${code ?? signal}${signal === "SIGKILL" ? `, after ${timeoutMs / 1000} s` : ""}):\n${logTail(logFile)}`));
    });
  });
}

/** Older Debian images of other commits are kept for a day, as the initramfs images are. */
function prune(root: string, keep: string): void {
  for (const d of fs.readdirSync(root)) {
    const p = path.join(root, d);
    if (p === keep || !/^debian-[0-9a-f]+(\.tmp-.*)?$/.test(d)) continue;
    if (Date.now() - fs.statSync(p).mtimeMs > 24 * 3600 * 1000) fs.rmSync(p, { recursive: true, force: true });
  }
}

function inputsHash(...extra: string[]): string {
  const h = crypto.createHash("sha256");
  for (const [f, text] of LOADED_SOURCES) h.update(f).update(text);
  h.update(DEBIAN_PACKAGES.join(",")).update(CHROOT_PACKAGES.join(",")).update(TEST_VM_MAC);
  for (const x of extra) h.update(x).update("\0");
  return h.digest("hex").slice(0, 16);
}

if (require.main === module) {
  const t0 = Date.now();
  buildDebianImage({ force: process.argv.includes("--force") }).then(
    (img) => {
      const size = spawnSync("du", ["-sh", img.diskPath], { encoding: "utf8" }).stdout.split("\t")[0];
      process.stdout.write(`${img.cached ? "cached" : "built"}: Debian ${SUITE} host, kernel ${img.kernelRelease}, disk ${size} used, ${Date.now() - t0} ms total (build took ${Math.round(img.buildMs / 1000)} s)\n${img.dir}\n`);
    },
    (e: Error) => {
      process.stderr.write(`${e.message}\n`);
      process.exit(1);
    },
  );
}
