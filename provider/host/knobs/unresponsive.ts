import type { UnresponsiveDevice } from "../facts";
import type { Knob } from "./types";

/** A path glob (`*`, `?`, as block keys allow) as a regex for one path component. */
function componentPattern(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]");
  return new RegExp(`^${body}$`);
}

/** True when `path` (which may hold globs) is `dir` or lies under it: compares `dir`'s components one by one. */
export function pathUnder(path: string, dir: string): boolean {
  const want = dir.split("/").filter((c) => c !== "");
  const have = path.split("/").filter((c) => c !== "");
  return have.length >= want.length && want.every((c, i) => componentPattern(have[i]).test(c));
}

/**
 * Refuses every key whose files lie under a block device the facts read found
 * unresponsive (HostFacts.unresponsive): reading or writing there blocks in the
 * kernel until the device answers, which with a frozen queue is never, so such
 * a key must stop the plan before any write. Keys are matched by the paths the
 * knob reads (a glob key such as `block:vd*:scheduler` matches every device it
 * could touch). Other keys are not affected: a sysctl-only run proceeds.
 *
 * Returns key -> problem for the refused keys, in the order given, e.g.
 * `block:vdb:scheduler: /sys/block/vdb did not answer within 5 s (a frozen block queue?); nothing was changed on this host`.
 * Pure. `unresponsive` may be undefined (facts from an older kvmtune).
 */
export function planUnresponsive(knobs: Iterable<readonly [string, Pick<Knob, "reads">]>, unresponsive: readonly UnresponsiveDevice[] | undefined): Map<string, string> {
  const problems = new Map<string, string>();
  if (!unresponsive?.length) return problems;
  for (const [key, knob] of knobs) {
    const hit = unresponsive.filter((d) => knob.reads.some((p) => pathUnder(p, d.path)));
    if (hit.length === 0) continue;
    const seconds = Math.max(...hit.map((d) => d.seconds));
    const paths = hit.map((d) => d.path).join(", ");
    problems.set(key, `${key}: ${paths} did not answer within ${seconds} s (a frozen block queue?); nothing was changed on this host`);
  }
  return problems;
}
