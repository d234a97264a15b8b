import { FACTS_SCRIPT } from "../facts-script";
import { parseHostFacts, type HostFacts } from "../facts";
import type { RemoteSession } from "../../transport/types";
import { APPLY_SCRIPT, describeOp, encodeOps, parseApplyOutput, parseReadOutput, READ_SCRIPT } from "./remote";
import type { RemoteOp } from "./types";

const KNOBS_MARK = "@@kvmtune:knobs";

/** Facts and knob files in one remote command (the facts script runs in a subshell: it ends with `exit`). */
const FACTS_AND_READ = `( ${FACTS_SCRIPT}\n) </dev/null\nprintf '%s\\n' '${KNOBS_MARK}'\n${READ_SCRIPT}`;

export interface HostSnapshot {
  facts: HostFacts;
  files: Map<string, string | undefined>;
}

function failure(session: RemoteSession, what: string, code: number, stderr: string): Error {
  const tail = stderr.trim().split("\n").slice(-5).join("\n");
  return new Error(`${what} on ${session.target} failed with exit code ${code}${tail ? `: ${tail}` : ""}`);
}

/** One round trip: host facts plus the content of every listed file (paths travel on stdin). */
export async function readSnapshot(session: RemoteSession, paths: readonly string[]): Promise<HostSnapshot> {
  const r = await session.run(FACTS_AND_READ, { stdin: paths.map((p) => `${p}\n`).join(""), label: "read host state" });
  if (r.code !== 0) throw failure(session, "reading host state", r.code, r.stderr);
  const at = r.stdout.indexOf(`\n${KNOBS_MARK}\n`);
  if (at < 0) throw new Error(`reading host state on ${session.target}: output was cut short`);
  return { facts: parseHostFacts(r.stdout.slice(0, at + 1)), files: parseReadOutput(r.stdout.slice(at + KNOBS_MARK.length + 2)) };
}

/** One round trip: the content of every listed file. */
export async function readFiles(session: RemoteSession, paths: readonly string[], label = "read back"): Promise<Map<string, string | undefined>> {
  const r = await session.run(READ_SCRIPT, { stdin: paths.map((p) => `${p}\n`).join(""), label });
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

/** Runs ops in order in one command; on failure the error names the host and the failed step. */
export async function applyOps(session: RemoteSession, ops: readonly RemoteOp[], label = "apply"): Promise<string[]> {
  if (ops.length === 0) return [];
  const r = await session.run(APPLY_SCRIPT, { stdin: encodeOps(ops), label });
  const out = parseApplyOutput(r.stdout);
  if (out.failed) {
    const op = ops[out.failed.index];
    throw new ApplyError(`on ${session.target}, step ${out.failed.index + 1} of ${ops.length} (${op ? describeOp(op) : "?"}) failed: ${out.failed.message}`, out.done);
  }
  if (!out.complete || r.code !== 0) throw new ApplyError(`on ${session.target}, ${label} stopped after ${out.done} of ${ops.length} steps (exit ${r.code}): ${r.stderr.trim().slice(-300)}`, out.done);
  return out.notes;
}
