import type * as pulumi from "@pulumi/pulumi";
import { applyOwnedParts, describeDiff, diffOwnedParts, parseDomainXml, readOwnedParts, renderDomainXml, type OwnedParts, type PartDiff } from "../libvirt";
import { deviceProblems } from "../libvirt/devices-apply";
import { renderObservedSummary, type ObservedSummary } from "../libvirt/placement-drift";
import { planPlacementRepair } from "../libvirt/placement-repair";
import { buildMinimalDomain } from "../libvirt/domain-builder";
import { fitParts, readDomainFacts } from "../libvirt/domain-fit";
import { readDomainState, VirshStepError, writeDomain, WriteTimeoutError, type DomainState, type DomainWrite } from "../libvirt/virsh";
import { DEFAULT_SHUTDOWN_SECONDS, effectiveParts, inputProblems, observedDomain, shutdownFitProblem, type LibvirtDomainInputs } from "../libvirt/virsh-inputs";
import { classifyLiveDiffs, domainProblems, effectiveLiveParts, observedParts, planLiveNumatune, planLivePins, projectParts, reconcileOwnership } from "../libvirt/virsh-plan";
import { InputError } from "../spec/issues";
import { withSession } from "../transport/session-pool";
import type { RemoteSession } from "../transport/types";
import { boundedSession } from "../spec/timeouts";
import type { JournalOp } from "../host/journal-plan";
import { domainKey, forgetOps, libvirtOwner, recordOps, viewJournal, type JournalView } from "../libvirt/domain-journal";
import { progressScope, urnInputOf } from "../transport/progress";

/**
 * CRUD of the LibvirtDomain dynamic resource (loaded at call time by the
 * serialised provider in libvirt-domain.ts). Every operation is one SSH
 * connection: one read, at most one write, and a read-back after a write.
 * Each of its commands is bounded by the operation's `timeouts` (the
 * component's customTimeouts), else by the transport's 10 minutes.
 */

export interface LibvirtDomainOutputs extends LibvirtDomainInputs {
  uuid: string | null;
  /** The domain's persistent XML as libvirt holds it after our define (`dumpxml --inactive`). */
  xml: string | null;
  /** `virsh domstate`, e.g. "running", "shut off". */
  state: string | null;
  /** One line per owned value that differs from the desired one (set by refresh), e.g. "cputune.vcpupin[1]: 0 → 1". */
  drift: string[];
  /** The running domain differs from its definition in an owned part libvirt cannot change live. */
  restartRequired: boolean;
  restartReasons: string[];
  /** Adopt mode: the owned parts as they were before kvmtune changed them; delete restores these. */
  originals: Partial<OwnedParts> | null;
  /** Adopt mode: autostart before kvmtune set it (null: not owned). */
  originalAutostart: boolean | null;
  /** Where the running guest's threads may run and where its memory is, per host node (null: not running). */
  observed: ObservedSummary | null;
  /** Measured placement that differs from the owned parts, e.g. "placement.memory: 64 MiB on node0, outside strict nodeset 1". */
  placementDrift: string[];
}

function target(inputs: LibvirtDomainInputs): string {
  const c = inputs.connection as { host?: unknown; port?: unknown } | undefined;
  return `${String(c?.host)}:${String(c?.port ?? 22)}`;
}

const canon = (v: unknown): string => JSON.stringify(v, (_k, x) => (x && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1))) : x)) ?? "null";

export async function check(_olds: unknown, news: LibvirtDomainInputs): Promise<pulumi.dynamic.CheckResult> {
  return { inputs: news, failures: inputProblems(news as unknown as Record<string, unknown>) };
}

/** The disk layout and type a defined domain was built with; changing them means a new domain. */
function layout(inputs: LibvirtDomainInputs): string {
  const d = inputs.domain;
  return d ? canon({ type: d.type ?? "kvm", disks: (d.disks ?? []).map((x, i) => ({ path: x.path, target: x.target ?? i })) }) : "";
}

export async function diff(_id: string, olds: LibvirtDomainOutputs, news: LibvirtDomainInputs): Promise<pulumi.dynamic.DiffResult> {
  const replaces: string[] = [];
  if (target(olds) !== target(news)) replaces.push("connection");
  if (olds.name !== news.name) replaces.push("name");
  if (olds.mode !== news.mode) replaces.push("mode");
  if (news.mode === "define" && layout(olds) !== layout(news)) replaces.push("domain");
  const changed =
    canon(olds.parts ?? {}) !== canon(news.parts ?? {}) || canon(olds.domain ?? null) !== canon(news.domain ?? null) ||
    olds.autostart !== news.autostart || (olds.start ?? false) !== (news.start ?? false) || unexplainedPlacement(olds) ||
    (olds.restart ?? "never") !== (news.restart ?? "never") || olds.shutdownTimeoutSeconds !== news.shutdownTimeoutSeconds;
  return { changes: changed || replaces.length > 0, replaces, deleteBeforeReplace: true };
}

const liveOf = (st: DomainState): OwnedParts | null => (st.active && st.liveXml ? readOwnedParts(parseDomainXml(st.liveXml)) : null);

/** Live drift (pins, a nodeset libvirt moves live) and restart-required differences of a running domain. */
function liveView(st: DomainState, desired: Partial<OwnedParts>): { effective: OwnedParts | null; pinning: PartDiff[]; restart: PartDiff[]; nodeset?: string } {
  const live = liveOf(st);
  if (!live || !st.livePins) return { effective: null, pinning: [], restart: [] };
  const effective = effectiveLiveParts(live, st.livePins, desired, st.hostCpus);
  const nodeset = planLiveNumatune(desired, effective, st.cpusetCgroup);
  return { effective, ...classifyLiveDiffs(diffOwnedParts(desired, effective), st.livePins, nodeset !== undefined), ...(nodeset ? { nodeset } : {}) };
}

interface Converge {
  inputs: LibvirtDomainInputs & { __provider?: unknown };
  id: string;
  /** The XML the parts are applied to: the current inactive XML, or a freshly built one. */
  base: string;
  desired: Partial<OwnedParts>;
  originals: Partial<OwnedParts> | null;
  originalAutostart: boolean | null;
  /** Start it (when not running); "paused": with its vCPUs stopped. */
  start: boolean | "paused";
  /** Wanted autostart; undefined: leave as is. */
  autostart: boolean | undefined;
  isNew: boolean;
  /** What a partial failure records instead of the new inputs, so the next update tries again. */
  stale: Partial<LibvirtDomainInputs>;
  /** Journal writes that go first in the same command as the domain write. */
  journal?: JournalOp[];
  /** The operation, whose timeout bounds each command (a restart's wait included). */
  op: "create" | "update";
}

/** Applies `c.desired` in one write (define, start, autostart, live pins), reads back and returns the outputs. */
async function converge(s: RemoteSession, st: DomainState, c: Converge): Promise<LibvirtDomainOutputs> {
  const name = c.inputs.name;
  const doc = parseDomainXml(c.base);
  // What the rest of the domain needs (a NUMA cell for memory devices) is kept in sync like the parts.
  c = { ...c, desired: fitParts(c.desired, doc) };
  const early = deviceProblems(doc, c.desired);
  if (early.length) throw new InputError(`parts for domain '${name}' on ${s.target} (nothing was changed)`, early.map((p) => `parts.${p}`));
  applyOwnedParts(doc, c.desired);
  const problems = domainProblems(c.desired, readOwnedParts(doc), st.hostCpus, "parts", readDomainFacts(doc));
  if (problems.length) throw new InputError(`parts for domain '${name}' on ${s.target} (nothing was changed)`, problems);
  const xml = renderDomainXml(doc);
  const w: DomainWrite = {};
  if (c.isNew || xml !== st.inactiveXml) w.define = xml;
  if (c.start && !st.active) w.start = c.start;
  if (c.autostart !== undefined && (st.autostart ?? false) !== c.autostart) w.autostart = c.autostart;
  const now = liveView(st, c.desired);
  const repair = planPlacementRepair(c.desired, st.observed, st.cpusetCgroup);
  if ((now.restart.length || repair.needsRestart.length) && c.inputs.restart === "when-required") {
    // The whole restart is one command: its wait for the guest must fit in the operation's bound (check refuses
    // this for updates and adoptions; a create meets it only converging a domain it defined before losing its state).
    const fit = shutdownFitProblem(c.inputs, c.op);
    if (fit) throw new InputError(`restart of domain '${name}' on ${s.target} (nothing was changed)`, [fit]);
    // The restart brings in the whole new definition: live steps would only be undone by it.
    w.restart = { shutdownSeconds: c.inputs.shutdownTimeoutSeconds ?? DEFAULT_SHUTDOWN_SECONDS };
  } else if (now.effective && st.livePins) {
    w.pins = planLivePins(c.desired, now.effective, st.livePins, st.hostCpus);
    const nodeset = now.nodeset ?? repair.nodeset;
    if (nodeset) w.numatuneNodeset = nodeset;
  }
  const partial = (message: string): never => {
    // The engine keeps an error's `properties` as the state; without them delete could never undo this.
    const properties = { ...c.inputs, ...c.stale, uuid: null, xml: null, state: null, drift: [], restartRequired: false, restartReasons: [], originals: c.originals, originalAutostart: c.originalAutostart, observed: null, placementDrift: [] };
    throw Object.assign(new Error(message), { id: c.id, properties, reasons: [message] });
  };
  let after = st;
  const journal = c.journal ?? [];
  if (w.define !== undefined || w.start || w.autostart !== undefined || w.pins?.length || w.numatuneNodeset || w.restart || journal.length) {
    try {
      await writeDomain(s, name, w, journal);
    } catch (err) {
      if (err instanceof VirshStepError && err.done.length > 0) partial(`${err.message} (done before it: ${err.done.join(", ")})`);
      if (err instanceof WriteTimeoutError && err.done.length > 0) partial(err.message);
      throw err;
    }
    after = await readDomainState(s, name, MEASURED);
  }
  const wrong = after.inactiveXml ? diffOwnedParts(c.desired, readOwnedParts(parseDomainXml(after.inactiveXml))) : [];
  const live = liveView(after, c.desired);
  if (!after.exists || wrong.length || live.pinning.length) {
    const lines = [...wrong.map(describeDiff), ...live.pinning.map((d) => `${describeDiff(d)} (running domain)`)];
    partial(`read-back of domain '${name}' on ${s.target} disagrees with what was applied: ${after.exists ? lines.join("; ") : "the domain is gone"}`);
  }
  // What only a restart corrects waits for one, named like any restart-required part.
  const placed = planPlacementRepair(c.desired, after.observed, after.cpusetCgroup);
  const restartReasons = [...live.restart.map(describeDiff), ...placed.needsRestart];
  return {
    ...c.inputs,
    uuid: uuidOf(after.inactiveXml),
    xml: after.inactiveXml,
    state: after.state,
    drift: [],
    restartRequired: restartReasons.length > 0,
    restartReasons,
    originals: c.originals,
    originalAutostart: c.originalAutostart,
    observed: after.observed ? renderObservedSummary(after.observed) : null,
    placementDrift: placed.drift,
  };
}

/**
 * Measured placement drift the last apply did not already report as waiting for a restart: a refresh
 * found it, so an update tries to repair it (live, or by the restart the guest opted into).
 */
function unexplainedPlacement(olds: Partial<LibvirtDomainOutputs>): boolean {
  const waiting = new Set(olds.restartReasons ?? []);
  return (olds.placementDrift ?? []).some((l) => !waiting.has(l));
}

/** LibvirtDomain reads measure the running guest's placement in the same command. */
const MEASURED = { placement: true };

function uuidOf(xml: string | null): string | null {
  return xml ? /<uuid>([0-9a-f-]{36})<\/uuid>/.exec(xml)?.[1] ?? null : null;
}

function inactiveParts(st: DomainState): OwnedParts {
  return readOwnedParts(parseDomainXml(st.inactiveXml!));
}

/** The parts as the inactive domain can take them (see fitParts). */
function fitted(parts: Partial<OwnedParts>, st: DomainState): Partial<OwnedParts> {
  return fitParts(parts, parseDomainXml(st.inactiveXml!));
}

async function createOp(inputs: LibvirtDomainInputs): Promise<pulumi.dynamic.CreateResult> {
  const id = `${target(inputs)}/${inputs.name}`;
  let desired = effectiveParts(inputs);
  return withSession(inputs.connection, async (session) => {
    const s = boundedSession(session, inputs.timeouts, "create");
    const st = await readDomainState(s, inputs.name, MEASURED);
    const view = journalOf(st, inputs, s.target);
    const stale = { parts: {}, start: false };
    if (inputs.mode === "define") {
      // Defined by this resource before its state was lost (a killed CLI): converge it instead of refusing it.
      if (st.exists && !(view.mine && view.entry?.original === null)) throw new Error(`domain '${inputs.name}' already exists on ${s.target}; nothing was changed. To tune an existing domain use mode: "adopt"`);
      const base = st.exists ? st.inactiveXml! : buildMinimalDomain({ name: inputs.name, ...inputs.domain! });
      const journal = recordOps(view, null);
      const outs = await converge(s, st, { inputs, id, base, desired, originals: null, originalAutostart: null, start: inputs.start ?? false, autostart: inputs.autostart, isNew: !st.exists, stale, journal, op: "create" });
      return { id, outs };
    }
    if (!st.exists) throw new Error(`domain '${inputs.name}' does not exist on ${s.target}; nothing was changed. To create it use mode: "define" with a domain spec`);
    // Adopted before by this resource (its state was lost): the originals it recorded, not the tuned parts it finds.
    const prior = view.mine ? parseDomainOriginals(view.entry!.original) : undefined;
    let originals: Partial<OwnedParts>;
    if (prior) ({ originals, desired } = reconcileOwnership(prior.parts, fitted(inputs.parts ?? {}, st), inactiveParts(st)));
    else originals = projectParts(fitted(desired, st), inactiveParts(st));
    const originalAutostart = inputs.autostart === undefined ? null : (prior?.autostart ?? st.autostart);
    const journal = recordOps(view, renderDomainOriginals(originals, originalAutostart));
    const outs = await converge(s, st, { inputs, id, base: st.inactiveXml!, desired, originals, originalAutostart, start: inputs.start ?? false, autostart: inputs.autostart, isNew: false, stale, journal, op: "create" });
    return { id, outs };
  });
}

async function updateOp(id: string, olds: LibvirtDomainOutputs, news: LibvirtDomainInputs): Promise<pulumi.dynamic.UpdateResult> {
  return withSession(news.connection, async (session) => {
    const s = boundedSession(session, news.timeouts, "update");
    const st = await readDomainState(s, news.name, MEASURED);
    if (!st.exists) {
      throw new Error(`domain '${news.name}' no longer exists on ${s.target}; run 'pulumi refresh' (it drops the resource from the state), then 'pulumi up' to ${news.mode === "define" ? "define" : "adopt"} it again`);
    }
    const view = journalOf(st, news, s.target);
    let desired = effectiveParts(news);
    let originals: Partial<OwnedParts> | null = null;
    let originalAutostart: boolean | null = null;
    let autostart = news.autostart;
    let recorded: string | null = null;
    if (news.mode === "adopt") {
      // The journal's originals first: state may hold ones recorded after a lost create.
      const prior = view.mine ? parseDomainOriginals(view.entry!.original) : undefined;
      const before = prior ?? { parts: olds.originals ?? {}, autostart: olds.originalAutostart ?? null };
      ({ originals, desired } = reconcileOwnership(before.parts, fitted(news.parts ?? {}, st), inactiveParts(st)));
      // Owned for the first time: save it; no longer owned: put it back.
      originalAutostart = news.autostart === undefined ? null : before.autostart ?? st.autostart;
      autostart = news.autostart ?? before.autostart ?? undefined;
      recorded = renderDomainOriginals(originals, originalAutostart);
    }
    const journal = recordOps(view, recorded);
    // Only a start that was just asked for: a guest someone shut down on purpose stays down.
    const start = news.start && !olds.start ? news.start : false;
    const stale = { parts: olds.parts ?? {}, domain: olds.domain, start: olds.start, autostart: olds.autostart, restart: olds.restart, shutdownTimeoutSeconds: olds.shutdownTimeoutSeconds };
    return { outs: await converge(s, st, { inputs: news, id, base: st.inactiveXml!, desired, originals, originalAutostart, start, autostart, isNew: false, stale, journal, op: "update" }) };
  });
}

/**
 * Compares the persistent XML, the live XML and live pinning with the desired
 * parts; returns the observed parts (and spec, autostart) as inputs, so refresh
 * names the drifted part, plus `drift`, `state` and `restartRequired`.
 */
async function readOp(id: string, props: LibvirtDomainOutputs): Promise<pulumi.dynamic.ReadResult> {
  return withSession(props.connection, async (session) => {
    const s = boundedSession(session, props.timeouts, "read");
    const st = await readDomainState(s, props.name, MEASURED);
    if (!st.exists) return { id: "", props: {} };
    const desired = fitted(effectiveParts(props), st);
    const inactive = inactiveParts(st);
    const inactiveDiffs = diffOwnedParts(desired, inactive);
    const live = liveView(st, desired);
    const seen = new Set(inactiveDiffs.map(describeDiff));
    const placed = planPlacementRepair(desired, st.observed, st.cpusetCgroup);
    // Thread affinities are already named by the live pins above (virsh reads the same affinity); memory is new.
    const drift = [...seen, ...live.pinning.map(describeDiff).filter((l) => !seen.has(l)).map((l) => `${l} (running domain only)`), ...placed.drift.filter((l) => /^placement\.(memory|hugepages)/.test(l))];
    // Pins in force win over the persistent ones: that is what the guest runs with.
    const base = live.pinning.length && live.effective ? { ...inactive, cputune: live.effective.cputune } : inactive;
    const user = props.parts ?? {};
    const fit = fitted(user, st);
    const parts = observedParts(fit, base);
    // The cell fitParts keeps stands for the user's `numa: null`: shown as written while in sync.
    if (fit.cpu !== user.cpu && parts.cpu && canon(parts.cpu.numa) === canon(fit.cpu?.numa)) {
      parts.cpu = user.cpu === null ? (canon(parts.cpu) === canon(fit.cpu) ? null : parts.cpu) : { ...parts.cpu, numa: null };
    }
    // So are iothread pins fitParts moved onto the domain's <iothreadids>: in the user's numbering while in sync.
    const userPins = user.cputune?.iothreadpin;
    if (userPins && fit.cputune?.iothreadpin !== userPins && parts.cputune && canon(parts.cputune.iothreadpin) === canon(fit.cputune?.iothreadpin)) {
      parts.cputune = { ...parts.cputune, iothreadpin: userPins };
    }
    const domain = props.mode === "define" && props.domain ? observedDomain(props.domain, inactive, props.parts ?? {}) : props.domain;
    let autostart = props.autostart;
    if (autostart !== undefined && st.autostart !== null && st.autostart !== autostart) {
      drift.push(`autostart: ${st.autostart} → ${autostart}`);
      autostart = st.autostart;
    }
    const inputs: LibvirtDomainInputs = { ...urnInputOf(props), connection: props.connection, name: props.name, mode: props.mode, ...(domain ? { domain } : {}), parts, ...(props.start !== undefined ? { start: props.start } : {}), ...(autostart !== undefined ? { autostart } : {}),
      ...(props.restart !== undefined ? { restart: props.restart } : {}), ...(props.shutdownTimeoutSeconds !== undefined ? { shutdownTimeoutSeconds: props.shutdownTimeoutSeconds } : {}), ...(props.owner ? { owner: props.owner } : {}),
      ...(props.timeouts !== undefined ? { timeouts: props.timeouts } : {}) };
    // Shown by refresh as a changed input, so `preview --refresh --expect-no-changes` names the guest's measured drift.
    const shownInputs = placed.drift.length ? { ...inputs, placementDrift: placed.drift } : inputs;
    const outs: LibvirtDomainOutputs = {
      ...props, ...inputs, uuid: uuidOf(st.inactiveXml), xml: st.inactiveXml, state: st.state, drift,
      restartRequired: live.restart.length > 0, restartReasons: live.restart.map(describeDiff),
      observed: st.observed ? renderObservedSummary(st.observed) : null, placementDrift: placed.drift,
    };
    return { id, props: outs, inputs: shownInputs as unknown as Record<string, unknown> };
  });
}

/** Defined: destroy (if running) and undefine, keeping disk images. Adopted: put the saved originals back; the domain stays. */
async function removeOp(_id: string, props: LibvirtDomainOutputs): Promise<void> {
  await withSession(props.connection, async (session) => {
    const s = boundedSession(session, props.timeouts, "delete");
    const st = await readDomainState(s, props.name, MEASURED);
    const view = journalOf(st, props, s.target, false);
    // The journal line goes in the same command as the last change; a domain already gone only drops its line.
    const forget = forgetOps(view);
    if (!st.exists) {
      if (forget.length) await writeDomain(s, props.name, {}, forget);
      return;
    }
    if (props.mode === "define") {
      await writeDomain(s, props.name, { remove: true }, forget);
      return;
    }
    const prior = view.mine ? parseDomainOriginals(view.entry!.original) : undefined;
    const originals = prior?.parts ?? props.originals ?? {};
    const originalAutostart = prior ? prior.autostart : props.originalAutostart;
    const doc = parseDomainXml(st.inactiveXml!);
    applyOwnedParts(doc, originals);
    const xml = renderDomainXml(doc);
    const { effective, nodeset } = liveView(st, originals);
    const w: DomainWrite = {
      ...(xml !== st.inactiveXml ? { define: xml } : {}),
      ...(originalAutostart != null && st.autostart !== originalAutostart ? { autostart: originalAutostart } : {}),
      ...(effective && st.livePins ? { pins: planLivePins(originals, effective, st.livePins, st.hostCpus) } : {}),
      ...(nodeset ? { numatuneNodeset: nodeset } : {}),
    };
    await writeDomain(s, props.name, w, forget);
  });
}

/** The journal's view of this domain for this resource; refuses (before any write) a domain another owner recorded. */
function journalOf(st: DomainState, inputs: LibvirtDomainInputs, target: string, refuse = true): JournalView {
  const view = viewJournal(st.journal, domainKey(inputs.name), libvirtOwner(inputs.owner, `domain ${inputs.name}`));
  if (refuse && view.problems.length) throw new InputError(`domain '${inputs.name}' on ${target} (nothing was changed)`, view.problems);
  return view;
}

/** An adopted domain's originals as one journal value. */
function renderDomainOriginals(parts: Partial<OwnedParts>, autostart: boolean | null): string {
  return JSON.stringify({ parts, autostart });
}

function parseDomainOriginals(text: string | null): { parts: Partial<OwnedParts>; autostart: boolean | null } | undefined {
  if (text === null) return undefined;
  try {
    const v = JSON.parse(text) as { parts?: Partial<OwnedParts>; autostart?: boolean | null };
    return { parts: v.parts ?? {}, autostart: v.autostart ?? null };
  } catch {
    return undefined;
  }
}

// Every operation runs in its resource's progress scope: long steps (apply, virsh writes, waits) report on its own row.
export const create = (inputs: LibvirtDomainInputs) => progressScope(inputs, () => createOp(inputs));
export const update = (id: string, olds: LibvirtDomainOutputs, news: LibvirtDomainInputs) => progressScope(news, () => updateOp(id, olds, news));
export const read = (id: string, props: LibvirtDomainOutputs) => progressScope(props, () => readOp(id, props));
export const remove = (id: string, props: LibvirtDomainOutputs) => progressScope(props, () => removeOp(id, props));
