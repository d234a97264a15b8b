/**
 * Picks host CPUs for one guest cell on one node, by thread policy. Pure and
 * deterministic: every choice breaks ties by the lowest CPU id.
 */
import type { ThreadPolicy } from "./request";
import type { Core } from "./topology";

/** CPUs chosen on one node. */
export interface CellPick {
  /** vCPU CPUs per core: cores by id, threads ascending. */
  groups: number[][];
  /** Siblings kept idle (threadPolicy "isolate"). */
  idle: number[];
  /** A whole core for the emulator; null when not asked for or none is left. */
  emulator: number[] | null;
}

/** `blocked[cpu]` is 1 for CPUs no vCPU of this guest may take (housekeeping, other guests, explicit emulator CPUs). */
export type Blocked = Uint8Array;

const freeOf = (core: Core, blocked: Blocked) => core.cpus.filter((c) => blocked[c] === 0);
const whole = (core: Core, blocked: Blocked) => core.cpus.every((c) => blocked[c] === 0);

/** Free CPUs on a node. */
export function freeCpus(cores: readonly Core[], blocked: Blocked): number {
  let n = 0;
  for (const core of cores) for (const c of core.cpus) if (blocked[c] === 0) n++;
  return n;
}

/** What a node offers in the policy's unit: free CPUs (prefer) or whole free cores (require: of full SMT width; isolate: any). */
export function policyCapacity(cores: readonly Core[], blocked: Blocked, policy: ThreadPolicy, smt: number): number {
  if (policy === "prefer") return freeCpus(cores, blocked);
  return cores.filter((k) => whole(k, blocked) && (policy === "isolate" || k.cpus.length === smt)).length;
}

/** Picks `n` vCPU CPUs, then (when asked) a whole core for the emulator; null when the vCPUs do not fit. */
export function pickCell(cores: readonly Core[], blocked: Blocked, policy: ThreadPolicy, n: number, smt: number, emulatorCore: boolean): CellPick | null {
  const picked = policy === "prefer" ? pickPrefer(cores, blocked, n) : pickWhole(cores, blocked, policy, n, smt);
  if (!picked) return null;
  let emulator: number[] | null = null;
  if (emulatorCore) {
    const used = new Set(picked.cores);
    // Smallest whole core first: a core whose sibling is offline costs nothing extra.
    const core = cores.filter((k) => !used.has(k) && whole(k, blocked)).sort((a, b) => a.cpus.length - b.cpus.length || a.id - b.id)[0];
    emulator = core ? [...core.cpus] : null;
  }
  const order = picked.cores.map((core, i) => ({ core, cpus: picked.groups[i] })).sort((a, b) => a.core.id - b.core.id);
  return { groups: order.map((o) => o.cpus), idle: picked.idle.sort((a, b) => a - b), emulator };
}

interface Picked {
  cores: Core[];
  groups: number[][];
  idle: number[];
}

// Best fit: fill the fullest cores that still fit, then finish in the smallest core
// that can take the remainder, so an odd count splits a partly used core, not a fresh one.
function pickPrefer(cores: readonly Core[], blocked: Blocked, n: number): Picked | null {
  const cand = cores
    .map((core) => ({ core, free: freeOf(core, blocked) }))
    .filter((c) => c.free.length > 0)
    .sort((a, b) => b.free.length - a.free.length || a.core.id - b.core.id);
  const out: Picked = { cores: [], groups: [], idle: [] };
  let left = n;
  const rest: typeof cand = [];
  for (const c of cand) {
    if (left > 0 && c.free.length <= left) {
      out.cores.push(c.core);
      out.groups.push(c.free);
      left -= c.free.length;
    } else rest.push(c);
  }
  if (left > 0) {
    const last = rest.filter((c) => c.free.length > left).sort((a, b) => a.free.length - b.free.length || a.core.id - b.core.id)[0];
    if (!last) return null;
    out.cores.push(last.core);
    out.groups.push(last.free.slice(0, left));
  }
  return out;
}

// require: whole cores of full SMT width, every thread a vCPU.
// isolate: whole cores, the lowest thread a vCPU, the rest idle; narrow cores first (nothing to waste).
function pickWhole(cores: readonly Core[], blocked: Blocked, policy: ThreadPolicy, n: number, smt: number): Picked | null {
  const fit = cores.filter((k) => whole(k, blocked) && (policy === "isolate" || k.cpus.length === smt));
  if (policy === "isolate") fit.sort((a, b) => a.cpus.length - b.cpus.length || a.id - b.id);
  const need = policy === "isolate" ? n : n / smt;
  if (!Number.isInteger(need) || fit.length < need) return null;
  const chosen = fit.slice(0, need);
  return {
    cores: chosen,
    groups: chosen.map((k) => (policy === "isolate" ? [k.cpus[0]] : [...k.cpus])),
    idle: policy === "isolate" ? chosen.flatMap((k) => k.cpus.slice(1)) : [],
  };
}
