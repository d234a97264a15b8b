import { quoteText } from "../../spec/issues";
import type { Knob, RemoteOp } from "./types";

/** A value that may be written to a sysfs/procfs file: printable, one line, bounded. */
export function plainValue(value: string, accepted: string): { value: string } | { problem: string } {
  if (typeof value !== "string" || value.length > 4096 || /[\x00-\x08\x0a-\x1f\x7f]/.test(value)) {
    return { problem: `${typeof value === "string" ? quoteText(value) : JSON.stringify(value)} is not accepted; expected ${accepted} (one line of printable text)` };
  }
  return { value: value.trim().replace(/\s+/g, " ") };
}

/** Normalises an integer within bounds. */
export function intValue(value: string, min: number, max: number, unit = ""): { value: string } | { problem: string } {
  const text = String(value).trim();
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    return { problem: `${quoteText(String(value))} is not accepted; expected an integer from ${min} to ${max}${unit}` };
  }
  return { value: String(Number(text)) };
}

/** One of a fixed set. */
export function oneOf(value: string, allowed: readonly string[]): { value: string } | { problem: string } {
  const text = String(value).trim();
  return allowed.includes(text) ? { value: text } : { problem: `${quoteText(String(value))} is not accepted; expected one of ${allowed.join(", ")}` };
}

/** The active choice of a `a [b] c` file, or the whole trimmed text when there are no brackets. */
export function bracketed(content: string | undefined): string | undefined {
  if (content === undefined) return undefined;
  const m = /\[([^\]]+)\]/.exec(content);
  return m ? m[1] : content.trim();
}

/** Trimmed file content with whitespace runs folded to one space (sysctl prints tabs). */
export function folded(content: string | undefined): string | undefined {
  return content === undefined ? undefined : content.trim().replace(/\s+/g, " ");
}

export const restoreByWrite = (path: string) => (original: string | undefined): RemoteOp[] => (original === undefined ? [] : [{ op: "write", path, value: original }]);

/** A knob backed by one writable file whose content is the value. */
export function fileKnob(spec: Pick<Knob, "key" | "normalise" | "validate" | "persistence"> & { path: string; parse?: (c: string | undefined) => string | undefined; notes?: Knob["notes"] }): Knob {
  const parse = spec.parse ?? folded;
  return {
    key: spec.key,
    disruption: "live",
    reads: [spec.path],
    current: (files) => parse(files.get(spec.path)),
    normalise: spec.normalise,
    validate: spec.validate,
    apply: (value) => [{ op: "write", path: spec.path, value }],
    restore: restoreByWrite(spec.path),
    persistence: spec.persistence,
    notes: spec.notes,
  };
}
