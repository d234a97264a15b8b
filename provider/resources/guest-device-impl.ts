import type * as pulumi from "@pulumi/pulumi";
import { describeDiff, parseDomainXml, type PartDiff } from "../libvirt";
import { applyDevicePart, deviceElementXml, diffDevicePart, findDevices, readDevicePart, renderDeviceXml, type DevicePart } from "../libvirt/device-xml";
import { readDomainState, VirshStepError, writeDomain, type DomainState } from "../libvirt/virsh";
import { readLibvirtInventory } from "../libvirt/virsh-devices";
import { resolveBlockDevice } from "../host/block-preflight";
import { readHostFactsWith } from "../host/read-facts";
import { deviceKeyOf, planGuestDevice } from "../plan/guest-device";
import { deviceInputProblems, type GuestDeviceInputs } from "../spec/guest-device";
import { InputError } from "../spec/issues";
import { boundedSession, timeoutProblems } from "../spec/timeouts";
import { hasUnknown } from "../spec/unknown";
import { withSession } from "../transport/session-pool";
import type { RemoteSession } from "../transport/types";
import { observedInputs } from "./guest-device-observe";
import type { JournalOp } from "../host/journal-plan";
import { deviceKey, forgetOps, libvirtOwner, recordOps, viewJournal } from "../libvirt/domain-journal";
import { progressScope, urnInputOf } from "../transport/progress";

/**
 * CRUD of the GuestDevice dynamic resource: one device (interface, block disk
 * or PCI host device) of an existing domain, found by its key. Every operation
 * is one SSH connection; the host is read and checked before any change.
 * Each of its commands is bounded by the operation's `timeouts` (the
 * component's customTimeouts), else by the transport's 10 minutes.
 */

export interface GuestDeviceOutputs extends GuestDeviceInputs {
  kind: DevicePart["kind"];
  key: string;
  /** The device as planned and attached (e.g. the queue default resolved, the by-id source). */
  device: DevicePart;
  /** The device element as the persistent definition holds it. */
  xml: string | null;
  /** The running domain has the device. */
  attachedLive: boolean;
  /** `virsh domstate`. */
  state: string | null;
  /** One line per owned value that differs from the planned one (set by refresh). */
  drift: string[];
  /** The running domain's device differs from the definition (or is missing): it takes effect at the next restart. */
  restartRequired: boolean;
  restartReasons: string[];
  notes: string[];
}

function target(inputs: GuestDeviceInputs): string {
  const c = inputs.connection as { host?: unknown; port?: unknown } | undefined;
  return `${String(c?.host)}:${String(c?.port ?? 22)}`;
}

const canon = (v: unknown): string => JSON.stringify(v, (_k, x) => (x && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1))) : x)) ?? "null";

const what = (kind: string, key: string) => (kind === "interface" ? `interface ${key}` : kind === "disk" ? `disk ${key}` : `host device ${key}`);

export async function check(_olds: unknown, news: GuestDeviceInputs): Promise<pulumi.dynamic.CheckResult> {
  const failures = deviceInputProblems(news as unknown as Record<string, unknown>);
  if (!hasUnknown(news.timeouts)) for (const reason of timeoutProblems(news.timeouts)) failures.push({ property: "timeouts", reason });
  return { inputs: news, failures };
}

export async function diff(_id: string, olds: GuestDeviceOutputs, news: GuestDeviceInputs): Promise<pulumi.dynamic.DiffResult> {
  const replaces: string[] = [];
  if (target(olds) !== target(news)) replaces.push("connection");
  if (olds.domain !== news.domain) replaces.push("domain");
  const a = deviceKeyOf(olds);
  const b = deviceKeyOf(news);
  if (a.kind !== b.kind || a.key !== b.key) replaces.push(b.kind);
  const body = (i: GuestDeviceInputs) => canon({ interface: i.interface ?? null, disk: i.disk ?? null, hostdev: i.hostdev ?? null, live: i.live ?? true });
  // Drift no input can show (e.g. the driver switched to userspace 'qemu') still needs an update.
  const drifted = (olds.drift ?? []).length > 0;
  return { changes: replaces.length > 0 || drifted || body(olds) !== body(news), replaces, deleteBeforeReplace: true };
}

/** Reads the domain and the host and plans the device; throws before any change when it cannot be attached. */
async function preflight(s: RemoteSession, inputs: GuestDeviceInputs): Promise<{ st: DomainState; device: DevicePart; notes: string[] }> {
  const st = await readDomainState(s, inputs.domain);
  const { kind, key } = deviceKeyOf(inputs);
  if (!st.exists) throw new Error(`domain '${inputs.domain}' does not exist on ${s.target}; nothing was changed (define it first, e.g. with NumaPinnedGuest)`);
  const facts = await readHostFactsWith(s);
  const inventory = await readLibvirtInventory(s);
  const resolved = inputs.disk ? await resolveBlockDevice(s, inputs.disk.path) : undefined;
  const plan = planGuestDevice(inputs, { facts, domain: parseDomainXml(st.inactiveXml!), inventory, resolved });
  if (!plan.ok) throw new InputError(`${what(kind, key)} for domain '${inputs.domain}' on ${s.target} (nothing was changed)`, plan.reasons);
  return { st, device: plan.device, notes: plan.notes };
}

/** What the domain holds now, compared with `device`. */
function observe(st: DomainState, device: DevicePart): { drift: PartDiff[]; live: PartDiff[]; attachedLive: boolean; xml: string | null } {
  const inactive = parseDomainXml(st.inactiveXml!);
  const liveDoc = st.active && st.liveXml ? parseDomainXml(st.liveXml) : null;
  return {
    drift: diffDevicePart(device, inactive),
    live: liveDoc ? diffDevicePart(device, liveDoc) : [],
    attachedLive: liveDoc ? findDevices(liveDoc, device.kind, device.key).length > 0 : false,
    xml: deviceElementXml(inactive, device.kind, device.key),
  };
}

function outputsOf(inputs: GuestDeviceInputs, st: DomainState, device: DevicePart, notes: string[], drift: string[]): GuestDeviceOutputs {
  const o = observe(st, device);
  return {
    ...inputs,
    kind: device.kind,
    key: device.key,
    device,
    xml: o.xml,
    attachedLive: o.attachedLive,
    state: st.state,
    drift,
    restartRequired: o.live.length > 0,
    restartReasons: o.live.map(describeDiff),
    notes,
  };
}

/** Reads back after a write; a disagreement keeps `stale` as the state so delete can still undo it. */
async function readBack(s: RemoteSession, inputs: GuestDeviceInputs, id: string, device: DevicePart, notes: string[], stale: GuestDeviceOutputs | null): Promise<GuestDeviceOutputs> {
  const after = await readDomainState(s, inputs.domain);
  const wrong = after.exists ? observe(after, device).drift : [];
  if (!after.exists || wrong.length) {
    const message = `read-back of ${what(device.kind, device.key)} in domain '${inputs.domain}' on ${s.target} disagrees with what was applied: ${after.exists ? wrong.map(describeDiff).join("; ") : "the domain is gone"}`;
    const properties = stale ?? { ...inputs, kind: device.kind, key: device.key, device, xml: null, attachedLive: false, state: null, drift: [], restartRequired: false, restartReasons: [], notes };
    throw Object.assign(new Error(message), { id, properties, reasons: [message] });
  }
  return outputsOf(inputs, after, device, notes, []);
}

/**
 * attach/detach, live when asked; when libvirt refuses the live half, the persistent half alone, with a note.
 * `journal` writes go first in the first command (a refused live half has already recorded them).
 */
async function liveOrConfig(s: RemoteSession, name: string, op: "attach" | "detach", xml: string, live: boolean, notes: string[], journal: JournalOp[] = []): Promise<void> {
  try {
    await writeDomain(s, name, { [op]: { xml, live } }, journal);
  } catch (err) {
    if (!live || !(err instanceof VirshStepError)) throw err;
    await writeDomain(s, name, { [op]: { xml, live: false } });
    notes.push(`the running domain refused the ${op === "attach" ? "hot-plug" : "hot-unplug"} (${err.message}); the persistent definition was changed, the guest sees it after its next restart`);
  }
}

async function createOp(inputs: GuestDeviceInputs): Promise<pulumi.dynamic.CreateResult> {
  const { kind, key } = deviceKeyOf(inputs);
  const id = `${target(inputs)}/${inputs.domain}/${kind}/${key}`;
  return withSession(inputs.connection, async (session) => {
    const s = boundedSession(session, inputs.timeouts, "create");
    const { st, device, notes } = await preflight(s, inputs);
    const j = journalOf(st, inputs, s.target);
    // Attached by this resource before its state was lost (a killed CLI): converge it instead of refusing it.
    if (findDevices(parseDomainXml(st.inactiveXml!), kind, key).length > 0 && !j.view.mine) {
      throw new Error(`domain '${inputs.domain}' on ${s.target} already has ${what(kind, key)}; nothing was changed. Choose another ${kind === "interface" ? "mac" : kind === "disk" ? "target" : "address"}, or remove that device first`);
    }
    await converge(s, inputs, st, device, notes, j.record);
    return { id, outs: await readBack(s, inputs, id, device, notes, null) };
  });
}

/** Attaches the device, or updates the one the domain has; `journal` goes first in the same command. */
async function converge(s: RemoteSession, inputs: GuestDeviceInputs, st: DomainState, device: DevicePart, notes: string[], journal: JournalOp[]): Promise<void> {
  const doc = parseDomainXml(st.inactiveXml!);
  if (findDevices(doc, device.kind, device.key).length === 0) {
    await liveOrConfig(s, inputs.domain, "attach", renderDeviceXml(device), st.active && inputs.live !== false, notes, journal);
    return;
  }
  // Queue counts, MTU, cache modes cannot change in a running guest: the definition changes, restartRequired says the rest.
  // update-device replaces this device only (keeping its PCI address), so devices other resources attach meanwhile survive.
  const before = deviceElementXml(doc, device.kind, device.key);
  applyDevicePart(doc, device);
  const xml = deviceElementXml(doc, device.kind, device.key)!;
  if (xml !== before || journal.length) await writeDomain(s, inputs.domain, xml !== before ? { updateConfig: xml } : {}, journal);
}

/** This device's line in the host's journal: refused when another owner recorded it; `record` when it is not recorded yet. */
function journalOf(st: DomainState, inputs: GuestDeviceInputs, target: string, refuse = true) {
  const { kind, key } = deviceKeyOf(inputs);
  const view = viewJournal(st.journal, deviceKey(inputs.domain, kind, key), libvirtOwner(inputs.owner, `device ${kind} ${key} of ${inputs.domain}`));
  if (refuse && view.problems.length) throw new InputError(`${what(kind, key)} for domain '${inputs.domain}' on ${target} (nothing was changed)`, view.problems);
  return { view, record: recordOps(view, null), forget: forgetOps(view) };
}

async function updateOp(id: string, olds: GuestDeviceOutputs, news: GuestDeviceInputs): Promise<pulumi.dynamic.UpdateResult> {
  return withSession(news.connection, async (session) => {
    const s = boundedSession(session, news.timeouts, "update");
    const { st, device, notes } = await preflight(s, news);
    // A device attached before the journal existed is recorded with this update.
    await converge(s, news, st, device, notes, journalOf(st, news, s.target).record);
    return { outs: await readBack(s, news, id, device, notes, olds) };
  });
}

/** Compares the definition (and the running domain) with the planned device; drift comes back as observed inputs. */
async function readOp(id: string, props: GuestDeviceOutputs): Promise<pulumi.dynamic.ReadResult> {
  return withSession(props.connection, async (session) => {
    const s = boundedSession(session, props.timeouts, "read");
    const st = await readDomainState(s, props.domain);
    if (!st.exists) return { id: "", props: {} };
    const actual = readDevicePart(parseDomainXml(st.inactiveXml!), props.kind, props.key);
    // Removed by hand: gone from the state, so the next up attaches it again.
    if (!actual) return { id: "", props: {} };
    const o = observe(st, props.device);
    const inputs = { ...urnInputOf(props), ...observedInputs(props, actual) };
    if (props.timeouts !== undefined) inputs.timeouts = props.timeouts;
    const outs = outputsOf({ ...props, ...inputs }, st, props.device, props.notes ?? [], o.drift.map(describeDiff));
    return { id, props: { ...props, ...outs }, inputs: inputs as unknown as Record<string, unknown> };
  });
}

/** Detaches the device (live too when the domain runs and has it); a domain or device already gone is fine. */
async function removeOp(_id: string, props: GuestDeviceOutputs): Promise<void> {
  await withSession(props.connection, async (session) => {
    const s = boundedSession(session, props.timeouts, "delete");
    const st = await readDomainState(s, props.domain);
    const { forget } = journalOf(st, props, s.target, false);
    const xml = st.exists ? deviceElementXml(parseDomainXml(st.inactiveXml!), props.kind, props.key) : null;
    // Already gone (with its domain, or by hand): only its journal line goes.
    if (xml === null) {
      if (forget.length) await writeDomain(s, props.domain, {}, forget);
      return;
    }
    const o = observe(st, props.device);
    await liveOrConfig(s, props.domain, "detach", xml, o.attachedLive, [], forget);
  });
}

// Every operation runs in its resource's progress scope: long steps (apply, virsh writes, waits) report on its own row.
export const create = (inputs: GuestDeviceInputs) => progressScope(inputs, () => createOp(inputs));
export const update = (id: string, olds: GuestDeviceOutputs, news: GuestDeviceInputs) => progressScope(news, () => updateOp(id, olds, news));
export const read = (id: string, props: GuestDeviceOutputs) => progressScope(props, () => readOp(id, props));
export const remove = (id: string, props: GuestDeviceOutputs) => progressScope(props, () => removeOp(id, props));
