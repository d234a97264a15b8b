import type { z } from "zod";

/**
 * Turns zod issues into one line per problem: `<root>.<path>: <message>`.
 * Field messages are written by our own `error` callbacks (they name the value
 * and what is accepted); unknown keys get the list of accepted fields.
 */
export function formatIssues(root: string, issues: readonly z.core.$ZodIssue[], acceptedKeys?: (path: PropertyKey[]) => string[] | undefined): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const where = [root, ...issue.path.map(String)].join(".");
    if (issue.code === "unrecognized_keys") {
      const accepted = acceptedKeys?.(issue.path as PropertyKey[]);
      for (const key of issue.keys) {
        lines.push(`${where}: unknown field ${JSON.stringify(key)}${accepted ? `; accepted fields: ${accepted.join(", ")}` : ""}`);
      }
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

/** Short, safe rendering of a user value for an error message. */
export function showValue(value: unknown): string {
  if (value === undefined) return "undefined";
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** A zod `error` callback: "<value> is not accepted; expected <accepted>". */
export function expected(accepted: string) {
  return (issue: { input?: unknown }) => `${showValue(issue.input)} is not accepted; expected ${accepted}`;
}

/** Like `expected` but never shows the value (secrets). */
export function expectedSecret(accepted: string) {
  return () => `value not accepted (not shown: secret); expected ${accepted}`;
}
