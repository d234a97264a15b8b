import type { z } from "zod";

/** Unknown fields named one by one per object; the rest are counted. */
const MAX_UNKNOWN_KEYS = 10;

/**
 * Turns zod issues into one line per problem: `<root>.<path>: <message>`.
 * Field messages are written by our own `error` callbacks (they name the value
 * and what is accepted); unknown keys get the list of accepted fields.
 */
export function formatIssues(root: string, issues: readonly z.core.$ZodIssue[], acceptedKeys?: (path: PropertyKey[]) => string[] | undefined): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    // Record keys are the user's text: bounded, so a huge key cannot make a huge message.
    const where = [root, ...issue.path.map((p) => capText(String(p), 80))].join(".");
    if (issue.code === "unrecognized_keys") {
      const accepted = acceptedKeys?.(issue.path as PropertyKey[]);
      for (const key of issue.keys.slice(0, MAX_UNKNOWN_KEYS)) {
        lines.push(`${where}: unknown field ${quoteText(key, 80)}${accepted ? `; accepted fields: ${accepted.join(", ")}` : ""}`);
      }
      if (issue.keys.length > MAX_UNKNOWN_KEYS) lines.push(`${where}: \u2026 and ${issue.keys.length - MAX_UNKNOWN_KEYS} more unknown fields`);
      continue;
    }
    lines.push(`${where}: ${issue.message}`);
  }
  return lines;
}

/** Error raised for invalid user input; `problems` lists every problem found, not just the first. */
export class InputError extends Error {
  constructor(
    readonly subject: string,
    readonly problems: string[],
  ) {
    super(`invalid ${subject}:\n  - ${problems.join("\n  - ")}`);
    this.name = "InputError";
  }
}

/** Keys whose values are credentials wherever they turn up (a connection passed where a string goes, say). */
const CREDENTIAL_KEYS = /^(password|privateKey|privateKeyPassword|passphrase|secret|token)$/i;

/** An object that carries credentials at any depth (bounded), so it is never rendered. */
function holdsCredentials(value: unknown, depth = 0): boolean {
  if (typeof value !== "object" || value === null || depth > 4) return false;
  return Object.entries(value as Record<string, unknown>).some(([k, v]) => CREDENTIAL_KEYS.test(k) || holdsCredentials(v, depth + 1));
}

/** Short, safe rendering of a user value for an error message: credentials and private keys are described, never shown. */
export function showValue(value: unknown): string {
  if (value === undefined) return "undefined";
  if (holdsCredentials(value)) return `${Array.isArray(value) ? "a list" : "an object"} holding credentials (not shown)`;
  if (typeof value === "string" && /PRIVATE KEY-----/.test(value)) return "a private key (not shown)";
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * A user's text quoted (JSON) for a message, bounded: longer than `max`
 * characters, it is cut and says how long it was (`"0,2,4,…" (5000 characters)`).
 */
export function quoteText(text: string, max = 120): string {
  return text.length <= max ? JSON.stringify(text) : `${JSON.stringify(`${text.slice(0, max)}\u2026`)} (${text.length} characters)`;
}

/** A user's text for a message, unquoted and bounded like `quoteText`. */
export function capText(text: string, max = 120): string {
  return text.length <= max ? text : `${text.slice(0, max)}\u2026 (${text.length} characters)`;
}

/** Items of a list for a message, bounded: the first `max`, then "… and N more". */
export function listCapped(items: readonly string[], max = 10, separator = ", "): string {
  return items.length <= max ? items.join(separator) : `${items.slice(0, max).join(separator)}${separator}\u2026 and ${items.length - max} more`;
}

/** A zod `error` callback: "<value> is not accepted; expected <accepted>". */
export function expected(accepted: string) {
  return (issue: { input?: unknown }) => `${showValue(issue.input)} is not accepted; expected ${accepted}`;
}

/** Like `expected` but never shows the value (secrets). */
export function expectedSecret(accepted: string) {
  return () => `value not accepted (not shown: secret); expected ${accepted}`;
}
