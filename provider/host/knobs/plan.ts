import type { HostFacts } from "../facts";
import { knobOrder, resolveKnob } from "./catalogue";
import { configuredValue, managedBlock, persistenceOps, persistencePaths, renderPersistence } from "./persistence";
import type { Disruption, Knob, RemoteOp } from "./types";

/** Saved originals: key -> value before kvmtune first touched it (null = absent). */
export type Originals = Record<string, string | null>;

export interface NormalisedSettings {
  desired: Map<string, string>;
  knobs: Map<string, Knob>;
  problems: string[];
  notes: string[];
}

/** Static checks (no host needed): every key known, every value well-formed. All problems at once. */
export function normaliseSettings(settings: Record<string, unknown>, where = "settings"): NormalisedSettings {
  const desired = new Map<string, string>();
  const knobs = new Map<string, Knob>();
  const problems: string[] = [];
  const notes: string[] = [];
  for (const key of Object.keys(settings).sort(knobOrder)) {
    const raw = settings[key];
    const knob = resolveKnob(key);
    if ("problem" in knob) {
      problems.push(`${where}[${JSON.stringify(key)}]: ${knob.problem}`);
      continue;
    }
    if (typeof raw !== "string" && typeof raw !== "number") {
      problems.push(`${where}[${JSON.stringify(key)}]: ${JSON.stringify(raw)} is not accepted; expected a string or number`);
      continue;
    }
    const n = knob.normalise(String(raw));
    if ("problem" in n) {
      problems.push(`${where}[${JSON.stringify(key)}]: ${n.problem}`);
      continue;
    }
    desired.set(key, n.value);
    knobs.set(key, knob);
    notes.push(...(knob.notes?.(String(raw)) ?? []).map((t) => `${key}: ${t}`));
  }
  return { desired, knobs, problems, notes };
}

/** Every file one batched read needs: the knobs' own files and our persistence files. */
export function readList(knobs: Iterable<Knob>, tag: string): string[] {
  const paths = new Set<string>();
  for (const k of knobs) k.reads.forEach((p) => paths.add(p));
  Object.values(persistencePaths(tag)).forEach((p) => paths.add(p));
  return [...paths];
}

export interface Observation {
  /** The state value of each key: live value, or the configured one for boot-time knobs (undefined = absent). */
  values: Map<string, string | undefined>;
  /** Boot-time keys whose running value differs from the configured one. */
  pendingReboot: string[];
}

export function observe(knobs: Map<string, Knob>, tag: string, files: ReadonlyMap<string, string | undefined>): Observation {
  const values = new Map<string, string | undefined>();
  const pendingReboot: string[] = [];
  for (const [key, knob] of knobs) {
    if (knob.bootTime) {
      const configured = configuredValue(knob, tag, files);
      values.set(key, configured);
      if (configured !== undefined && knob.current(files) !== configured) pendingReboot.push(key);
    } else {
      values.set(key, knob.current(files));
    }
  }
  return { values, pendingReboot };
}

export interface Change {
  key: string;
  from: string | undefined;
  to: string | undefined;
  disruption: Disruption;
}

export interface HostTuningPlan {
  /** Host-specific problems; when any, nothing may be written. */
  problems: string[];
  changes: Change[];
  /** Live steps then persistence files, in order. */
  ops: RemoteOp[];
  /** Steps that undo `ops` if the read-back disagrees. */
  rollback: RemoteOp[];
  originals: Originals;
}

export interface PlanInput {
  desired: Map<string, string>;
  knobs: Map<string, Knob>;
  facts: HostFacts;
  files: ReadonlyMap<string, string | undefined>;
  tag: string;
  allowManagementInterface: boolean;
  /** Originals saved by earlier applies (kept as they are). */
  originals: Originals;
  /** Keys owned before this apply but no longer desired: restored to their originals. */
  dropped: Map<string, Knob>;
}

/** Decides what to write. Pure: the caller has already read `facts` and `files` in one round trip. */
export function planApply(input: PlanInput): HostTuningPlan {
  const { desired, knobs, facts, files, tag } = input;
  const problems: string[] = [];
  const ctx = { facts, desired, allowManagementInterface: input.allowManagementInterface };
  const now = observe(knobs, tag, files);
  for (const [key, knob] of knobs) {
    const found = knob.validate(desired.get(key)!, ctx);
    problems.push(...found.map((p) => `${key}: ${p}`));
    if (found.length === 0 && !knob.optional && !knob.bootTime && now.values.get(key) === undefined) {
      problems.push(`${key}: not present on this host (${knob.reads.join(", ")} missing)`);
    }
  }
  const originals: Originals = { ...input.originals };
  const changes: Change[] = [];
  const live: RemoteOp[] = [];
  const undo: RemoteOp[] = [];
  const dropped = observe(input.dropped, tag, files);
  for (const [key, knob] of input.dropped) {
    const original = input.originals[key];
    const current = dropped.values.get(key);
    delete originals[key];
    if (original === undefined || (original ?? undefined) === current) continue;
    changes.push({ key, from: current, to: original ?? undefined, disruption: knob.disruption });
    live.push(...knob.restore(original ?? undefined, current));
    undo.push(...knob.restore(current, original ?? undefined));
  }
  for (const [key, knob] of knobs) {
    const want = desired.get(key)!;
    const have = now.values.get(key);
    if (!(key in originals)) originals[key] = have ?? null;
    if (have === want) continue;
    changes.push({ key, from: have, to: want, disruption: knob.disruption });
    live.push(...knob.apply(want));
    undo.unshift(...knob.restore(have, want));
  }
  const entries = [...knobs].map(([key, knob]) => ({ knob, value: desired.get(key)! }));
  const wantedFiles = renderPersistence(tag, entries);
  const persist = persistenceOps(tag, wantedFiles, files);
  return { problems, changes, ops: [...live, ...persist], rollback: [...undo, ...persist.map((op) => undoPersist(op, files))], originals };
}

/** Puts a persistence file (or our fstab block) back as it was read. */
function undoPersist(op: RemoteOp, files: ReadonlyMap<string, string | undefined>): RemoteOp {
  if (op.op === "file") {
    const before = files.get(op.path);
    return { op: "file", path: op.path, content: before === undefined ? "" : `${before}\n` };
  }
  if (op.op === "managed-block") return { ...op, content: managedBlock(files.get(op.path), op.tag) };
  return op;
}
