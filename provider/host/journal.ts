/**
 * The journal of originals: a root-only file on the host itself that records,
 * for every key kvmtune owns there, the value the host had before kvmtune first
 * wrote it and which stack and resource owns it. State can be lost (a killed
 * CLI, a cleared pending create, another stack); the host keeps the truth, so a
 * later run takes originals from here, never from the value it finds.
 *
 * One JSON object per line, `key` first, so the host side can find a key's line
 * by its prefix without parsing JSON:
 *
 *   {"key":"sysctl:vm.swappiness","stack":"acme/kvm/prod","resource":"hv01","tag":"hv01","original":"60","since":"2026-12-04T16:00:00.000Z"}
 *
 * `original: null` means the setting was absent (not mounted, module not loaded).
 * Read it with `sudo cat /var/lib/kvmtune/journal` (or `jq . `).
 */

export const JOURNAL_DIR = "/var/lib/kvmtune";
export const JOURNAL_PATH = `${JOURNAL_DIR}/journal`;

/** Who owns a key: the stack (`org/project/stack`) and the TunedHost's name in it; `tag` names its persistence files. */
export interface JournalOwner {
  stack: string;
  resource: string;
  tag: string;
}

export interface JournalEntry extends JournalOwner {
  key: string;
  /** The value before kvmtune first wrote the key; null = absent. */
  original: string | null;
  /** When the original was recorded (ISO time). */
  since: string;
}

/** The journal as read (plain data: it travels in facts and Pulumi outputs). */
export interface ParsedJournal {
  entries: JournalEntry[];
  /** Lines kvmtune cannot read; while any exists it changes nothing on the host. */
  problems: string[];
  /** Each key's line exactly as on the host: the expected value of a compare-and-set. */
  lines: Record<string, string>;
}

/** A key's entry, if any. */
export const journalEntry = (j: ParsedJournal, key: string): JournalEntry | undefined => j.entries.find((e) => e.key === key);

const isText = (v: unknown): v is string => typeof v === "string" && v.length > 0 && !/[\n\r]/.test(v);

/** Parses the journal's content (undefined = no journal yet). */
export function parseJournal(content: string | undefined): ParsedJournal {
  const entries: JournalEntry[] = [];
  const lines: Record<string, string> = {};
  const problems: string[] = [];
  (content ?? "").split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    const where = `${JOURNAL_PATH} line ${i + 1}`;
    let v: Record<string, unknown>;
    try {
      v = JSON.parse(line) as Record<string, unknown>;
    } catch {
      problems.push(`${where} is not a JSON object: ${JSON.stringify(line.slice(0, 120))}`);
      return;
    }
    const ok = v !== null && typeof v === "object" && isText(v.key) && isText(v.stack) && isText(v.resource) && isText(v.tag) && (v.original === null || typeof v.original === "string") && typeof v.since === "string";
    if (!ok || !line.startsWith(keyPrefix(String(v.key)))) {
      problems.push(`${where} is not a journal entry ({"key", "stack", "resource", "tag", "original", "since"}): ${JSON.stringify(line.slice(0, 120))}`);
      return;
    }
    const key = v.key as string;
    if (key in lines) {
      problems.push(`${where} records ${key} a second time`);
      return;
    }
    entries.push({ key, stack: v.stack as string, resource: v.resource as string, tag: v.tag as string, original: v.original as string | null, since: v.since as string });
    lines[key] = line;
  });
  return { entries, problems, lines };
}

/** How a key's line starts: the host side finds the line by this prefix. */
export function keyPrefix(key: string): string {
  return `{"key":${JSON.stringify(key)},`;
}

/** One entry as its journal line, fields in a fixed order (`key` first). */
export function renderJournalLine(e: JournalEntry): string {
  return JSON.stringify({ key: e.key, stack: e.stack, resource: e.resource, tag: e.tag, original: e.original, since: e.since });
}

export const sameOwner = (a: JournalOwner, b: JournalOwner): boolean => a.stack === b.stack && a.resource === b.resource;

/** Whether `e` belongs to `owner` or to one of its earlier identities (a renamed stack). */
export const ownedBy = (e: JournalOwner, owner: JournalOwner, formerOwners: readonly JournalOwner[] = []): boolean => sameOwner(e, owner) || formerOwners.some((f) => sameOwner(e, f));

/** Entries of libvirt resources (domains, devices) carry this tag, which no TunedHost tag (fileTag) can be. */
export const LIBVIRT_TAG = "(libvirt)";

/** An owner as messages name it. */
export function describeOwner(o: JournalOwner): string {
  return `${o.tag === LIBVIRT_TAG ? "resource" : "TunedHost"} "${o.resource}" of stack ${o.stack}`;
}

/** Keys the caller may take over from another owner: a list of keys, or "all". */
export type TakeOver = readonly string[] | "all";

const mayTakeOver = (takeOver: TakeOver | undefined, key: string) => takeOver === "all" || (takeOver ?? []).includes(key);

/**
 * Why `owner` may not own `keys` on a host whose journal is `journal`: another
 * owner recorded the key first (and it is not taken over), or another owner's
 * persistence files carry the same tag. `formerOwners` are earlier identities of
 * the same resource (a renamed stack). Used at preview and again before a write.
 */
export function planOwnershipProblems(journal: ParsedJournal, owner: JournalOwner, keys: readonly string[], takeOver?: TakeOver, formerOwners: readonly JournalOwner[] = []): string[] {
  const mine = (o: JournalOwner) => ownedBy(o, owner, formerOwners);
  const problems = [...journal.problems];
  for (const key of keys) {
    const e = journalEntry(journal, key);
    if (!e || mine(e) || mayTakeOver(takeOver, key)) continue;
    const was = e.original === null ? "absent" : JSON.stringify(e.original);
    problems.push(
      `${key} is owned by ${describeOwner(e)} since ${e.since} (journal ${JOURNAL_PATH}); a setting has one owner per host. ` +
        `Leave it to that owner, or take it over with takeOver: [${JSON.stringify(key)}] (the recorded original, ${was}, is kept for the last owner's destroy)`,
    );
  }
  const clash = journal.entries.find((e) => e.tag === owner.tag && !mine(e));
  if (clash) problems.push(`persistence files tagged "${owner.tag}" (e.g. /etc/sysctl.d/90-kvmtune-${owner.tag}.conf) belong to ${describeOwner(clash)}; give this TunedHost another name`);
  return problems;
}
