import type { RemoteSession } from "../transport/types";

/**
 * Pulumi's `customTimeouts` for kvmtune's resources. Dynamic providers are not
 * given the engine's timeouts, so the components hand them over as an input
 * (`timeouts`), and each remote step of that operation is bounded by it.
 */

/** The operations a timeout can be set for, as in Pulumi's CustomTimeouts. */
export type TimeoutOperation = "create" | "update" | "delete" | "read";

/** Raw durations as the program gave them, e.g. `{ update: "2m" }`. */
export type StepTimeouts = Partial<Record<TimeoutOperation, string>>;

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds of a duration such as `90s`, `5m`, `1h30m` or `1.5h` (Go's syntax, plus `d`); undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h|d))+$/.test(text)) return undefined;
  let ms = 0;
  for (const [, n, , unit] of text.matchAll(/(\d+(\.\d+)?)(ns|us|µs|ms|s|m|h|d)/g)) ms += Number(n) * UNIT_MS[unit];
  return ms >= 1000 ? Math.round(ms) : undefined;
}

/** One problem per malformed duration (at least one second), naming the field. */
export function timeoutProblems(t: unknown, where = "timeouts"): string[] {
  if (t === undefined || t === null) return [];
  if (typeof t !== "object" || Array.isArray(t)) return [`${where}: ${JSON.stringify(t)} is not accepted; expected { create?, update?, delete?, read? } durations`];
  const problems: string[] = [];
  for (const [op, v] of Object.entries(t as Record<string, unknown>)) {
    if (!["create", "update", "delete", "read"].includes(op)) problems.push(`${where}: unknown operation ${JSON.stringify(op)}; accepted: create, update, delete, read`);
    else if (v !== undefined && (typeof v !== "string" || parseDuration(v) === undefined)) {
      problems.push(`${where}.${op}: ${JSON.stringify(v)} is not accepted; expected a duration of at least 1s such as "90s", "5m" or "1h30m"`);
    }
  }
  return problems;
}

/** The bound of each remote step of `op`, in ms; undefined: the step default applies. */
export function stepTimeoutMs(t: StepTimeouts | undefined, op: TimeoutOperation): number | undefined {
  const v = t?.[op];
  return v === undefined ? undefined : parseDuration(v);
}

/**
 * `s` with every command bounded by the `op` timeout of `timeouts` (a timed-out command fails naming the host,
 * the step and the bound); `s` itself when none is set.
 */
export function boundedSession(s: RemoteSession, timeouts: StepTimeouts | undefined, op: TimeoutOperation): RemoteSession {
  const timeoutMs = stepTimeoutMs(timeouts, op);
  if (timeoutMs === undefined) return s;
  return { target: s.target, run: (script, opts) => s.run(script, { ...opts, timeoutMs }), close: () => s.close() };
}
