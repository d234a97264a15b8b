import { describeOwner, journalEntry, ownedBy, planOwnershipProblems, renderJournalLine, sameOwner, type JournalEntry, type JournalOwner, type ParsedJournal, type TakeOver } from "./journal";
import type { Originals } from "./knobs/plan";
import type { RemoteOp } from "./knobs/types";

/** A compare-and-set of one journal line: `expected` must be the line now ("" = none), `line` replaces it ("" = remove). */
export type JournalOp = Extract<RemoteOp, { op: "journal" }>;

export interface JournalPlanInput {
  journal: ParsedJournal;
  owner: JournalOwner;
  /** Earlier identities of this resource (the stack was renamed): their entries are this resource's. */
  formerOwners?: JournalOwner[];
  /** Keys wanted now. */
  desired: readonly string[];
  /** Keys this resource owned by its state (dropped ones are given back). */
  previousKeys: readonly string[];
  /** Each key's value as read now (undefined = absent): the original of a key nobody recorded yet. */
  current: ReadonlyMap<string, string | undefined>;
  /** Originals from state, for keys applied before the journal existed. */
  stateOriginals: Originals;
  takeOver?: TakeOver;
  /** ISO time for new entries. */
  now: string;
}

export interface JournalPlan {
  problems: string[];
  /** Original of every desired key, and of every dropped key to give back. */
  originals: Originals;
  /** Dropped keys (by state or by the journal) whose originals this resource restores. */
  release: string[];
  /** Journal writes that go before the first setting is written, in the same command. */
  record: JournalOp[];
  /** Journal removals that go after the released keys are restored. */
  forget: JournalOp[];
  notes: string[];
}

/**
 * Decides originals and journal writes for an apply. An original comes from
 * the journal when this resource (or a former identity) recorded it, else from
 * state (applied before the journal existed), else from the value read now.
 * Pure: the caller read the journal with the settings in one round trip.
 */
export function planJournal(input: JournalPlanInput): JournalPlan {
  const { journal, owner } = input;
  const mine = (e: JournalEntry) => ownedBy(e, owner, input.formerOwners);
  const problems = planOwnershipProblems(journal, owner, input.desired, input.takeOver, input.formerOwners);
  const originals: Originals = {};
  const record: JournalOp[] = [];
  const forget: JournalOp[] = [];
  const notes: string[] = [];
  const line = (key: string) => journal.lines[key] ?? "";
  for (const key of input.desired) {
    const e = journalEntry(journal, key);
    if (e) {
      originals[key] = e.original;
      const next = { ...e, stack: owner.stack, resource: owner.resource, tag: owner.tag };
      if (!sameOwner(e, owner) || e.tag !== owner.tag) {
        record.push({ op: "journal", key, expected: line(key), line: renderJournalLine(next) });
        if (!mine(e)) notes.push(`${key}: taken over from ${describeOwner(e)}; its recorded original (${e.original === null ? "absent" : JSON.stringify(e.original)}) is kept`);
      }
      continue;
    }
    const original = key in input.stateOriginals ? input.stateOriginals[key] : (input.current.get(key) ?? null);
    originals[key] = original;
    record.push({ op: "journal", key, expected: "", line: renderJournalLine({ key, ...owner, original, since: input.now }) });
  }
  const wanted = new Set(input.desired);
  const dropped = new Set([...input.previousKeys, ...journal.entries.filter(mine).map((e) => e.key)].filter((k) => !wanted.has(k)));
  const release: string[] = [];
  for (const key of [...dropped].sort()) {
    const e = journalEntry(journal, key);
    if (e && !mine(e)) {
      notes.push(`${key}: now owned by ${describeOwner(e)}, so it is left as it is`);
      continue;
    }
    const original = e ? e.original : input.stateOriginals[key];
    if (original === undefined) continue; // never recorded: nothing to give back
    originals[key] = original;
    release.push(key);
    if (e) forget.push({ op: "journal", key, expected: line(key), line: "" });
  }
  return { problems, originals, release, record, forget, notes };
}

/** Journal ops that undo `done` ones (a rolled-back apply must not leave entries for values it put back). */
export function undoJournal(done: readonly JournalOp[]): JournalOp[] {
  return [...done].reverse().map((o) => ({ op: "journal", key: o.key, expected: o.line, line: o.expected }));
}

/** What a delete restores: every key this resource owns by the journal or by state, and the journal removals. */
export function planRelease(journal: ParsedJournal, owner: JournalOwner, stateOriginals: Originals): { originals: Originals; forget: JournalOp[]; notes: string[] } {
  const plan = planJournal({ journal, owner, desired: [], previousKeys: Object.keys(stateOriginals), current: new Map(), stateOriginals, now: "" });
  return { originals: plan.originals, forget: plan.forget, notes: plan.notes };
}
