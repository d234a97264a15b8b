/**
 * Batches of a staged rollout: canary hosts first, alone, then batches of a
 * chosen size, in the order the hosts were given. Pure; the engine does the
 * ordering (each batch depends on the one before it).
 */
import { InputError, showValue } from "../spec/issues";

export interface RolloutSpec {
  /** Host names in rollout order. */
  hosts: readonly string[];
  /** Hosts in the first batch, alone (0: none). Default 1. */
  canaries?: number;
  /** Hosts per batch after the canaries. Default: all the rest in one batch. */
  batchSize?: number;
}

export interface RolloutPlan {
  /** Host names per batch, in order. */
  batches: string[][];
}

/** The batches, or an InputError naming each bad field, its value and what is accepted. */
export function planRollout(spec: RolloutSpec, where = "rollout"): RolloutPlan {
  const n = spec.hosts.length;
  const problems: string[] = [];
  if (n === 0) problems.push("hosts: empty; expected at least one host");
  const canaries = spec.canaries ?? Math.min(1, n);
  if (!Number.isInteger(canaries) || canaries < 0 || canaries > n) problems.push(`canaries: ${showValue(spec.canaries)} is not accepted; expected an integer from 0 to ${n} (the number of hosts)`);
  const rest = n - (Number.isInteger(canaries) ? canaries : 0);
  const size = spec.batchSize ?? Math.max(rest, 1);
  if (!Number.isInteger(size) || size < 1) problems.push(`batchSize: ${showValue(spec.batchSize)} is not accepted; expected an integer of at least 1`);
  if (problems.length) throw new InputError(where, problems);
  const batches: string[][] = [];
  if (canaries > 0) batches.push(spec.hosts.slice(0, canaries));
  for (let i = canaries; i < n; i += size) batches.push(spec.hosts.slice(i, i + size));
  return { batches };
}

/** One line per batch for the preview: "batch 1 (canary): hv01; batch 2: hv02, hv03". */
export function describeRollout(plan: RolloutPlan, canaries: number): string {
  return plan.batches.map((b, i) => `batch ${i + 1}${i === 0 && canaries > 0 ? " (canary)" : ""}: ${b.join(", ")}`).join("; ");
}
