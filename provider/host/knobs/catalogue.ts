import { blockKind } from "./block";
import { cmdlineKind } from "./cmdline";
import { governorKind, hugetlbfsKind, mtuKind } from "./devices";
import { hugepagesKind, ksmKind, thpKind } from "./memory";
import { modparamKind, moduleKind } from "./modules";
import { sysctlKind } from "./sysctl";
import type { Knob, KnobKind } from "./types";

/** Every knob kind kvmtune knows, in the order their live steps run (modules first: schedulers need them). */
export const KNOB_KINDS: readonly KnobKind[] = [moduleKind, modparamKind, thpKind, hugepagesKind, hugetlbfsKind, ksmKind, sysctlKind, blockKind, mtuKind, governorKind, cmdlineKind];

/** The knob behind a key, or a problem naming what keys look like. */
export function resolveKnob(key: string): Knob | { problem: string } {
  if (typeof key !== "string" || key.length > 256) return { problem: "keys are strings of at most 256 characters" };
  for (const kind of KNOB_KINDS) {
    const r = kind.resolve(key);
    if (r) return r;
  }
  return { problem: `unknown setting; keys look like ${KNOB_KINDS.map((k) => k.grammar).join(", ")}` };
}

/** Orders keys so live steps run in KNOB_KINDS order, then by key. */
export function knobOrder(a: string, b: string): number {
  const rank = (k: string) => KNOB_KINDS.findIndex((kind) => k.startsWith(`${kind.name}:`));
  return rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0);
}
