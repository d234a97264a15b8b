// Finding and SIGKILLing the real `pulumi` CLI that an Automation API call
// started, the way a cancelled CI job or a closed laptop ends it, and watching
// the provider processes it leaves behind.
import * as fs from "node:fs";

/** PIDs with their parent PID and argv, from /proc. */
function processTable(): { pid: number; ppid: number; argv: string[]; cwd: string | null }[] {
  const rows = [];
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const argv = fs.readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0").filter(Boolean);
      let cwd: string | null = null;
      try {
        cwd = fs.readlinkSync(`/proc/${name}/cwd`);
      } catch {
        // gone, or not ours
      }
      rows.push({ pid: Number(name), ppid, argv, cwd });
    } catch {
      // the process ended while we looked
    }
  }
  return rows;
}

/** The running CLI (`pulumi <verb> ...`) whose working directory is `dir`, with its descendants (the provider plugins). */
export function findCli(dir: string, verb: string): { cli: number; descendants: number[] } | undefined {
  const table = processTable();
  const cli = table.find((p) => p.cwd === dir && p.argv[0]?.endsWith("/pulumi") && p.argv[1] === verb);
  if (!cli) return undefined;
  const descendants: number[] = [];
  const walk = (pid: number) => {
    for (const c of table.filter((p) => p.ppid === pid)) {
      descendants.push(c.pid);
      walk(c.pid);
    }
  };
  walk(cli.pid);
  return { cli: cli.pid, descendants };
}

export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return !fs.readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
  } catch {
    return false;
  }
};

/** Waits until none of `pids` runs (true), or `timeoutMs` passes (false). */
export async function waitForExit(pids: number[], timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (!pids.some(isAlive)) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return !pids.some(isAlive);
}
