import type * as pulumi from "@pulumi/pulumi";
import type { HostFactsSummary } from "../host/facts-summary";
import { fileTag } from "../host/knobs/persistence";
import { normaliseSettings, type Originals } from "../host/knobs/plan";
import { applyHostTuning, defaultOwner, PartialApplyError, readHostTuning, restoreHostTuning } from "../host/tuning";
import { sameOwner, type JournalOwner } from "../host/journal";
import { stepTimeoutMs, timeoutProblems, type StepTimeouts } from "../spec/timeouts";
import { parseConnection } from "../spec/connection";
import { InputError } from "../spec/issues";
import { hasUnknown } from "../spec/unknown";
import { flattenSettings, groupSettings, type GroupedSettings } from "../spec/tuned-host";
import { progressScope, urnInputOf } from "../transport/progress";

/**
 * CRUD of the HostTuning dynamic resource. The serialised provider object in
 * host-tuning.ts loads this module at call time, so state carries no code
 * beyond a require and no secrets are captured in the closure.
 */

export interface HostTuningInputs {
  connection: unknown;
  /** Resource name as a file-name tag (persistence files are per resource). */
  tag: string;
  allowManagementInterface?: boolean;
  allowVfRecreate?: boolean;
  settings: GroupedSettings;
  /** Problems the program found from the host's facts; reported by check against `settings`. */
  hostProblems?: string[];
  /** Who owns these keys in the host's journal of originals (stack and resource; the tag is `tag`). */
  owner?: { stack: string; resource: string };
  /** Keys to take over from another owner in the journal (or "all"), keeping its recorded original. */
  takeOver?: string[] | "all";
  /** Set only by read (see HostTuningOutputs.persistenceDrift). */
  persistenceDrift?: string[];
  /** The component's customTimeouts: each remote step of an operation is bounded by that operation's duration. */
  timeouts?: StepTimeouts;
}

export interface HostTuningOutputs extends HostTuningInputs {
  /** Originals saved the first time each key was touched; delete restores these. */
  originals: Originals;
  /** Boot-time keys configured but not yet running (reboot to apply). */
  pendingRebootKeys: string[];
  pendingReboot: boolean;
  notes: string[];
  hostname: string | null;
  kernel: string | null;
  /** Host facts seen at the last apply. */
  facts: HostFactsSummary | null;
  /** Settings another actor sets differently at boot, as seen at the last apply. */
  bootOverrides: string[];
  /**
   * Hand edits of kvmtune's own persistence files found by the last refresh, one per file line; absent when
   * there are none. Also returned as an input, so preview shows it as a change and `up` rewrites the files.
   */
  persistenceDrift?: string[];
}

/** The journal owner of a resource; state from before the journal has none (the tag alone then, as direct callers). */
function journalOwner(inputs: HostTuningInputs): JournalOwner {
  return inputs.owner ? { stack: inputs.owner.stack, resource: inputs.owner.resource, tag: inputs.tag } : defaultOwner(inputs.tag);
}

const isName = (v: unknown): v is string => typeof v === "string" && v.length > 0 && v.length <= 256 && !/[\u0000-\u001f]/.test(v);

function checkJournalArgs(news: HostTuningInputs): pulumi.dynamic.CheckFailure[] {
  const failures: pulumi.dynamic.CheckFailure[] = [];
  const o = news.owner as unknown;
  if (o !== undefined && !hasUnknown(o) && !(typeof o === "object" && o !== null && isName((o as { stack?: unknown }).stack) && isName((o as { resource?: unknown }).resource))) {
    failures.push({ property: "owner", reason: `${JSON.stringify(o)} is not accepted; expected { stack, resource } (non-empty names without control characters)` });
  }
  const t = news.takeOver as unknown;
  if (t !== undefined && t !== "all" && !hasUnknown(t) && !(Array.isArray(t) && t.every((k) => typeof k === "string"))) {
    failures.push({ property: "takeOver", reason: `${JSON.stringify(t)} is not accepted; expected a list of setting keys (as the ownership error names them) or "all"` });
  }
  return failures;
}

function target(inputs: HostTuningInputs): string {
  const c = inputs.connection as { host?: unknown; port?: unknown } | undefined;
  return `${String(c?.host)}:${String(c?.port ?? 22)}`;
}

export async function check(_olds: unknown, news: HostTuningInputs): Promise<pulumi.dynamic.CheckResult> {
  const failures: pulumi.dynamic.CheckFailure[] = [];
  try {
    // Unknown during preview when the connection comes from another resource's outputs.
    if (news.connection !== undefined && !hasUnknown(news.connection)) parseConnection(news.connection);
  } catch (err) {
    for (const p of err instanceof InputError ? err.problems : [String(err)]) failures.push({ property: "connection", reason: p });
  }
  // Unknown at preview when the connection is; then the update's own checks on the host refuse the same.
  if (Array.isArray(news.hostProblems)) for (const p of news.hostProblems) failures.push({ property: "settings", reason: String(p) });
  if (hasUnknown(news.settings)) return { inputs: news, failures };
  const norm = normaliseSettings(flattenSettings(news.settings));
  for (const p of norm.problems) failures.push({ property: "settings", reason: p });
  if (typeof news.tag !== "string" || fileTag(news.tag) !== news.tag) failures.push({ property: "tag", reason: `${JSON.stringify(news.tag)} is not accepted; expected lower-case letters, digits and '-'` });
  failures.push(...checkJournalArgs(news));
  for (const p of timeoutProblems(news.timeouts)) failures.push({ property: "timeouts", reason: p });
  // Values are normalised (e.g. cfq -> bfq) and regrouped so state always holds the canonical form.
  const settings = groupSettings(Object.fromEntries(norm.desired));
  return { inputs: { ...news, settings: norm.problems.length ? news.settings : settings }, failures };
}

export async function diff(_id: string, olds: HostTuningOutputs, news: HostTuningInputs): Promise<pulumi.dynamic.DiffResult> {
  const replaces: string[] = [];
  if (target(olds) !== target(news)) replaces.push("connection");
  if (olds.tag !== news.tag) replaces.push("tag");
  // A new owner alone (a renamed stack) changes nothing on the host: the next write re-records it.
  const changed =
    JSON.stringify(olds.settings) !== JSON.stringify(news.settings) ||
    Boolean(olds.allowManagementInterface) !== Boolean(news.allowManagementInterface) ||
    Boolean(olds.allowVfRecreate) !== Boolean(news.allowVfRecreate) ||
    JSON.stringify(olds.takeOver ?? []) !== JSON.stringify(news.takeOver ?? []) ||
    // A refresh found our persistence files edited by hand: the update rewrites them.
    (olds.persistenceDrift?.length ?? 0) > 0;
  return { changes: changed || replaces.length > 0, replaces, deleteBeforeReplace: true };
}

async function apply(op: "create" | "update", inputs: HostTuningInputs, originals: Originals, previousKeys: string[], formerOwner?: JournalOwner): Promise<HostTuningOutputs> {
  const owner = journalOwner(inputs);
  const r = await applyHostTuning(inputs.connection, {
    settings: flattenSettings(inputs.settings),
    tag: inputs.tag,
    allowManagementInterface: Boolean(inputs.allowManagementInterface),
    allowVfRecreate: Boolean(inputs.allowVfRecreate),
    originals,
    previousKeys,
    owner,
    formerOwners: formerOwner && !sameOwner(formerOwner, owner) ? [formerOwner] : [],
    takeOver: inputs.takeOver,
    timeoutMs: stepTimeoutMs(inputs.timeouts, op),
  });
  return {
    ...inputs,
    originals: r.originals,
    pendingRebootKeys: r.pendingReboot,
    pendingReboot: r.pendingReboot.length > 0,
    notes: r.notes,
    hostname: r.hostname,
    kernel: r.kernel,
    facts: r.facts,
    bootOverrides: r.bootOverrides,
  };
}

/**
 * When a failed apply could not be rolled back, the engine must still record
 * the originals, or delete could never restore them: an error carrying `id` and
 * `properties` becomes the resource's state (ErrorResourceInitFailed). The
 * server does not add `__provider` to such state, so we do.
 */
function keepOriginals(err: unknown, id: string, inputs: HostTuningInputs & { __provider?: unknown }, settings: GroupedSettings): never {
  if (err instanceof PartialApplyError) {
    const properties = { ...inputs, settings, originals: err.originals, pendingRebootKeys: [], pendingReboot: false, notes: [], hostname: null, kernel: null, facts: null, bootOverrides: [] };
    throw Object.assign(new Error(err.message), { id, properties, reasons: [err.message] });
  }
  throw err;
}

async function createOp(inputs: HostTuningInputs): Promise<pulumi.dynamic.CreateResult> {
  const id = `${target(inputs)}/${inputs.tag}`;
  try {
    return { id, outs: await apply("create", inputs, {}, []) };
  } catch (err) {
    keepOriginals(err, id, inputs, groupSettings({}));
  }
}

async function updateOp(id: string, olds: HostTuningOutputs, news: HostTuningInputs): Promise<pulumi.dynamic.UpdateResult> {
  const previousKeys = Object.keys(flattenSettings(olds.settings));
  try {
    return { outs: await apply("update", news, olds.originals ?? {}, previousKeys, journalOwner(olds)) };
  } catch (err) {
    keepOriginals(err, id, news, olds.settings);
  }
}

/** Reads every owned key in one round trip and reports it as both outputs and inputs, so refresh names the drifted key. */
async function readOp(id: string, props: HostTuningOutputs): Promise<pulumi.dynamic.ReadResult> {
  const applied = flattenSettings(props.settings);
  const keys = Object.keys(applied);
  const r = await readHostTuning(props.connection, keys, props.tag, applied, stepTimeoutMs(props.timeouts, "read"));
  const observed: Record<string, string> = {};
  for (const key of keys) observed[key] = r.values[key] ?? "(absent)";
  const settings = groupSettings(observed);
  const { persistenceDrift: _earlier, ...rest } = props;
  const outs: HostTuningOutputs = { ...rest, settings, pendingRebootKeys: r.pendingReboot, pendingReboot: r.pendingReboot.length > 0 };
  const inputs: HostTuningInputs = { ...urnInputOf(props), connection: props.connection, tag: props.tag, allowManagementInterface: Boolean(props.allowManagementInterface), allowVfRecreate: Boolean(props.allowVfRecreate), settings };
  if (props.owner !== undefined) inputs.owner = props.owner;
  if (props.takeOver !== undefined) inputs.takeOver = props.takeOver;
  if (props.timeouts !== undefined) inputs.timeouts = props.timeouts;
  // Only when there is some: the program never sets it, so its presence is the change preview shows.
  if (r.persistenceDrift.length > 0) outs.persistenceDrift = inputs.persistenceDrift = r.persistenceDrift;
  return { id, props: outs, inputs: inputs as unknown as Record<string, unknown> };
}

async function removeOp(_id: string, props: HostTuningOutputs): Promise<void> {
  await restoreHostTuning(props.connection, props.originals ?? {}, props.tag, journalOwner(props), stepTimeoutMs(props.timeouts, "delete"));
}

// Every operation runs in its resource's progress scope: long steps (apply, virsh writes, waits) report on its own row.
export const create = (inputs: HostTuningInputs) => progressScope(inputs, () => createOp(inputs));
export const update = (id: string, olds: HostTuningOutputs, news: HostTuningInputs) => progressScope(news, () => updateOp(id, olds, news));
export const read = (id: string, props: HostTuningOutputs) => progressScope(props, () => readOp(id, props));
export const remove = (id: string, props: HostTuningOutputs) => progressScope(props, () => removeOp(id, props));
