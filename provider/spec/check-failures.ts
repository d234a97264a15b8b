/**
 * The start every dynamic resource's `check` shares: drop inputs not known yet
 * (preview), refuse unknown top-level fields, and validate the connection.
 */
import { parseConnection } from "./connection";
import { InputError } from "./issues";
import { URN_INPUT } from "../transport/progress";
import { hasUnknown } from "./unknown";

/** One check failure: the top-level input it is about, and why. */
export interface Failure {
  property: string;
  reason: string;
}

export interface CheckStart {
  /** The inputs whose values are known (the rest are checked at the next check). */
  news: Record<string, unknown>;
  failures: Failure[];
  fail: (property: string, reasons: string[]) => void;
}

export function startCheck(input: Record<string, unknown>, fields: readonly string[]): CheckStart {
  const news = Object.fromEntries(Object.entries(input).filter(([, v]) => !hasUnknown(v)));
  const failures: Failure[] = [];
  const fail = (property: string, reasons: string[]) => reasons.forEach((reason) => failures.push({ property, reason }));
  for (const k of Object.keys(news)) {
    if (!fields.includes(k) && k !== "__provider" && k !== URN_INPUT) fail(k, [`${k}: unknown field; accepted fields: ${fields.join(", ")}`]);
  }
  try {
    // Unknown at preview when the connection comes from another resource's outputs.
    if (news.connection !== undefined) parseConnection(news.connection);
  } catch (err) {
    fail("connection", err instanceof InputError ? err.problems : [String(err)]);
  }
  return { news, failures, fail };
}
