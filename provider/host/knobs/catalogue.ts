import { blockKind } from "./block";
import { cmdlineKind } from "./cmdline";
import { governorKind, hugetlbfsKind, mtuKind } from "./devices";
import { hugepagesKind, ksmKind, thpKind } from "./memory";
import { modparamKind, moduleKind } from "./modules";
import { sriovKind } from "./sriov";
import { sysctlKind } from "./sysctl";
import type { Knob, KnobKind } from "./types";

/** Every knob kind kvmtune knows, in the order their live steps run (modules first: schedulers need them). */
export const KNOB_KINDS: readonly KnobKind[] = [moduleKind, modparamKind, thpKind, hugepagesKind, hugetlbfsKind, ksmKind, sysctlKind, blockKind, mtuKind, sriovKind, governorKind, cmdlineKind];

/** The knob behind a key, or a problem naming what keys look like. */
export function resolveKnob(key: string): Knob | { problem: string } {
  if (typeof key !== "string" || key.length > 256) return { problem: "keys are strings of at most 256 characters" };
  for (const kind of KNOB_KINDS) {
    const r = kind.resolve(key);
    if (r) return r;
  }
  return { problem: `unknown setting; keys look like ${KNOB_KINDS.map((k) => k.grammar).join(", ")}` };
}

const rank = (k: string) => KNOB_KINDS.findIndex((kind) => k.startsWith(`${kind.name}:`));

/**
 * Order within a kind: by key, except that a block device's scheduler comes
 * before its other attributes (switching the scheduler resets nr_requests to
 * the new scheduler's default), when applying and when undoing alike.
 */
function withinKind(a: string, b: string): number {
  const sub = (k: string) => k.replace(/^(block:[^:]*:)(.*)$/, (_, dev: string, attr: string) => `${dev}${attr === "scheduler" ? "0" : "1"}${attr}`);
  const x = sub(a);
  const y = sub(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Orders keys so live steps run in KNOB_KINDS order, then by key (a device's scheduler first). */
export function knobOrder(a: string, b: string): number {
  return rank(a) - rank(b) || withinKind(a, b);
}

/** The order for undoing: kinds reversed (a scheduler before the module that provides it), a device's scheduler still first. */
export function undoOrder(a: string, b: string): number {
  return rank(b) - rank(a) || withinKind(a, b);
}
