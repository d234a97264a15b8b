import { describeOwner, journalEntry, JOURNAL_PATH, LIBVIRT_TAG, parseJournal, renderJournalLine, sameOwner, type JournalEntry, type JournalOwner, type ParsedJournal } from "../host/journal";
import type { JournalOp } from "../host/journal-plan";

export { LIBVIRT_TAG };

/**
 * The journal of originals (host/journal.ts) for libvirt: what a domain looked
 * like before kvmtune adopted it, and which domains and devices kvmtune itself
 * created. Without it, a CLI killed after the write left a re-create that took
 * the tuned parts as originals (adopt), or refused the domain or device it had
 * itself made ("already exists"), leaving the operator to clean up by hand.
 */

/** The owner of a libvirt resource: its stack and Pulumi resource name; direct callers (tests) name none. */
export function libvirtOwner(owner: { stack: string; resource: string } | undefined, fallback: string): JournalOwner {
  return { stack: owner?.stack ?? "(none)", resource: owner?.resource ?? fallback, tag: LIBVIRT_TAG };
}

export const domainKey = (name: string): string => `domain:${name}`;
export const deviceKey = (domain: string, kind: string, key: string): string => `device:${domain}:${kind}:${key}`;

export interface JournalView {
  key: string;
  owner: JournalOwner;
  journal: ParsedJournal;
  entry: JournalEntry | undefined;
  /** The entry is this owner's. */
  mine: boolean;
  /** Why this owner may not touch the key (another owner recorded it, or the journal is unreadable). */
  problems: string[];
}

/** One key of the host's journal as `owner` sees it. */
export function viewJournal(text: string | undefined, key: string, owner: JournalOwner): JournalView {
  const journal = parseJournal(text);
  const entry = journalEntry(journal, key);
  const mine = entry !== undefined && sameOwner(entry, owner);
  const problems = [...journal.problems];
  if (entry && !mine) problems.push(`${key} is owned by ${describeOwner(entry)} since ${entry.since} (journal ${JOURNAL_PATH}); remove that resource first, or remove its line from the journal if it no longer exists`);
  return { key, owner, journal, entry, mine, problems };
}

/** The write that records `original` for the view's key; none when the journal already says exactly that. */
export function recordOps(view: JournalView, original: string | null, now = new Date().toISOString()): JournalOp[] {
  if (view.entry && view.mine && view.entry.original === original) return [];
  const line = renderJournalLine({ key: view.key, ...view.owner, original, since: view.entry?.since ?? now });
  return [{ op: "journal", key: view.key, expected: view.journal.lines[view.key] ?? "", line }];
}

/** The write that removes this owner's line for the view's key; none when there is none. */
export function forgetOps(view: JournalView): JournalOp[] {
  return view.entry && view.mine ? [{ op: "journal", key: view.key, expected: view.journal.lines[view.key], line: "" }] : [];
}
