import * as fs from "node:fs";

/**
 * Ends a dynamic-provider process whose Pulumi engine is gone. When the CLI is
 * SIGKILLed (a cancelled CI job, a closed laptop) nothing tells its plugins, and
 * the provider process would live on forever, idle or not. A host step already
 * running is finished (the journal of originals makes finishing safe; a command
 * cut in the middle is not), no new connection is opened after that, and the
 * process exits once its last connection closes.
 *
 * Only the provider process watches: the program process has its own lifetime.
 * The engine is the nearest ancestor named `pulumi` (the plugin runs as
 * pulumi → sh → node); without /proc (not Linux) nothing is watched.
 */

let open = 0;
let enginePid: number | undefined;
let gone = false;
let started = false;

export const isProviderProcess = () => /[\\/]@pulumi[\\/]pulumi[\\/]cmd[\\/]dynamic-provider([\\/]index\.js)?$/.test(process.argv[1] ?? "");

/** The PID of the nearest ancestor whose command name is `pulumi`, within a few levels. */
function findEngine(): number | undefined {
  let pid = process.ppid;
  for (let depth = 0; depth < 4 && pid > 1; depth++) {
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      return undefined;
    }
    const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    if (comm === "pulumi") return pid;
    pid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  }
  return undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function exitIfIdle(): void {
  if (!gone || open > 0) return;
  process.stderr.write(`kvmtune: the Pulumi engine (pid ${enginePid}) is gone; its provider process finished its host step and exits\n`);
  process.exit(0);
}

function start(): void {
  started = true;
  if (!isProviderProcess()) return;
  enginePid = findEngine();
  if (enginePid === undefined) return;
  const timer = setInterval(() => {
    if (gone || alive(enginePid!)) return;
    gone = true;
    exitIfIdle();
  }, 1000);
  timer.unref();
}

/** Called before a connection opens: refuses once the engine is gone, so no new host step starts. */
export function connectionOpening(): void {
  if (!started) start();
  if (gone) throw new Error(`the Pulumi engine (pid ${enginePid}) is gone; kvmtune starts no new host step without it`);
  open++;
}

/** Called when a connection closes: the process exits here if the engine went away meanwhile. */
export function connectionClosed(): void {
  open = Math.max(0, open - 1);
  exitIfIdle();
}
