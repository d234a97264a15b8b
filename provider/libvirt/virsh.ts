/**
 * LibvirtDomain's remote side: `virsh` on the host, over one SSH session. Scripts
 * are fixed text; the domain name, pin values and XML reach them on stdin as
 * data (`read -r name`, `virsh ... -- "$name"`, `virsh define /dev/stdin`).
 * Reads are one command, writes are one command (stopping at the first failed step).
 */
import type { RemoteSession } from "../transport/types";
import { TransportError } from "../transport/ssh";
import { JOURNAL_PATH } from "../host/journal";
import type { JournalOp } from "../host/journal-plan";
import { APPLY_SCRIPT, describeOp, encodeOps, OPS_END, parseApplyOutput } from "../host/knobs/remote";
import { parseAutostart, parseLivePins, parseNodeCpuMap, parseSteps, virshError, type LivePins, type StepResult } from "./virsh-output";
import type { CputunePart } from "./types";
import { isCpuset } from "./values";
import { memoryMiBOf } from "./placement-repair";
import { parseDomainXml } from "./dom";
import { readOwnedParts } from "./parts-read";
import { parseObservedPlacement, PLACEMENT_SCRIPT, type ObservedPlacement } from "./placement-observed";

export { type LivePins } from "./virsh-output";

/** Accepted domain names: what libvirt, file names and shell all take without escaping. */
export const DOMAIN_NAME = /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$/;

/** Why `name` is not accepted as a domain name (naming the field and what is accepted), or undefined. */
export function domainNameProblem(name: unknown, field = "name"): string | undefined {
  if (typeof name === "string" && DOMAIN_NAME.test(name)) return undefined;
  const shown = typeof name === "string" ? JSON.stringify(name) : String(name);
  return `${field}: ${shown} is not accepted as a domain name; expected 1 to 64 characters: a letter or digit, then letters, digits, '_', '.', '+' or '-' (no spaces, '/', '<', '&' or quotes)`;
}

function checkName(name: string): void {
  const p = domainNameProblem(name);
  if (p) throw new Error(p);
}

// LC_ALL=C: the scripts parse virsh's words ("shut off", "Autostart:", "CPU map:"), which translations change.
const PRELUDE = `set -u
export LC_ALL=C
t=$(mktemp) || exit 1
trap 'rm -f "$t"' EXIT
IFS= read -r name || { echo 'kvmtune: no domain name on stdin' >&2; exit 2; }
v() { virsh -q -c qemu:///system "$@"; }
`;

// placement: where the running guest's QEMU threads may run and where its memory is (placement-observed.ts).
// The name is a validated domain name (no '/'), so the pid file path cannot leave libvirt's directory.
const PLACEMENT_FN = `placement() {
pid=$(cat "/run/libvirt/qemu/$name.pid" 2>/dev/null) || pid=
${PLACEMENT_SCRIPT}}
`;

// emit KEY CMD...: runs CMD, prints KEY, exit code, base64 stdout and stderr; leaves $o and $rc.
// The trailing x keeps the output's final newlines, which $(...) would strip.
const READ_SCRIPT = `${PRELUDE}IFS= read -r want || want=
${PLACEMENT_FN}emit() { k=$1; shift; o=$("$@" 2>"$t"; rc=$?; printf x; exit $rc); rc=$?; o=\${o%x}; printf '%s %s %s %s\\n' "$k" "$rc" "$(printf '%s' "$o" | base64 -w0)" "$(base64 -w0 < "$t")"; }
emit cpumap v nodecpumap --pretty
emit list v list --all --name
emit journal cat ${JOURNAL_PATH}
emit state v domstate -- "$name"
[ "$rc" -eq 0 ] || exit 0
st=$(printf '%s' "$o" | head -n 1)
emit info v dominfo -- "$name"
emit inactive v dumpxml --inactive -- "$name"
case "$st" in
  "shut off"|crashed) ;;
  *) emit live v dumpxml -- "$name"
     emit vcpupin v vcpupin --live -- "$name"
     emit emulatorpin v emulatorpin --live -- "$name"
     emit iothreads v iothreadinfo --live -- "$name"
     if [ "$want" = placement ]; then emit placement placement; fi ;;
esac
`;

/** What one read of a domain sees. */
export interface DomainState {
  exists: boolean;
  /** `virsh domstate`: "running", "shut off", "paused", ...; null when it does not exist. */
  state: string | null;
  /** Has a qemu process (not shut off or crashed): live XML and pins are read. */
  active: boolean;
  autostart: boolean | null;
  /** The host's CPUs ("0-63"), what `vcpupin ... r` resets to. */
  hostCpus: string;
  inactiveXml: string | null;
  liveXml: string | null;
  livePins: LivePins | null;
  /** kvmtune's journal of originals on the host (journal.ts); undefined when there is none. */
  journal: string | undefined;
  /** The running domain's QEMU sits in a cpuset cgroup (libvirt can then move its memory live). */
  cpusetCgroup: boolean;
  /** Where the running domain's threads may run and where its memory is; null when not running or not readable. */
  observed: ObservedPlacement | null;
}

function must(steps: Map<string, StepResult>, key: string, what: string, target: string): string {
  const s = steps.get(key);
  if (!s) throw new Error(`reading ${what} on ${target}: the script stopped early`);
  if (s.code !== 0) throw new Error(`virsh ${what} on ${target} failed: ${virshError(s.stderr)}`);
  return s.stdout;
}

/**
 * Existence, state, inactive and live XML and live pinning of one domain: one command. With `placement`,
 * the same command also measures where the running guest is (observed, cpusetCgroup); device reads skip it.
 */
export async function readDomainState(session: RemoteSession, name: string, opts: { placement?: boolean } = {}): Promise<DomainState> {
  checkName(name);
  const r = await session.run(READ_SCRIPT, { stdin: `${name}\n${opts.placement ? "placement" : "-"}\n`, label: "read domain" });
  if (r.code !== 0) throw new Error(`reading domain '${name}' on ${session.target} failed (exit ${r.code}): ${r.stderr.trim()}`);
  const steps = parseSteps(r.stdout, true);
  const t = session.target;
  const hostCpus = parseNodeCpuMap(must(steps, "cpumap", "nodecpumap", t));
  const names = must(steps, "list", "list --all", t).split("\n").map((l) => l.trim());
  const j = steps.get("journal");
  const journal = j && j.code === 0 ? j.stdout : undefined;
  if (!names.includes(name)) {
    return { exists: false, state: null, active: false, autostart: null, hostCpus, inactiveXml: null, liveXml: null, livePins: null, journal, cpusetCgroup: false, observed: null };
  }
  const st = must(steps, "state", `domstate '${name}'`, t).trim();
  const active = !["shut off", "crashed"].includes(st);
  const liveXml = active ? must(steps, "live", `dumpxml '${name}'`, t) : null;
  const observed = active && liveXml ? readObserved(steps.get("placement"), liveXml) : null;
  return {
    exists: true,
    state: st,
    active,
    autostart: parseAutostart(must(steps, "info", `dominfo '${name}'`, t)),
    hostCpus,
    inactiveXml: must(steps, "inactive", `dumpxml --inactive '${name}'`, t),
    liveXml,
    livePins: active
      ? parseLivePins(must(steps, "vcpupin", `vcpupin '${name}'`, t), must(steps, "emulatorpin", `emulatorpin '${name}'`, t), must(steps, "iothreads", `iothreadinfo '${name}'`, t))
      : null,
    journal,
    cpusetCgroup: Boolean(observed?.emulator.cgroupMems),
    observed,
  };
}

/** The placement step's result, or null when QEMU's pid could not be read (not libvirt's system instance, gone meanwhile). */
function readObserved(step: StepResult | undefined, liveXml: string): ObservedPlacement | null {
  if (!step || step.code !== 0 || step.stdout.startsWith("P -")) return null;
  const memoryMiB = memoryMiBOf(readOwnedParts(parseDomainXml(liveXml)));
  return parseObservedPlacement(step.stdout, memoryMiB !== undefined ? { memoryMiB } : {});
}

/** One live pin: `config` also writes the persistent XML (`--live --config`); a reset is live only. */
export interface LivePin {
  kind: "vcpupin" | "emulatorpin" | "iothreadpin";
  /** vCPU or iothread id; unused for emulatorpin. */
  id?: number;
  cpuset: string;
  config: boolean;
}

/** Steps of one write, run in this order: define, start, autostart, pins, numatune, restart, destroy, undefine. */
export interface DomainWrite {
  /** XML for `virsh define --validate`. */
  define?: string;
  /** `virsh start`; "paused": `virsh start --paused` (QEMU runs and holds its memory, no guest code runs). */
  start?: boolean | "paused";
  autostart?: boolean;
  pins?: LivePin[];
  /** `virsh numatune --live --nodeset`: moves a running strict-mode guest's memory (cgroup cpuset.mems). */
  numatuneNodeset?: string;
  /**
   * Restart a running domain so its persistent definition takes effect: ACPI shutdown, waiting up to
   * `shutdownSeconds` before a forced stop (a paused domain cannot react, so it is stopped at once),
   * then start again, paused if it was paused.
   */
  restart?: { shutdownSeconds: number };
  /** Destroy (when running) and undefine; disk images are kept (never --remove-all-storage). */
  remove?: boolean;
  /** `virsh attach-device` of this element XML: `--config`, plus `--live` when `live`. */
  attach?: { xml: string; live: boolean };
  /** `virsh detach-device` of this element XML: `--config`, plus `--live` when `live`. */
  detach?: { xml: string; live: boolean };
  /** `virsh update-device --config`: replaces the persistent device with the same key, nothing else (unlike define). */
  updateConfig?: string;
}

const WRITE_SCRIPT = `${PRELUDE}ops=$(mktemp) || exit 1
trap 'rm -f "$t" "$ops"' EXIT
while IFS=' ' read -r op a b c; do [ "$op" = end ] && break; printf '%s %s %s %s\\n' "$op" "$a" "$b" "$c" >> "$ops"; done
step() { k=$1; shift; "$@" >/dev/null 2>"$t"; rc=$?; printf '%s %s %s\\n' "$k" "$rc" "$(base64 -w0 < "$t")"; [ "$rc" -eq 0 ] || exit 0; }
while IFS=' ' read -r op a b c <&3; do
  case "$op" in
    define) step define v define --validate /dev/stdin ;;
    update) step update v update-device --config -- "$name" /dev/stdin ;;
    attach|detach) if [ "$a" = live ]; then step "$op" v "$op-device" --live --config -- "$name" /dev/stdin; else step "$op" v "$op-device" --config -- "$name" /dev/stdin; fi ;;
    start) if [ "$a" = paused ]; then step start v start --paused -- "$name" </dev/null; else step start v start -- "$name" </dev/null; fi ;;
    numatune) step numatune v numatune --live --nodeset "$c" -- "$name" </dev/null ;;
    restart) st=$(v domstate -- "$name" </dev/null 2>/dev/null | head -n 1)
      if [ "$st" != paused ]; then
        step shutdown v shutdown -- "$name" </dev/null; i=0
        while [ "$i" -lt "$a" ] && [ "$(v domstate -- "$name" </dev/null 2>/dev/null | head -n 1)" != "shut off" ]; do sleep 1; i=$((i+1)); done
      fi
      case "$(v domstate -- "$name" </dev/null 2>/dev/null | head -n 1)" in "shut off"|crashed) ;; *) step destroy v destroy -- "$name" </dev/null ;; esac
      if [ "$st" = paused ]; then step start v start --paused -- "$name" </dev/null; else step start v start -- "$name" </dev/null; fi ;;
    autostart) if [ "$a" = on ]; then step autostart v autostart -- "$name" </dev/null; else step autostart v autostart --disable -- "$name" </dev/null; fi ;;
    vcpupin|iothreadpin) if [ "$a" = config ]; then step "$op:$b" v "$op" --live --config -- "$name" "$b" "$c" </dev/null; else step "$op:$b" v "$op" --live -- "$name" "$b" "$c" </dev/null; fi ;;
    emulatorpin) if [ "$a" = config ]; then step emulatorpin v emulatorpin --live --config -- "$name" "$c" </dev/null; else step emulatorpin v emulatorpin --live -- "$name" "$c" </dev/null; fi ;;
    destroy) st=$(v domstate -- "$name" 2>/dev/null </dev/null); case "$st" in "shut off"|crashed|"") ;; *) step destroy v destroy -- "$name" </dev/null ;; esac ;;
    undefine) if v domstate -- "$name" >/dev/null 2>&1 </dev/null; then step undefine v undefine --managed-save --snapshots-metadata --checkpoints-metadata -- "$name" </dev/null; fi ;;
    *) echo "kvmtune: unknown step $op" >&2; exit 2 ;;
  esac
done 3< "$ops"
`;

/** A write that stopped at a failed step; `done` lists the steps that succeeded before it. */
export class VirshStepError extends Error {
  constructor(
    message: string,
    readonly step: string,
    readonly done: string[],
  ) {
    super(message);
    this.name = "VirshStepError";
  }
}

/** A domain write given up on at its bound; `done` lists the virsh steps that had finished before it. */
export class WriteTimeoutError extends Error {
  constructor(
    message: string,
    readonly done: string[],
  ) {
    super(message);
    this.name = "WriteTimeoutError";
  }
}

/** Ends the journal ops' output of a domain write; the virsh steps' records follow it. */
const JOURNAL_END = "@@kvmtune:end\n";

/**
 * A write cut by its bound (TransportError "timeout"), as a WriteTimeoutError saying which steps had finished (from
 * what the host printed before it was given up on, whole lines only) and that the domain may be partly changed.
 */
function writeTimeout(err: TransportError, name: string, journaled: boolean): WriteTimeoutError {
  const out = err.partialStdout ?? "";
  const cut = out.indexOf(JOURNAL_END);
  const done: string[] = [];
  if (cut >= 0) {
    const rest = out.slice(cut + JOURNAL_END.length);
    try {
      for (const [key, r] of parseSteps(rest.slice(0, rest.lastIndexOf("\n") + 1), false)) if (r.code === 0) done.push(describeStep(key));
    } catch {
      // Not step records: nothing more to say than the transport did.
    }
  }
  const before = [...(cut >= 0 && journaled ? ["journal"] : []), ...done];
  return new WriteTimeoutError(`${err.message}${before.length ? ` (done before it: ${before.join(", ")})` : ""}; domain '${name}' may be partly changed (run again to converge)`, done);
}

function describeStep(key: string): string {
  const [op, id] = key.split(":");
  return id === undefined ? op : `${op} ${id}`;
}

/**
 * Runs the steps of `w` in one command; throws VirshStepError naming the failed step and libvirt's message, or
 * WriteTimeoutError when the session's bound cut the command.
 * `journal` writes (the journal of originals) run first in the same command: if one fails, no virsh step runs.
 */
export async function writeDomain(session: RemoteSession, name: string, w: DomainWrite, journal: readonly JournalOp[] = []): Promise<string[]> {
  checkName(name);
  const lines: string[] = [];
  if (w.define !== undefined) lines.push("define");
  if (w.start) lines.push(w.start === "paused" ? "start paused" : "start");
  if (w.autostart !== undefined) lines.push(`autostart ${w.autostart ? "on" : "off"}`);
  for (const p of w.pins ?? []) {
    // Values are data on stdin, but only validated ones are ever sent.
    if (!isCpuset(p.cpuset) || (p.kind !== "emulatorpin" && !Number.isSafeInteger(p.id))) throw new Error(`invalid pin ${JSON.stringify(p)}`);
    lines.push(`${p.kind} ${p.config ? "config" : "live"} ${p.kind === "emulatorpin" ? "-" : p.id} ${p.cpuset}`);
  }
  if (w.numatuneNodeset !== undefined) {
    if (!isCpuset(w.numatuneNodeset)) throw new Error(`invalid numatune nodeset ${JSON.stringify(w.numatuneNodeset)}`);
    lines.push(`numatune live - ${w.numatuneNodeset}`);
  }
  if (w.restart) {
    const secs = w.restart.shutdownSeconds;
    if (!Number.isSafeInteger(secs) || secs < 0) throw new Error(`invalid shutdownSeconds ${JSON.stringify(secs)}`);
    lines.push(`restart ${secs}`);
  }
  if (w.remove) lines.push("destroy", "undefine");
  const payloads = [w.define, w.attach?.xml, w.detach?.xml, w.updateConfig].filter((x) => x !== undefined);
  // Only one XML document fits on stdin after the step list.
  if (payloads.length > 1) throw new Error("one domain write carries at most one of define, attach, detach and updateConfig");
  if (w.attach) lines.push(`attach ${w.attach.live ? "live" : "config"}`);
  if (w.detach) lines.push(`detach ${w.detach.live ? "live" : "config"}`);
  if (w.updateConfig !== undefined) lines.push("update");
  if (lines.length === 0 && journal.length === 0) return [];
  // APPLY_SCRIPT takes the journal ops (none, or some) up to OPS_END; WRITE_SCRIPT reads the rest of stdin.
  const stdin = `${encodeOps(journal)}${OPS_END}\n${name}\n${lines.map((l) => `${l}\n`).join("")}end\n${payloads[0] ?? ""}`;
  const label = `write domain (${[...(journal.length ? ["journal"] : []), ...lines.map((l) => l.split(" ")[0])].join(", ")})`;
  let r: Awaited<ReturnType<RemoteSession["run"]>>;
  try {
    r = await session.run(`${APPLY_SCRIPT}\n${WRITE_SCRIPT}`, { stdin, label });
  } catch (err) {
    if (err instanceof TransportError && err.kind === "timeout") throw writeTimeout(err, name, journal.length > 0);
    throw err;
  }
  const cut = r.stdout.indexOf(JOURNAL_END);
  const journalOut = parseApplyOutput(cut < 0 ? r.stdout : r.stdout.slice(0, cut));
  if (journalOut.failed || cut < 0) {
    const why = journalOut.failed ? `${describeOp(journal[journalOut.failed.index])}: ${journalOut.failed.message}` : r.stderr.trim();
    throw new Error(`changing domain '${name}' on ${session.target} failed before any virsh step (nothing was changed): ${why}`);
  }
  if (r.code !== 0) throw new Error(`changing domain '${name}' on ${session.target} failed (exit ${r.code}): ${r.stderr.trim()}`);
  const stdout = r.stdout.slice(cut + JOURNAL_END.length);
  const done: string[] = [];
  for (const [key, s] of parseSteps(stdout, false)) {
    if (s.code !== 0) {
      throw new VirshStepError(`virsh ${describeStep(key)} of '${name}' on ${session.target} failed: ${virshError(s.stderr)}`, describeStep(key), done);
    }
    done.push(describeStep(key));
  }
  return done;
}

/** `virsh define --validate` with the XML on stdin. */
export function defineDomain(session: RemoteSession, name: string, xml: string): Promise<string[]> {
  return writeDomain(session, name, { define: xml });
}

/** `virsh start`. */
export function startDomain(session: RemoteSession, name: string): Promise<string[]> {
  return writeDomain(session, name, { start: true });
}

/** `virsh autostart` (or `--disable`). */
export function setAutostart(session: RemoteSession, name: string, on: boolean): Promise<string[]> {
  return writeDomain(session, name, { autostart: on });
}

/** Pins a running domain with `vcpupin/emulatorpin/iothreadpin --live --config`, one command. */
export function pinLive(session: RemoteSession, name: string, pins: Pick<CputunePart, "vcpupin" | "emulatorpin" | "iothreadpin">): Promise<string[]> {
  return writeDomain(session, name, {
    pins: [
      ...(pins.vcpupin ?? []).map((p): LivePin => ({ kind: "vcpupin", id: p.vcpu, cpuset: p.cpuset, config: true })),
      ...(pins.emulatorpin ? [{ kind: "emulatorpin", cpuset: pins.emulatorpin.cpuset, config: true } as LivePin] : []),
      ...(pins.iothreadpin ?? []).map((p): LivePin => ({ kind: "iothreadpin", id: p.iothread, cpuset: p.cpuset, config: true })),
    ],
  });
}

/** Destroys (if running) and undefines; disk images stay. A domain that is already gone is fine. */
export function destroyAndUndefine(session: RemoteSession, name: string): Promise<string[]> {
  return writeDomain(session, name, { remove: true });
}
