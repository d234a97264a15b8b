import { InputError } from "../spec/issues";
import { bootloaderTool, type GrubGenerator } from "./bootloader";
import { planBootOverrides } from "./boot-overrides";
import { summariseFacts, type HostFactsSummary } from "./facts-summary";
import { withSession } from "../transport/session-pool";
import type { RemoteSession } from "../transport/types";
import { knobOrder, resolveKnob, undoOrder } from "./knobs/catalogue";
import { ApplyError, applyOps, readFiles, readSnapshot } from "./knobs/execute";
import { persistenceOps, persistencePaths, renderPersistence } from "./knobs/persistence";
import { diffPersistence } from "./knobs/persistence-drift";
import { planUnresponsive } from "./knobs/unresponsive";
import { normaliseSettings, observe, planApply, planRollback, readList, type Change, type Originals } from "./knobs/plan";
import type { Knob, RemoteOp } from "./knobs/types";
import { JOURNAL_PATH, journalEntry, ownedBy, parseJournal, type JournalOwner, type TakeOver } from "./journal";
import { isCreatedKey, mountPoints, planCreatedKeys, pruneOps } from "./created-paths";
import { planJournal, planRelease, undoJournal, type JournalOp } from "./journal-plan";

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
  /** Who owns these keys in the host's journal; default: the tag alone (direct callers, tests). */
  owner?: JournalOwner;
  /** Earlier identities of the same resource (its stack was renamed): their journal entries are its own. */
  formerOwners?: JournalOwner[];
  /** Keys to take over from another owner in the journal, keeping the recorded original. */
  takeOver?: TakeOver;
  /** Bound of each remote step (the resource's customTimeouts); default DEFAULT_STEP_TIMEOUT_MS. */
  timeoutMs?: number;
}

/** The owner recorded for callers that name none. */
export const defaultOwner = (tag: string): JournalOwner => ({ stack: "(none)", resource: tag, tag });

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
  const owner = req.owner ?? defaultOwner(req.tag);
  const stateDropped = knobsFor(req.previousKeys.filter((k) => !norm.desired.has(k)), true);
  return withSession(connection, async (session) => {
    // Mount points too: one kvmtune has to create is recorded, so destroy removes it again.
    let paths = [...readList([...norm.knobs.values(), ...stateDropped.values()], req.tag), JOURNAL_PATH, ...mountPoints(norm.desired)];
    const snap = await readSnapshot(session, paths, req.timeoutMs);
    let commands = 1;
    // Originals come from the host's journal first: state may be lost or stale (a killed CLI, a re-create).
    const parsed = parseJournal(snap.files.get(JOURNAL_PATH));
    const recorded = (key: string) => { const e = journalEntry(parsed, key); return e !== undefined && ownedBy(e, owner, req.formerOwners); };
    const created = planCreatedKeys({ desired: norm.desired, fstab: mountPoints(norm.desired).length ? persistencePaths(req.tag).fstab : undefined, files: snap.files, recorded });
    const journal = planJournal({
      journal: parsed,
      owner,
      formerOwners: req.formerOwners,
      desired: [...norm.desired.keys(), ...created],
      previousKeys: req.previousKeys,
      current: observe(norm.knobs, req.tag, snap.files).values,
      stateOriginals: req.originals,
      takeOver: req.takeOver,
      now: new Date().toISOString(),
    });
    const dropped = knobsFor(journal.release, true);
    // Keys only the journal names (their state was lost) need their files read too: a second read, only then.
    const extra = readList(dropped.values(), req.tag).filter((p) => !paths.includes(p));
    if (extra.length > 0) {
      for (const [p, v] of await readFiles(session, extra, "read released settings", req.timeoutMs)) snap.files.set(p, v);
      paths = [...paths, ...extra];
      commands++;
    }
    const plan = planApply({ ...norm, facts: snap.facts, files: snap.files, tag: req.tag, allowManagementInterface: req.allowManagementInterface, allowVfRecreate: req.allowVfRecreate, originals: journal.originals, dropped });
    // What kvmtune created is the journal's business; state keeps the settings' originals.
    const originals = Object.fromEntries(Object.entries(plan.originals).filter(([k]) => !isCreatedKey(k)));
    const problems = [...journal.problems, ...plan.problems];
    if (problems.length) throw new InputError(`settings for ${session.target} (nothing was changed)`, problems);
    // Originals are recorded in the same command as the first write, before it; released entries go after their restore.
    const ops = [...journal.record, ...plan.ops, ...pruneOps(journal.release), ...journal.forget];
    // What a failed run undoes: every key it may have touched, judged against what was read before.
    const undo: Undo = { knobs: new Map([...norm.knobs, ...dropped]), desired: norm.desired, before: snap.files, tag: req.tag, paths, tool: bootloaderTool(snap.facts.bootloader), journal: [], timeoutMs: req.timeoutMs };
    const notes = [...norm.notes, ...journal.notes];
    if (ops.length > 0) {
      try {
        notes.push(...(await applyOps(session, ops, "apply settings", req.timeoutMs)));
      } catch (err) {
        undo.journal = journalOpsDone(ops, err instanceof ApplyError ? err.done : ops.length);
        throw await rolledBack(session, undo, undefined, (err as Error).message, originals);
      }
      commands++;
    }
    undo.journal = journalOpsDone(ops, ops.length);
    const after = await readFiles(session, paths, "read back", req.timeoutMs);
    commands++;
    const seen = observe(norm.knobs, req.tag, after, norm.desired);
    const wrong = [...norm.desired].filter(([key, want]) => seen.values.get(key) !== want);
    if (wrong.length > 0) {
      const detail = wrong.map(([key, want]) => `${key}: wanted ${show(want)}, got ${show(seen.values.get(key))}`).join("; ");
      throw await rolledBack(session, undo, after, `read-back on ${session.target} disagrees: ${detail}`, originals);
    }
    return {
      values: Object.fromEntries([...seen.values].map(([k, v]) => [k, v ?? null])),
      originals,
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

/** The journal ops among the first `done` ops. */
const journalOpsDone = (ops: readonly RemoteOp[], done: number): JournalOp[] => ops.slice(0, done).filter((o): o is JournalOp => o.op === "journal");

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
  /** Journal writes that ran: undone last, so a rolled-back key is not left recorded as owned. */
  journal: JournalOp[];
  timeoutMs?: number;
}

/**
 * Undoes a failed apply from what is on the host now (`after`, or read again):
 * only what this run changed is put back, so a step that never ran cannot stop
 * the rollback. Says what happened; never hides the first error.
 */
async function rolledBack(session: RemoteSession, undo: Undo, after: Map<string, string | undefined> | undefined, cause: string, originals: Originals): Promise<Error> {
  try {
    const now = after ?? (await readFiles(session, undo.paths, "read before roll back", undo.timeoutMs));
    const createdNow = undo.journal.filter((o) => o.expected === "" && isCreatedKey(o.key)).map((o) => o.key);
    const rollback = [...planRollback(undo.knobs, undo.tag, undo.before, now, undo.tool, undo.desired), ...pruneOps(createdNow), ...undoJournal(undo.journal)];
    if (rollback.length === 0) return new Error(`${cause}. Nothing needed rolling back.`);
    await applyOps(session, rollback, "roll back", undo.timeoutMs);
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
  /** Hand edits of kvmtune's own persistence files, one message per file line (diffPersistence); empty without `desired`. */
  persistenceDrift: string[];
}

/**
 * Observed values of the given keys, and, given the `desired` values they were applied with, how kvmtune's
 * persistence files differ from what those values render: one connection, one command.
 */
export async function readHostTuning(connection: unknown, keys: string[], tag: string, desired?: Record<string, string>, timeoutMs?: number): Promise<ReadResult> {
  const knobs = knobsFor(keys);
  return withSession(connection, async (session) => {
    const files = await readFiles(session, readList(knobs.values(), tag), "read settings", timeoutMs);
    const seen = observe(knobs, tag, files);
    const entries = desired ? [...knobs].filter(([key]) => desired[key] !== undefined).map(([key, knob]) => ({ knob, value: desired[key] })) : undefined;
    return {
      values: Object.fromEntries([...seen.values].map(([k, v]) => [k, v ?? null])),
      pendingReboot: seen.pendingReboot,
      persistenceDrift: entries ? diffPersistence(tag, entries, files) : [],
    };
  });
}

/**
 * Puts every original back (tuned's habit: originals, not kernel defaults), from the host's journal first and
 * from state for keys applied before it, removes our persistence files, then this owner's journal entries.
 * Keys another owner took over are left as they are.
 */
export async function restoreHostTuning(connection: unknown, stateOriginals: Originals, tag: string, owner?: JournalOwner, timeoutMs?: number): Promise<{ restored: string[]; notes: string[] }> {
  return withSession(connection, async (session) => {
    // Facts too (same round trip): removing our boot loader drop-in regenerates with the host's generator.
    const paths = [...readList(knobsFor(Object.keys(stateOriginals)).values(), tag), JOURNAL_PATH];
    const { facts, files } = await readSnapshot(session, paths, timeoutMs);
    const release = planRelease(parseJournal(files.get(JOURNAL_PATH)), owner ?? defaultOwner(tag), stateOriginals);
    const originals = release.originals;
    const knobs = knobsFor(Object.keys(originals), true);
    // A setting on a device that does not answer would hang the restore: refuse before any write, so delete can be retried.
    const hung = planUnresponsive(knobs, facts.unresponsive);
    if (hung.size > 0) throw new InputError(`restore on ${session.target} (nothing was changed)`, [...hung.values()]);
    const extra = readList(knobs.values(), tag).filter((p) => !paths.includes(p));
    if (extra.length > 0) for (const [p, v] of await readFiles(session, extra, "read released settings", timeoutMs)) files.set(p, v);
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
    ops.push(...persistenceOps(tag, renderPersistence(tag, []), files, bootloaderTool(facts.bootloader)), ...pruneOps(Object.keys(originals)), ...release.forget);
    await applyOps(session, ops, "restore originals", timeoutMs);
    return { restored, notes: release.notes };
  });
}
