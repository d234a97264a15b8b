import { FACTS_SCRIPT_BODY } from "../facts-script";
import type { HostFacts } from "../facts";
import { TransportError } from "../../transport/ssh";
import type { RemoteSession } from "../../transport/types";
import { APPLY_SCRIPT, describeOp, encodeOps, parseApplyOutput, parseReadOutput, READ_SCRIPT, type FileReads } from "./remote";
import type { RemoteOp } from "./types";

/**
 * How long one remote step (a read, an apply, a read-back) may run when the
 * caller gives no `timeoutMs`. Far below the transport's 10 minutes: a step
 * that hangs (a write to a frozen block queue never returns) should fail in
 * minutes, naming the step. 2 minutes leaves room for the slowest legitimate
 * steps: a boot loader regeneration (update-grub, tens of seconds on a slow
 * host), a large hugepage allocation that compacts memory, SR-IOV VF creation.
 * The facts read itself gives unresponsive devices 5 s (facts-script.ts).
 */
export const DEFAULT_STEP_TIMEOUT_MS = 120_000;

const KNOBS_MARK = "@@kvmtune:knobs";

/**
 * Facts and knob files in one remote command. The facts script runs in line
 * (not in a subshell) so that the knob read can skip the files of block devices
 * it found unresponsive (`kt_unresponsive` -> READ_SCRIPT's `kvmtune_hung`).
 */
const FACTS_AND_READ = `{\n${FACTS_SCRIPT_BODY}\n} </dev/null\nkvmtune_hung=$kt_unresponsive\nprintf '%s\\n' '${KNOBS_MARK}'\n${READ_SCRIPT}`;

export interface HostSnapshot {
  facts: HostFacts;
  /** Knob files; `files.hung` lists those not read because their device is in `facts.unresponsive`. */
  files: FileReads;
}

function failure(session: RemoteSession, what: string, code: number, stderr: string): Error {
  const tail = stderr.trim().split("\n").slice(-5).join("\n");
  return new Error(`${what} on ${session.target} failed with exit code ${code}${tail ? `: ${tail}` : ""}`);
}

/**
 * One round trip: host facts plus the content of every listed file (paths
 * travel on stdin). Files under a device that did not answer the facts read
 * are not read (`files.hung`). Fails after `timeoutMs` (DEFAULT_STEP_TIMEOUT_MS)
 * with the transport's "timeout" error naming the host and the step.
 */
export async function readSnapshot(session: RemoteSession, paths: readonly string[], timeoutMs = DEFAULT_STEP_TIMEOUT_MS): Promise<HostSnapshot> {
  const r = await session.run(FACTS_AND_READ, { stdin: paths.map((p) => `${p}\n`).join(""), label: "read host state", timeoutMs });
  if (r.code !== 0) throw failure(session, "reading host state", r.code, r.stderr);
  const at = r.stdout.indexOf(`\n${KNOBS_MARK}\n`);
  if (at < 0) throw new Error(`reading host state on ${session.target}: output was cut short`);
  // Loaded here, not at the top: a provider process that only checks, diffs or reads knob files (refresh) never parses facts.
  const { parseHostFacts } = require("../facts") as typeof import("../facts");
  return { facts: parseHostFacts(r.stdout.slice(0, at + 1)), files: parseReadOutput(r.stdout.slice(at + KNOBS_MARK.length + 2)) };
}

/** One round trip: the content of every listed file; fails after `timeoutMs` like readSnapshot. */
export async function readFiles(session: RemoteSession, paths: readonly string[], label = "read back", timeoutMs = DEFAULT_STEP_TIMEOUT_MS): Promise<FileReads> {
  const r = await session.run(READ_SCRIPT, { stdin: paths.map((p) => `${p}\n`).join(""), label, timeoutMs });
  if (r.code !== 0) throw failure(session, label, r.code, r.stderr);
  return parseReadOutput(r.stdout);
}

export class ApplyError extends Error {
  constructor(
    message: string,
    readonly done: number,
  ) {
    super(message);
    this.name = "ApplyError";
  }
}

/**
 * Runs ops in order in one command; on failure the error names the host and
 * the failed step. When the command does not finish within `timeoutMs`
 * (DEFAULT_STEP_TIMEOUT_MS), the error names the step that was running (the
 * one after the last `@@kvmtune:ok` the host printed) and says the host may be
 * partly changed; `done` counts the steps that finished.
 */
export async function applyOps(session: RemoteSession, ops: readonly RemoteOp[], label = "apply", timeoutMs = DEFAULT_STEP_TIMEOUT_MS): Promise<string[]> {
  if (ops.length === 0) return [];
  let r;
  try {
    r = await session.run(APPLY_SCRIPT, { stdin: encodeOps(ops), label, timeoutMs });
  } catch (err) {
    if (!(err instanceof TransportError) || err.kind !== "timeout") throw err;
    const done = parseApplyOutput(err.partialStdout ?? "").done;
    const running = done < ops.length ? `step ${done + 1} of ${ops.length} (${describeOp(ops[done])})` : `${label}, after all ${ops.length} steps,`;
    throw new ApplyError(`on ${session.target}, ${running} did not finish within ${timeoutMs / 1000} s; the host may be partly changed (run again to converge)`, done);
  }
  const out = parseApplyOutput(r.stdout);
  if (out.failed) {
    const op = ops[out.failed.index];
    throw new ApplyError(`on ${session.target}, step ${out.failed.index + 1} of ${ops.length} (${op ? describeOp(op) : "?"}) failed: ${out.failed.message}`, out.done);
  }
  if (!out.complete || r.code !== 0) throw new ApplyError(`on ${session.target}, ${label} stopped after ${out.done} of ${ops.length} steps (exit ${r.code}): ${r.stderr.trim().slice(-300)}`, out.done);
  return out.notes;
}
