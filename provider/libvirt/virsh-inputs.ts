/**
 * LibvirtDomain's inputs: their static validation (every problem at once,
 * before anything connects) and the owned parts they stand for.
 */
import { startCheck, type Failure } from "../spec/check-failures";
import { showValue } from "../spec/issues";
import { stepTimeoutMs, timeoutProblems, type StepTimeouts } from "../spec/timeouts";
import { buildMinimalDomain, diskDriver, diskTarget, domainSpecProblems, ioCacheProblem, specParts, type DomainSpec } from "./domain-builder";
import { parseDomainXml } from "./dom";
import { fitParts, readDomainFacts } from "./domain-fit";
import { applyOwnedParts } from "./parts-apply";
import { readOwnedParts } from "./parts-read";
import { diffOwnedParts } from "./compare";
import type { DiskDriver, OwnedParts } from "./types";
import { validateParts } from "./validate";
import { sizeEquals, sizeInBytes } from "./values";
import { domainNameProblem } from "./virsh";
import { domainProblems, pinRangeProblems } from "./virsh-plan";

/** The inputs of one LibvirtDomain (plain, validated form of LibvirtDomainArgs). */
export interface LibvirtDomainInputs {
  connection: unknown;
  /** The libvirt domain name. */
  name: string;
  /** "define": kvmtune creates (and on delete undefines) the domain; "adopt": it tunes an existing one and restores it on delete. */
  mode: "define" | "adopt";
  /** What a defined domain is made of; define mode only. */
  domain?: DomainSpec;
  /** The owned parts (see provider/libvirt/types.ts: omitted = not owned, null = absent). */
  parts?: Partial<OwnedParts>;
  /** Start the domain after defining it (create), or when this turns on (update); "paused": start it with its vCPUs stopped. */
  start?: boolean | "paused";
  /** "when-required": restart a running domain whose definition changed in a part libvirt cannot apply live. Default "never". */
  restart?: "never" | "when-required";
  /** Seconds a restart waits for the guest's own ACPI shutdown before a forced stop. Default 120. */
  shutdownTimeoutSeconds?: number;
  /** Start the domain with the host; omitted = not owned. */
  autostart?: boolean;
  /** Problems the program found planning the domain; reported by check. */
  planProblems?: string[];
  /** Who owns this domain in the host's journal of originals: the stack and the resource's name. */
  owner?: { stack: string; resource: string };
  /** The component's customTimeouts: each remote command of an operation is bounded by that operation's duration (default 10 minutes). */
  timeouts?: StepTimeouts;
}

export const INPUT_FIELDS = ["connection", "name", "mode", "domain", "parts", "start", "autostart", "restart", "shutdownTimeoutSeconds", "planProblems", "owner", "timeouts"];

/** Default for `shutdownTimeoutSeconds`: long enough for a guest OS to shut down cleanly, inside the 10-minute command bound. */
export const DEFAULT_SHUTDOWN_SECONDS = 120;

/** What a restart's write command needs beyond the wait for the guest's shutdown: a forced stop and a start. */
export const RESTART_MARGIN_SECONDS = 60;

/**
 * Why a restart waiting `shutdownTimeoutSeconds` does not fit in the `op` timeout (the whole restart is one
 * command, which that timeout bounds), or undefined when it fits or no timeout is set (then 600 s, which 0-540 fits).
 */
export function shutdownFitProblem(inputs: Pick<LibvirtDomainInputs, "shutdownTimeoutSeconds" | "timeouts">, op: "create" | "update"): string | undefined {
  const bound = stepTimeoutMs(inputs.timeouts, op);
  if (bound === undefined) return undefined;
  const secs = inputs.shutdownTimeoutSeconds ?? DEFAULT_SHUTDOWN_SECONDS;
  const limit = Math.floor(bound / 1000) - RESTART_MARGIN_SECONDS;
  if (secs <= limit) return undefined;
  const given = `timeouts.${op} ${JSON.stringify(inputs.timeouts![op])}`;
  const need = `a timeouts.${op} of at least "${secs + RESTART_MARGIN_SECONDS}s"`;
  return `shutdownTimeoutSeconds: ${secs}${inputs.shutdownTimeoutSeconds === undefined ? " (the default)" : ""} does not fit in ${given}: a restart is one command within that bound, waiting up to shutdownTimeoutSeconds for the guest's shutdown and keeping ${RESTART_MARGIN_SECONDS} s to stop and start the domain; expected ${limit >= 0 ? `at most ${limit}, or ${need}` : need}`;
}

export type { Failure } from "../spec/check-failures";

/**
 * The parts a resource keeps in sync: in define mode the spec's parts (memory,
 * vCPUs, os, osinfo, disk drivers) with `parts` on top; in adopt mode `parts`.
 */
export function effectiveParts(inputs: Pick<LibvirtDomainInputs, "mode" | "domain" | "parts">): Partial<OwnedParts> {
  const user = inputs.parts ?? {};
  if (inputs.mode !== "define" || !inputs.domain) return user;
  const out: Partial<OwnedParts> = { ...specParts(inputs.domain), ...user };
  const spec = specParts(inputs.domain);
  if (spec.vcpu && user.vcpu) out.vcpu = { ...spec.vcpu, ...user.vcpu };
  if (user.disks) {
    out.disks = { ...spec.disks };
    for (const [dev, d] of Object.entries(user.disks)) {
      const base = spec.disks?.[dev]?.driver;
      out.disks[dev] = d.driver === undefined || d.driver === null || !base ? d : { ...d, driver: { ...base, ...d.driver } };
    }
  }
  return out;
}

function conflicts(domain: DomainSpec, parts: Partial<OwnedParts>): string[] {
  const out: string[] = [];
  for (const k of ["memory", "currentMemory"] as const) {
    const p = parts[k];
    if (p && !sizeEquals(p.value, p.unit, domain.memoryMiB, "MiB")) out.push(`parts.${k}: ${showValue(p)} contradicts domain.memoryMiB ${domain.memoryMiB}; set the size in one place`);
  }
  if (parts.vcpu && parts.vcpu.count !== domain.vcpus) out.push(`parts.vcpu.count: ${parts.vcpu.count} contradicts domain.vcpus ${domain.vcpus}; set the vCPU count in one place`);
  if (typeof parts.osinfo === "string" && domain.osVariant !== undefined && specParts(domain).osinfo !== parts.osinfo) {
    out.push(`parts.osinfo: ${showValue(parts.osinfo)} contradicts domain.osVariant ${showValue(domain.osVariant)}; set the OS in one place`);
  }
  return out;
}

/**
 * Every problem with `news`, as check failures (property = the top-level input).
 * Inputs holding values not known yet (preview) are checked at the next check.
 */
export function inputProblems(input: Record<string, unknown>): Failure[] {
  const { news, failures, fail } = startCheck(input, INPUT_FIELDS);
  if (Array.isArray(news.planProblems)) fail("parts", news.planProblems.map(String));
  const nameProblem = "name" in input && !("name" in news) ? undefined : domainNameProblem(news.name);
  if (nameProblem) fail("name", [nameProblem]);
  const mode = news.mode;
  if (mode !== "define" && mode !== "adopt" && !("mode" in input && !("mode" in news))) fail("mode", [`mode: ${showValue(mode)} is not accepted; expected "define" (kvmtune creates the domain) or "adopt" (kvmtune tunes an existing one)`]);
  const domain = news.domain as DomainSpec | undefined;
  let domainOk = false;
  if (mode === "define" && !("domain" in input && !("domain" in news))) {
    const p = domain === undefined ? ["domain: required in define mode (memoryMiB, vcpus, and optionally osVariant, type, disks)"] : domainSpecProblems(domain);
    fail("domain", p);
    domainOk = p.length === 0;
  } else if (mode === "adopt" && domain !== undefined) {
    fail("domain", ["domain: only used in define mode; an adopted domain keeps its own XML (tune it through parts)"]);
  }
  if (news.start !== undefined && typeof news.start !== "boolean" && news.start !== "paused") fail("start", [`start: ${showValue(news.start)} is not accepted; expected true, false or "paused"`]);
  if (news.autostart !== undefined && typeof news.autostart !== "boolean") fail("autostart", [`autostart: ${showValue(news.autostart)} is not accepted; expected true or false`]);
  if (news.restart !== undefined && news.restart !== "never" && news.restart !== "when-required") fail("restart", [`restart: ${showValue(news.restart)} is not accepted; expected "never" or "when-required"`]);
  const secs = news.shutdownTimeoutSeconds;
  if (secs !== undefined && !(typeof secs === "number" && Number.isSafeInteger(secs) && secs >= 0 && secs <= 540)) {
    fail("shutdownTimeoutSeconds", [`shutdownTimeoutSeconds: ${showValue(secs)} is not accepted; expected whole seconds from 0 to 540 (the write command is bounded at 600 s)`]);
  } else if (news.restart === "when-required" && !("shutdownTimeoutSeconds" in input && !("shutdownTimeoutSeconds" in news)) && timeoutProblems(news.timeouts).length === 0) {
    // Only a restart waits for the guest: an update's, or a create's when it adopts a running domain.
    for (const op of mode === "adopt" ? (["create", "update"] as const) : (["update"] as const)) {
      const p = shutdownFitProblem({ shutdownTimeoutSeconds: secs as number | undefined, timeouts: news.timeouts as StepTimeouts }, op);
      if (p) fail("shutdownTimeoutSeconds", [p]);
    }
  }
  fail("timeouts", timeoutProblems(news.timeouts));
  const parts = news.parts as Partial<OwnedParts> | undefined;
  if (parts === undefined) return failures;
  if (typeof parts !== "object" || parts === null || Array.isArray(parts)) {
    fail("parts", [`parts: ${showValue(parts)} is not accepted; expected an object of owned parts`]);
    return failures;
  }
  const invalid = validateParts(parts).map((p) => `parts.${p}`);
  fail("parts", invalid);
  if (invalid.length > 0) return failures;
  if (domainOk && domain) fail("parts", conflicts(domain, parts));
  // Counts known before reading the domain: the spec's in define mode, else only what parts say.
  const vcpus = parts.vcpu?.count ?? (mode === "define" && domainOk ? domain?.vcpus : undefined);
  // Iothread ids are 1..count only in a domain kvmtune builds: an adopted one's <iothreadids> (2 and 4, say)
  // are known once it is read, where domainProblems (fitProblems for <iothreadids>) judges the pins before define.
  const iothreads = mode !== "define" ? undefined : parts.iothreads === null ? 0 : parts.iothreads?.count ?? 0;
  fail("parts", pinRangeProblems(parts, vcpus, iothreads));
  // A domain kvmtune defines is known whole at check: what libvirt's define would refuse shows at preview.
  if (mode === "define" && domainOk && domain && typeof news.name === "string" && !failures.some((f) => f.property === "parts")) {
    fail("parts", definedDomainProblems(news.name, domain, parts));
  }
  const specDrivers = new Map<string, DiskDriver>((mode === "define" && domainOk ? domain?.disks ?? [] : []).map((d, i) => [diskTarget(d, i), diskDriver(d)]));
  for (const [dev, d] of Object.entries(parts.disks ?? {})) {
    if (!d.driver) continue;
    const rule = ioCacheProblem({ cache: d.driver.cache ?? specDrivers.get(dev)?.cache, io: d.driver.io ?? specDrivers.get(dev)?.io });
    if (rule) fail("parts", [`parts.disks[${dev}]: ${rule}`]);
  }
  return failures;
}

/** Define mode: the domain create would define (spec + parts, fitted as create fits them), judged by domainProblems. */
function definedDomainProblems(name: string, domain: DomainSpec, parts: Partial<OwnedParts>): string[] {
  try {
    const doc = parseDomainXml(buildMinimalDomain({ name, ...domain }));
    const desired = fitParts(effectiveParts({ mode: "define", domain, parts }), doc);
    applyOwnedParts(doc, desired);
    return domainProblems(desired, readOwnedParts(doc), null, "parts", readDomainFacts(doc));
  } catch {
    // Anything this cannot build is for create to report with its context.
    return [];
  }
}

/**
 * Define mode: the spec with observed values where the domain drifted from what
 * the spec stands for (parts the user's `parts` own are reported through parts),
 * so a refresh shows e.g. `domain.memoryMiB: 64 => 128`.
 */
export function observedDomain(domain: DomainSpec, actual: OwnedParts, user: Partial<OwnedParts>): DomainSpec {
  const spec = specParts(domain);
  const own: Partial<OwnedParts> = {};
  if (user.memory === undefined) own.memory = spec.memory;
  if (user.vcpu === undefined) own.vcpu = spec.vcpu;
  if (user.osinfo === undefined && spec.osinfo !== undefined) own.osinfo = spec.osinfo;
  own.disks = {};
  for (const [dev, d] of Object.entries(spec.disks ?? {})) {
    const mine = user.disks?.[dev]?.driver;
    if (mine === null) continue;
    const driver = Object.fromEntries(Object.entries(d.driver ?? {}).filter(([k]) => mine?.[k as keyof DiskDriver] === undefined));
    own.disks[dev] = { driver };
  }
  const out: DomainSpec = JSON.parse(JSON.stringify(domain));
  for (const d of diffOwnedParts(own, actual)) {
    if (d.path === "memory" && actual.memory) out.memoryMiB = Number(sizeInBytes(actual.memory.value, actual.memory.unit)) / 1048576;
    if (d.path === "vcpu.count" && actual.vcpu) out.vcpus = actual.vcpu.count;
    if (d.path === "osinfo") {
      if (actual.osinfo === null) delete out.osVariant;
      else out.osVariant = actual.osinfo;
    }
    const m = /^devices\.disk\[([^\]]+)\]\.driver\.(cache|io|type)$/.exec(d.path);
    const i = m ? (domain.disks ?? []).findIndex((x, n) => diskTarget(x, n) === m[1]) : -1;
    if (m && i >= 0) {
      const disk = out.disks![i] as unknown as Record<string, unknown>;
      disk[m[2] === "type" ? "format" : m[2]] = d.from;
    }
  }
  return out;
}
