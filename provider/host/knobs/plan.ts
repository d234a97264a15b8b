import { bootloaderTool, type GrubGenerator } from "../bootloader";
import type { HostFacts } from "../facts";
import { knobOrder, resolveKnob, undoOrder } from "./catalogue";
import { configuredValue, managedBlock, persistenceOps, persistencePaths, renderPersistence } from "./persistence";
import type { Disruption, Knob, RemoteOp } from "./types";
import { planUnresponsive } from "./unresponsive";

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

/** Reads each key's state from `files`; `desired` values (else what our own files record) are the knobs' hints. */
export function observe(knobs: Map<string, Knob>, tag: string, files: ReadonlyMap<string, string | undefined>, desired?: ReadonlyMap<string, string>): Observation {
  const values = new Map<string, string | undefined>();
  const pendingReboot: string[] = [];
  for (const [key, knob] of knobs) {
    if (knob.bootTime) {
      const configured = configuredValue(knob, tag, files);
      values.set(key, configured);
      if (configured !== undefined && knob.current(files) !== configured) pendingReboot.push(key);
    } else {
      values.set(key, knob.current(files, desired?.get(key) ?? configuredValue(knob, tag, files)));
    }
  }
  return { values, pendingReboot };
}

/** The device whose scheduler `key` sets, if it is a scheduler key. */
const schedulerDevice = (key: string) => /^block:([^:]+):scheduler$/.exec(key)?.[1];
/** The device whose nr_requests `key` sets: switching that device's scheduler resets it, so it is written again after. */
const nrRequestsDevice = (key: string) => /^block:([^:]+):nr_requests$/.exec(key)?.[1];

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
  allowVfRecreate?: boolean;
  /** Originals saved by earlier applies (kept as they are). */
  originals: Originals;
  /** Keys owned before this apply but no longer desired: restored to their originals. */
  dropped: Map<string, Knob>;
}

/** Decides what to write. Pure: the caller has already read `facts` and `files` in one round trip. */
export function planApply(input: PlanInput): HostTuningPlan {
  const { desired, knobs, facts, files, tag } = input;
  const problems: string[] = [];
  const ctx = { facts, desired, allowManagementInterface: input.allowManagementInterface, allowVfRecreate: input.allowVfRecreate ?? false };
  const now = observe(knobs, tag, files);
  const hung = planUnresponsive([...input.dropped, ...knobs], facts.unresponsive);
  problems.push(...hung.values());
  for (const [key, knob] of knobs) {
    if (hung.has(key)) continue;
    const found = knob.validate(desired.get(key)!, ctx);
    problems.push(...found.map((p) => `${key}: ${p}`));
    if (found.length === 0 && !knob.optional && !knob.bootTime && now.values.get(key) === undefined) {
      problems.push(`${key}: not present on this host (${knob.reads.join(", ")} missing)`);
    }
  }
  const originals: Originals = { ...input.originals };
  const changes: Change[] = [];
  const live: RemoteOp[] = [];
  const undo: [string, RemoteOp[]][] = [];
  const switched = new Set<string>();
  const dropped = observe(input.dropped, tag, files);
  for (const [key, knob] of input.dropped) {
    const original = input.originals[key];
    const current = dropped.values.get(key);
    delete originals[key];
    if (original === undefined || (original ?? undefined) === current) continue;
    changes.push({ key, from: current, to: original ?? undefined, disruption: knob.disruption });
    live.push(...knob.restore(original ?? undefined, current));
    undo.push([key, knob.restore(current, original ?? undefined)]);
    if (schedulerDevice(key)) switched.add(schedulerDevice(key)!);
  }
  for (const [key, knob] of knobs) {
    const want = desired.get(key)!;
    const have = now.values.get(key);
    if (!(key in originals)) originals[key] = have ?? null;
    const rewrite = switched.has(nrRequestsDevice(key) ?? "");
    if (have === want && !rewrite) continue;
    if (have !== want) changes.push({ key, from: have, to: want, disruption: knob.disruption });
    live.push(...knob.apply(want, have));
    undo.push([key, knob.restore(have, want)]);
    if (schedulerDevice(key)) switched.add(schedulerDevice(key)!);
  }
  const entries = [...knobs].map(([key, knob]) => ({ knob, value: desired.get(key)! }));
  const wantedFiles = renderPersistence(tag, entries);
  const persist = persistenceOps(tag, wantedFiles, files, bootloaderTool(facts.bootloader));
  const rollback = undo.sort(([a], [b]) => undoOrder(a, b)).flatMap(([, ops]) => ops);
  // A file written twice (the boot loader drop-in) is put back once.
  const restoreFiles = persist.map((op) => undoPersist(op, files)).filter((op, i, all) => op.op !== "file" || all.findIndex((o) => o.op === "file" && o.path === op.path) === i);
  return { problems, changes, ops: [...live, ...persist], rollback: [...rollback, ...restoreFiles], originals };
}

/**
 * Steps that undo a failed apply, from what is on the host now: only keys whose
 * value moved away from `before` are restored (steps that never ran or had no
 * effect are skipped, so one of them cannot stop the rest), in undo order, and
 * persistence files that differ from `before` get their old content back
 * (a changed boot loader drop-in then regenerates with `tool`, when there is one).
 */
export function planRollback(knobs: Map<string, Knob>, tag: string, before: ReadonlyMap<string, string | undefined>, after: ReadonlyMap<string, string | undefined>, tool: GrubGenerator | "none", desired?: ReadonlyMap<string, string>): RemoteOp[] {
  const was = observe(knobs, tag, before, desired);
  const is = observe(knobs, tag, after, desired);
  const ops: RemoteOp[] = [];
  const switched = new Set<string>();
  for (const key of [...knobs.keys()].sort(undoOrder)) {
    const knob = knobs.get(key)!;
    if (knob.bootTime) continue; // configured in a file: restored with the files below
    const from = is.values.get(key);
    const to = was.values.get(key);
    if (from === to && !switched.has(nrRequestsDevice(key) ?? "")) continue;
    ops.push(...knob.restore(to, from));
    if (schedulerDevice(key) && from !== to) switched.add(schedulerDevice(key)!);
  }
  for (const path of Object.values(persistencePaths(tag))) {
    if (path === persistencePaths(tag).fstab) {
      const block = managedBlock(before.get(path), tag);
      if (managedBlock(after.get(path), tag) !== block) ops.push({ op: "managed-block", path, tag, content: block });
    } else if (before.get(path) !== after.get(path)) {
      ops.push(undoPersist({ op: "file", path, content: "" }, before));
      // Putting the drop-in back regenerates, unless there is no generator: then it was never regenerated from either.
      if (path === persistencePaths(tag).bootloader && tool !== "none") ops.push({ op: "update-bootloader", tool });
    }
  }
  return ops;
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
