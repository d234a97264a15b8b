// Every long-lived child the suite starts (qemu, sshd, libvirtd) is registered
// here and killed by PID at the end of the run, on exit, and on SIGINT/SIGTERM,
// so an interrupted or failing run leaves nothing behind. Children are also
// started under `setpriv --pdeathsig KILL` (see `pdeathsigPrefix`), which covers
// the one case no handler can: this process being SIGKILLed.
import { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

interface Tracked {
  child: ChildProcess;
  label: string;
  /** Synchronous, so it can also run from the 'exit' handler (e.g. rm the temp dir). */
  cleanup?: () => void;
}

const tracked = new Map<number, Tracked>();

/** Prepend to a command line so the child dies with this process even on SIGKILL. */
export const pdeathsigPrefix = ["/usr/bin/setpriv", "--pdeathsig", "KILL", "--"];

export function track(child: ChildProcess, label: string, cleanup?: () => void): void {
  if (child.pid === undefined) throw new Error(`${label}: process did not start`);
  tracked.set(child.pid, { child, label, cleanup });
  installHandlers();
}

/** Labels and PIDs of what is still running (for tests that check the cleanup). */
export function trackedProcesses(): { pid: number; label: string }[] {
  return [...tracked].map(([pid, t]) => ({ pid, label: t.label }));
}

const exited = (c: ChildProcess) => c.exitCode !== null || c.signalCode !== null;

/** SIGTERM, wait up to `graceMs`, then SIGKILL; waits for the exit and runs the cleanup. */
export async function stopProcess(child: ChildProcess, graceMs = 5000): Promise<void> {
  const pid = child.pid;
  if (pid !== undefined && !exited(child)) {
    const done = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await done;
    clearTimeout(timer);
  }
  if (pid === undefined) return;
  const t = tracked.get(pid);
  tracked.delete(pid);
  t?.cleanup?.();
}

/** Stops everything still registered (root afterAll hook). */
export async function stopAllProcesses(): Promise<void> {
  await Promise.all([...tracked.values()].map((t) => stopProcess(t.child)));
}

function killAllSync(): void {
  for (const [pid, t] of tracked) {
    try {
      if (!exited(t.child)) process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
    try {
      t.cleanup?.();
    } catch {
      // best effort while exiting
    }
  }
  tracked.clear();
}

let installed = false;
function installHandlers(): void {
  if (installed) return;
  installed = true;
  process.on("exit", killAllSync);
  for (const [sig, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    process.on(sig, () => {
      killAllSync();
      process.exit(code);
    });
  }
}

/** Removes a directory tree; for cleanups (never throws). */
export function rmTree(dir: string): void {
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch {
    // nothing sensible to do about it at exit
  }
}

const RUN_DIR_PREFIX = "kvmtune-";
let swept = false;

/**
 * A temp dir for one child (disks, logs, configs), marked with our PID. The first
 * call also removes dirs whose owner died without cleaning up (it was SIGKILLed).
 */
export function makeRunDir(kind: string): string {
  if (!swept) {
    swept = true;
    sweepStaleRunDirs();
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${RUN_DIR_PREFIX}${kind}-`));
  fs.writeFileSync(path.join(dir, ".owner"), `${process.pid}\n`);
  return dir;
}

function sweepStaleRunDirs(): void {
  for (const d of fs.readdirSync(os.tmpdir())) {
    if (!d.startsWith(RUN_DIR_PREFIX)) continue;
    const dir = path.join(os.tmpdir(), d);
    let owner: number;
    try {
      owner = Number(fs.readFileSync(path.join(dir, ".owner"), "utf8"));
    } catch {
      continue; // not ours, or still being made
    }
    if (owner > 0 && !alive(owner)) rmTree(dir);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
