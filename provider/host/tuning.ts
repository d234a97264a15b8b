import { InputError } from "../spec/issues";
import { bootloaderTool, type GrubGenerator } from "./bootloader";
import { planBootOverrides } from "./boot-overrides";
import { summariseFacts, type HostFactsSummary } from "./facts-summary";
import { withSession } from "../transport/ssh";
import type { RemoteSession } from "../transport/types";
import { knobOrder, resolveKnob, undoOrder } from "./knobs/catalogue";
import { applyOps, readFiles, readSnapshot } from "./knobs/execute";
import { persistenceOps, renderPersistence } from "./knobs/persistence";
import { normaliseSettings, observe, planApply, planRollback, readList, type Change, type Originals } from "./knobs/plan";
import type { Knob } from "./knobs/types";

/**
 * The host half of HostTuning: read, apply (with read-back and rollback) and
 * restore, each on one SSH connection. The dynamic provider only wires these.
 */

export interface ApplyRequest {
  /** Desired settings, key -> value. */
  settings: Record<string, string>;
  /** File-name tag of the owning resource. */
  tag: string;
  allowManagementInterface: boolean;
  /** Allows changing a non-zero SR-IOV VF count. */
  allowVfRecreate?: boolean;
  /** Originals saved by earlier applies. */
  originals: Originals;
  /** Keys this resource owned before (dropped ones are restored). */
  previousKeys: string[];
}

export interface ApplyResult {
  /** Observed values after the apply (equal to the desired ones). */
  values: Record<string, string | null>;
  originals: Originals;
  changes: Change[];
  pendingReboot: string[];
  notes: string[];
  /** Remote commands used: read, apply, read-back. */
  commands: number;
  hostname: string | null;
  kernel: string | null;
  facts: HostFactsSummary;
  /** Other actors that set these settings differently at boot (planBootOverrides), from this apply's facts read. */
  bootOverrides: string[];
}

/** Knobs for known keys, in apply order (or reverse, for undoing: schedulers before their modules). */
function knobsFor(keys: Iterable<string>, reverse = false): Map<string, Knob> {
  const knobs = new Map<string, Knob>();
  for (const key of [...keys].sort(reverse ? undoOrder : knobOrder)) {
    const k = resolveKnob(key);
    if (!("problem" in k)) knobs.set(key, k);
  }
  return knobs;
}

const show = (v: string | undefined | null) => (v === undefined || v === null ? "(absent)" : JSON.stringify(v));

/** Applies desired settings; fails before any write if anything is invalid for this host. */
export async function applyHostTuning(connection: unknown, req: ApplyRequest): Promise<ApplyResult> {
  const norm = normaliseSettings(req.settings);
  if (norm.problems.length) throw new InputError("settings", norm.problems);
  const dropped = knobsFor(req.previousKeys.filter((k) => !norm.desired.has(k)), true);
  return withSession(connection, async (session) => {
    const paths = readList([...norm.knobs.values(), ...dropped.values()], req.tag);
    const snap = await readSnapshot(session, paths);
    const plan = planApply({ ...norm, facts: snap.facts, files: snap.files, tag: req.tag, allowManagementInterface: req.allowManagementInterface, allowVfRecreate: req.allowVfRecreate, originals: req.originals, dropped });
    if (plan.problems.length) throw new InputError(`settings for ${session.target} (nothing was changed)`, plan.problems);
    // What a failed run undoes: every key it may have touched, judged against what was read before.
    const undo: Undo = { knobs: new Map([...norm.knobs, ...dropped]), desired: norm.desired, before: snap.files, tag: req.tag, paths, tool: bootloaderTool(snap.facts.bootloader) };
    let commands = 1;
    const notes = [...norm.notes];
    if (plan.ops.length > 0) {
      try {
        notes.push(...(await applyOps(session, plan.ops, "apply settings")));
      } catch (err) {
        throw await rolledBack(session, undo, undefined, (err as Error).message, plan.originals);
      }
      commands++;
    }
    const after = await readFiles(session, paths);
    commands++;
    const seen = observe(norm.knobs, req.tag, after, norm.desired);
    const wrong = [...norm.desired].filter(([key, want]) => seen.values.get(key) !== want);
    if (wrong.length > 0) {
      const detail = wrong.map(([key, want]) => `${key}: wanted ${show(want)}, got ${show(seen.values.get(key))}`).join("; ");
      throw await rolledBack(session, undo, after, `read-back on ${session.target} disagrees: ${detail}`, plan.originals);
    }
    return {
      values: Object.fromEntries([...seen.values].map(([k, v]) => [k, v ?? null])),
      originals: plan.originals,
      changes: plan.changes,
      pendingReboot: seen.pendingReboot,
      notes,
      commands,
      hostname: snap.facts.hostname,
      kernel: snap.facts.kernel.release,
      facts: summariseFacts(snap.facts),
      bootOverrides: planBootOverrides(Object.fromEntries(norm.desired), req.tag, snap.facts.bootSources, snap.facts).map((o) => o.message),
    };
  });
}

/** A failed apply whose rollback failed too: the host may be partly changed, and `originals` must not be lost. */
export class PartialApplyError extends Error {
  constructor(
    message: string,
    readonly originals: Originals,
  ) {
    super(message);
    this.name = "PartialApplyError";
  }
}

interface Undo {
  knobs: Map<string, Knob>;
  desired: Map<string, string>;
  before: Map<string, string | undefined>;
  tag: string;
  paths: string[];
  /** Boot loader generator of the host, for putting back our drop-in. */
  tool: GrubGenerator | "none";
}

/**
 * Undoes a failed apply from what is on the host now (`after`, or read again):
 * only what this run changed is put back, so a step that never ran cannot stop
 * the rollback. Says what happened; never hides the first error.
 */
async function rolledBack(session: RemoteSession, undo: Undo, after: Map<string, string | undefined> | undefined, cause: string, originals: Originals): Promise<Error> {
  try {
    const now = after ?? (await readFiles(session, undo.paths, "read before roll back"));
    const rollback = planRollback(undo.knobs, undo.tag, undo.before, now, undo.tool, undo.desired);
    if (rollback.length === 0) return new Error(`${cause}. Nothing needed rolling back.`);
    await applyOps(session, rollback, "roll back");
    return new Error(`${cause}. The settings changed in this run were rolled back to their previous values.`);
  } catch (err) {
    const why = (err as Error).message;
    return new PartialApplyError(`${cause}. Rolling back also failed, so the host may be partly changed (run again to converge): ${why.includes(session.target) ? why : `could not roll back on ${session.target}: ${why}`}`, originals);
  }
}

export interface ReadResult {
  /** Observed value per key (null = absent). */
  values: Record<string, string | null>;
  pendingReboot: string[];
}

/** Observed values of the given keys: one connection, one command. */
export async function readHostTuning(connection: unknown, keys: string[], tag: string): Promise<ReadResult> {
  const knobs = knobsFor(keys);
  return withSession(connection, async (session) => {
    const files = await readFiles(session, readList(knobs.values(), tag), "read settings");
    const seen = observe(knobs, tag, files);
    return { values: Object.fromEntries([...seen.values].map(([k, v]) => [k, v ?? null])), pendingReboot: seen.pendingReboot };
  });
}

/** Puts every saved original back and removes our persistence files (tuned's habit: originals, not kernel defaults). */
export async function restoreHostTuning(connection: unknown, originals: Originals, tag: string): Promise<{ restored: string[] }> {
  const knobs = knobsFor(Object.keys(originals), true);
  return withSession(connection, async (session) => {
    // Facts too (same round trip): removing our boot loader drop-in regenerates with the host's generator.
    const { facts, files } = await readSnapshot(session, readList(knobs.values(), tag));
    const now = observe(knobs, tag, files);
    const ops = [];
    const restored: string[] = [];
    const switched = new Set<string>();
    for (const [key, knob] of knobs) {
      const original = originals[key] ?? undefined;
      // A scheduler switch resets the device's nr_requests: write the original again after it.
      const rewrite = original !== undefined && switched.has(/^block:([^:]+):nr_requests$/.exec(key)?.[1] ?? "");
      if (knob.bootTime || (now.values.get(key) === original && !rewrite)) continue;
      ops.push(...knob.restore(original, now.values.get(key)));
      restored.push(key);
      const dev = /^block:([^:]+):scheduler$/.exec(key)?.[1];
      if (dev) switched.add(dev);
    }
    ops.push(...persistenceOps(tag, renderPersistence(tag, []), files, bootloaderTool(facts.bootloader)));
    await applyOps(session, ops, "restore originals");
    return { restored };
  });
}
