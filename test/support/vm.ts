// Boots a real Debian cloud kernel under qemu (TCG) with emulated NUMA nodes,
// virtio disks and NIC, and sshd inside; the "host" that provider tests tune.
import { spawn, ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { buildImage, TestbedImage } from "./build-image";
import { suiteKeys } from "./keys";
import { preflightVm } from "./preflight";
import { makeRunDir, pdeathsigPrefix, rmTree, stopProcess, track } from "./processes";
import { hmpCommand } from "./hmp";
import { freePort, runSsh, SshCallOptions, SshResult, SshTarget, waitForSshBanner, writeKnownHosts } from "./ssh-client";
import { qemuArgs, planVm, TestVmOptions, Told, VmPlan } from "./vm-plan";
import { INIT_STARTED_MARK, SSHD_STARTED_MARK } from "./rootfs-files";

export type { TestVmOptions, Told } from "./vm-plan";

export type TestVmUser = "root" | "kvmt" | "noisy";

export interface TestVm {
  name: string;
  host: "127.0.0.1";
  port: number;
  /** OpenSSH private key text of the suite client key (authorised for every user). */
  privateKey: string;
  /** Pinned host key, "ssh-ed25519 AAAA..." */
  hostKey: string;
  hostKeyFingerprint: string;
  users: { root: "root"; kvmt: "kvmt"; noisy: "noisy" };
  /** kvmt's login/sudo password. */
  kvmtPassword: string;
  /** qemu's PID. */
  pid: number;
  serialLogPath: string;
  /** From spawning qemu to sshd's banner. */
  bootMs: number;
  /** `uname -r` in the guest. */
  kernelRelease: string;
  /** What qemu was told; tests compare it with what the guest kernel reports. */
  told: Told;
  /** Runs `cmd` through the system ssh client, host key pinned. Default user: root. */
  ssh(cmd: string, user?: TestVmUser, opts?: SshCallOptions): Promise<SshResult>;
  /** Sends one command to QEMU's human monitor and returns its output; only for VMs started with `monitor: true`. */
  hmp(command: string): Promise<string>;
  stop(): Promise<void>;
}

// TCG boots in ~4 s on an idle 2-core machine; a loaded one (other VMs, a Go build) can take many times that.
const BOOT_TIMEOUT_MS = 240_000;
const PORT_ATTEMPTS = 3;
// Rarely a TCG guest stops before sshd and never moves again (seen once in CI: nothing after
// SeaBIOS for 240 s while the same image booted beside it). One fresh qemu is worth a try.
const STALL_ATTEMPTS = 2;
// The kernel part takes ~2.5 s idle; 120 s without rcS is a stall, not load.
const KERNEL_STALL_MS = 120_000;

export async function startTestVm(opts: TestVmOptions = {}): Promise<TestVm> {
  preflightVm();
  const plan = planVm(opts); // validates before anything is built or started
  const image = buildImage();
  let stalls = 0;
  for (let attempt = 1; ; attempt++) {
    const r = await tryBoot(plan, image, opts);
    if ("vm" in r) return r.vm;
    // another process may have taken the port between freePort() and qemu's bind
    if (attempt < PORT_ATTEMPTS && /host forwarding rule/.test(r.error)) continue;
    if (r.stalled && ++stalls < STALL_ATTEMPTS) {
      process.stderr.write(`[testbed] ${plan.name} stalled before sshd; booting a fresh qemu. First attempt:\n${r.error}\n`);
      continue;
    }
    throw new Error(`test VM ${plan.name} did not boot: ${r.error}`);
  }
}

/** Where a boot that never answered stopped, from rcS's console marks. */
export function bootStage(serial: string): string {
  if (serial.includes(SSHD_STARTED_MARK)) return "sshd started but did not answer";
  if (serial.includes(INIT_STARTED_MARK)) return "stalled in rcS (init started, sshd not)";
  return "stalled in the kernel (rcS never started)";
}

async function tryBoot(plan: VmPlan, image: TestbedImage, opts: TestVmOptions): Promise<{ vm: TestVm } | { error: string; stalled: boolean }> {
  const dir = makeRunDir(`vm-${plan.name}`);
  const serialLogPath = path.join(dir, "serial.log");
  let port: number;
  try {
    for (const [i, d] of plan.told.disks.entries()) {
      const fd = fs.openSync(path.join(dir, `disk${i}.raw`), "w");
      fs.ftruncateSync(fd, d.sizeBytes); // sparse
      fs.closeSync(fd);
    }
    port = await freePort();
  } catch (e) {
    rmTree(dir);
    throw e;
  }
  const t0 = Date.now();
  const monitorPath = opts.monitor ? path.join(dir, "monitor.sock") : undefined;
  const args = qemuArgs(plan, { image, dir, port, serialLogPath, kernelArgs: opts.kernelArgs, extra: opts.extraQemuArgs, monitorPath });
  const child = spawnQemu(args, dir); // stopping it removes dir
  const stallMs = opts.kernelStallMs ?? KERNEL_STALL_MS;
  const boot = await waitForBoot(child, port, opts.bootTimeoutMs ?? BOOT_TIMEOUT_MS, () =>
    Date.now() - t0 > stallMs && !(readText(serialLogPath) ?? "").includes(INIT_STARTED_MARK)
      ? `no rcS within ${stallMs / 1000} s`
      : undefined);
  if (boot === "ok") {
    const bootMs = Date.now() - t0;
    const knownHostsPath = path.join(dir, "known_hosts");
    writeKnownHosts(knownHostsPath, "127.0.0.1", port, suiteKeys().hostPublicKey);
    return { vm: makeVm(plan.name, plan.told, image, child, port, bootMs, serialLogPath, knownHostsPath, monitorPath) };
  }
  const serial = readText(serialLogPath) ?? "";
  const stage = child.exitCode === null && child.signalCode === null ? bootStage(serial) : undefined;
  const detail = failureDetail(dir, serialLogPath);
  await stopProcess(child);
  return { error: `${boot}${stage ? ` (${stage})` : ""}\n${detail}`, stalled: stage !== undefined && !serial.includes(SSHD_STARTED_MARK) };
}

/** Starts qemu with its output in `dir`; stopping it removes `dir`. */
export function spawnQemu(args: string[], dir: string): ChildProcess {
  const errFd = fs.openSync(path.join(dir, "qemu.stderr"), "w");
  const [cmd, ...rest] = [...pdeathsigPrefix, "qemu-system-x86_64", ...args];
  const child = spawn(cmd, rest, { stdio: ["ignore", errFd, errFd] });
  fs.closeSync(errFd);
  // stopping the VM removes its disks and logs; on 'exit' too (sync)
  track(child, `qemu ${path.basename(dir)}`, () => rmTree(dir));
  return child;
}

/** Waits for sshd's banner; `failed` may name a reason to stop early (e.g. a panic on the console). */
export async function waitForBoot(child: ChildProcess, port: number, timeoutMs: number, failed: () => string | undefined = () => undefined): Promise<string> {
  let spawnError: Error | undefined;
  child.once("error", (e) => (spawnError = e));
  try {
    await waitForSshBanner("127.0.0.1", port, timeoutMs, () => {
      if (spawnError) return `qemu did not start: ${spawnError.message}`;
      if (child.exitCode !== null || child.signalCode !== null) {
        return `qemu exited (${child.exitCode ?? child.signalCode}) before sshd answered`;
      }
      return failed();
    });
    return "ok";
  } catch (e) {
    return (e as Error).message;
  }
}

/** A file's text; undefined when it cannot be read. */
function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/** The last `n` lines of a log (a console's escape sequences removed), or "(none)". */
export function logTail(file: string, n = 40): string {
  const text = readText(file);
  return text === undefined ? "(none)" : text.replace(/\x1b\[[0-9;?]*[a-zA-Z]|\x1bc/g, "").trimEnd().split("\n").slice(-n).join("\n");
}

export function failureDetail(dir: string, serialLogPath: string): string {
  return `--- qemu stderr ---\n${logTail(path.join(dir, "qemu.stderr"), 20)}\n--- serial console (tail) ---\n${logTail(serialLogPath, 40)}`;
}

function makeVm(
  name: string, told: Told, image: TestbedImage, child: ChildProcess, port: number, bootMs: number,
  serialLogPath: string, knownHostsPath: string, monitorPath?: string,
): TestVm {
  const keys = suiteKeys();
  const target: SshTarget = { host: "127.0.0.1", port, clientKeyPath: keys.clientKeyPath, knownHostsPath };
  let stopping: Promise<void> | undefined;
  return {
    name,
    host: "127.0.0.1",
    port,
    privateKey: keys.clientPrivateKey,
    hostKey: keys.hostPublicKey,
    hostKeyFingerprint: keys.hostKeyFingerprint,
    users: { root: "root", kvmt: "kvmt", noisy: "noisy" },
    kvmtPassword: keys.kvmtPassword,
    pid: child.pid as number,
    serialLogPath,
    bootMs,
    kernelRelease: image.kernelRelease,
    told,
    ssh: (cmd, user = "root", opts) => runSsh(target, user, cmd, opts),
    hmp: (command) => (monitorPath ? hmpCommand(monitorPath, command) : Promise.reject(new Error(`test VM ${name} has no monitor (start it with monitor: true)`))),
    stop: () => (stopping ??= stopProcess(child)),
  };
}
