/**
 * Pure planning for LibvirtDomain: which differences a running domain takes live
 * (pinning) and which need a restart, the pins in force on a running domain,
 * checks that need the whole domain, and the observed parts refresh reports.
 */
import { ioCacheProblem } from "./domain-builder";
import { diffOwnedParts } from "./compare";
import { fitProblems, type DomainFacts } from "./domain-fit";
import type { IothreadPin, OwnedParts, PartDiff, VcpuPin } from "./types";
import { cpusetEquals, normalizeCpuset, parseLibvirtCpuset } from "./values";
import type { LivePin } from "./virsh";
import type { LivePins } from "./virsh-output";

type Pin = { id: number; cpuset: string };
const vcpuPins = (l: VcpuPin[] | undefined): Pin[] => (l ?? []).map((p) => ({ id: p.vcpu, cpuset: p.cpuset }));
const ioPins = (l: IothreadPin[] | undefined): Pin[] => (l ?? []).map((p) => ({ id: p.iothread, cpuset: p.cpuset }));

/** What a vCPU, the emulator and iothreads run on when not pinned: `<vcpu cpuset>`, else every host CPU. */
export function defaultCpus(parts: OwnedParts, hostCpus: string): string {
  return parts.vcpu?.cpuset ?? hostCpus;
}

/**
 * The live parts with the pinning in force: for every pin `desired` owns, the
 * affinity libvirt reports; other explicit live pins only when they differ from
 * the default (a reset leaves an explicit pin equal to it).
 */
export function effectiveLiveParts(live: OwnedParts, pins: LivePins, desired: Partial<OwnedParts>, hostCpus: string): OwnedParts {
  if (desired.cputune === undefined) return live;
  const def = defaultCpus(live, hostCpus);
  const want = desired.cputune ?? { vcpupin: [], emulatorpin: null, iothreadpin: [] };
  const xml = live.cputune ?? {};
  const merge = (explicit: Pin[], reported: Pin[], owned: Pin[]): Pin[] => {
    const rep = new Map(reported.map((r) => [r.id, r.cpuset]));
    const ids = new Set([...explicit.map((e) => e.id), ...owned.map((o) => o.id).filter((id) => rep.has(id))]);
    return [...ids].sort((a, b) => a - b)
      .map((id) => ({ id, cpuset: rep.get(id) ?? explicit.find((e) => e.id === id)!.cpuset }))
      .filter((p) => owned.some((o) => o.id === p.id) || !cpusetEquals(p.cpuset, def));
  };
  const emulator = want.emulatorpin
    ? pins.emulatorpin
    : xml.emulatorpin && !cpusetEquals(xml.emulatorpin.cpuset, def) ? xml.emulatorpin.cpuset : null;
  return {
    ...live,
    cputune: {
      vcpupin: merge(vcpuPins(xml.vcpupin), vcpuPins(pins.vcpupin), vcpuPins(want.vcpupin)).map((p) => ({ vcpu: p.id, cpuset: p.cpuset })),
      emulatorpin: emulator === null ? null : { cpuset: emulator },
      iothreadpin: merge(ioPins(xml.iothreadpin), ioPins(pins.iothreadpin), ioPins(want.iothreadpin)).map((p) => ({ iothread: p.id, cpuset: p.cpuset })),
    },
  };
}

/**
 * The live pin changes that bring a running domain's pinning to `desired`: owned
 * pins that differ, and a reset to the default for pins no longer wanted. All
 * are `--live` only: the same write defines the persistent XML, and `--config`
 * would make libvirt add `<iothreadids>` we never asked for. vCPUs and iothreads
 * the running domain lacks are left to a restart.
 */
export function planLivePins(desired: Partial<OwnedParts>, effective: OwnedParts, pins: LivePins, hostCpus: string): LivePin[] {
  if (desired.cputune === undefined) return [];
  const want = desired.cputune ?? { vcpupin: [], emulatorpin: null, iothreadpin: [] };
  const have = effective.cputune ?? {};
  const def = defaultCpus(effective, hostCpus);
  const out: LivePin[] = [];
  const list = (kind: "vcpupin" | "iothreadpin", wanted: Pin[] | undefined, current: Pin[], live: Pin[]) => {
    if (wanted === undefined) return;
    const liveIds = new Set(live.map((p) => p.id));
    for (const w of wanted) {
      const h = current.find((c) => c.id === w.id);
      if (liveIds.has(w.id) && (!h || !cpusetEquals(h.cpuset, w.cpuset))) out.push({ kind, id: w.id, cpuset: w.cpuset, config: false });
    }
    for (const h of current) if (!wanted.some((w) => w.id === h.id)) out.push({ kind, id: h.id, cpuset: def, config: false });
  };
  list("vcpupin", want.vcpupin && vcpuPins(want.vcpupin), vcpuPins(have.vcpupin), vcpuPins(pins.vcpupin));
  if (want.emulatorpin && !cpusetEquals(have.emulatorpin?.cpuset ?? def, want.emulatorpin.cpuset)) {
    out.push({ kind: "emulatorpin", cpuset: want.emulatorpin.cpuset, config: false });
  } else if (want.emulatorpin === null && have.emulatorpin) {
    out.push({ kind: "emulatorpin", cpuset: def, config: false });
  }
  list("iothreadpin", want.iothreadpin && ioPins(want.iothreadpin), ioPins(have.iothreadpin), ioPins(pins.iothreadpin));
  return out;
}

// currentMemory is the balloon target (moves at run time); osinfo is metadata only.
const NOT_RESTART = /^(osinfo|currentMemory)$/;
const PIN_PATH = /^cputune\.(vcpupin|iothreadpin)\[(\d+)\]$|^cputune\.emulatorpin$/;

/**
 * The whole-guest nodeset a running domain takes live (`virsh numatune --live --nodeset`), or undefined.
 * libvirt changes only the nodeset live, by rewriting the cpuset cgroups' `cpuset.mems` (the kernel then
 * migrates the memory), and libvirt 9.0 does it only in restrictive mode ("change of nodeset for running
 * domain requires restrictive numa mode"): strict mode also binds QEMU's memory with mbind. So the mode
 * must be restrictive on both sides, placement static, no per-cell memnode difference, and the domain
 * must sit in a cpuset cgroup.
 */
export function planLiveNumatune(desired: Partial<OwnedParts>, live: OwnedParts, cpusetCgroup: boolean): string | undefined {
  const want = desired.numatune?.memory;
  const have = live.numatune?.memory;
  if (!cpusetCgroup || !want?.nodeset || !have?.nodeset) return undefined;
  const mode = have.mode ?? "strict";
  if (mode !== "restrictive" || want.mode !== "restrictive") return undefined;
  if ((have.placement ?? "static") !== "static" || (want.placement ?? "static") !== "static") return undefined;
  if (diffOwnedParts({ numatune: { memnode: desired.numatune?.memnode ?? [] } }, live).length) return undefined;
  return cpusetEquals(want.nodeset, have.nodeset) ? undefined : normalizeCpuset(want.nodeset);
}

/**
 * Splits differences between desired and live parts into live drift (pins, and a numatune nodeset
 * libvirt can move live: `liveNodeset`) and restart-required ones.
 */
export function classifyLiveDiffs(diffs: PartDiff[], pins: LivePins, liveNodeset = false): { pinning: PartDiff[]; restart: PartDiff[] } {
  const pinning: PartDiff[] = [];
  const restart: PartDiff[] = [];
  for (const d of diffs) {
    if (NOT_RESTART.test(d.path)) continue;
    const m = PIN_PATH.exec(d.path);
    const ids = m?.[1] === "vcpupin" ? vcpuPins(pins.vcpupin) : ioPins(pins.iothreadpin);
    const live = (m !== null && (m[1] === undefined || ids.some((p) => p.id === Number(m[2])))) || (liveNodeset && d.path === "numatune.memory.nodeset");
    (live ? pinning : restart).push(d);
  }
  return { pinning, restart };
}

/** Pins that name a vCPU or iothread the domain does not have (counts known statically or from the XML). */
export function pinRangeProblems(parts: Partial<OwnedParts>, vcpus: number | undefined, iothreads: number | undefined, root = "parts"): string[] {
  const problems: string[] = [];
  if (vcpus !== undefined) {
    (parts.cputune?.vcpupin ?? []).forEach((p, i) => {
      if (p.vcpu >= vcpus) problems.push(`${root}.cputune.vcpupin[${i}]: vCPU ${p.vcpu} does not exist; the domain has ${vcpus} vCPU${vcpus === 1 ? "" : "s"} (0-${vcpus - 1})`);
    });
  }
  if (iothreads !== undefined) {
    (parts.cputune?.iothreadpin ?? []).forEach((p, i) => {
      if (p.iothread > iothreads) problems.push(`${root}.cputune.iothreadpin[${i}]: iothread ${p.iothread} does not exist; the domain has ${iothreads === 0 ? "no iothreads" : `iothreads 1-${iothreads}`}`);
    });
  }
  return problems;
}

/**
 * Problems only the whole domain (after applying `parts`) and the host reveal; checked before any write.
 * `facts` (of the domain after applying) add what libvirt's define and start would refuse.
 */
export function domainProblems(parts: Partial<OwnedParts>, result: OwnedParts, hostCpus: string | null, root = "parts", facts?: DomainFacts): string[] {
  // With <iothreadids> the ids are not 1..count: fitProblems checks those pins.
  const iothreads = facts?.iothreadIds ? undefined : result.iothreads?.count ?? 0;
  const problems = pinRangeProblems(parts, result.vcpu?.count ?? 1, iothreads, root);
  if (facts) problems.push(...fitProblems(parts, result, facts, root));
  for (const dev of Object.keys(parts.disks ?? {})) {
    const rule = result.disks[dev]?.driver ? ioCacheProblem(result.disks[dev].driver!) : undefined;
    if (rule) problems.push(`${root}.disks[${dev}]: ${rule}`);
  }
  if (hostCpus !== null) {
    const host = new Set(parseLibvirtCpuset(hostCpus));
    const onHost = (path: string, cpuset: string | null | undefined) => {
      const missing = cpuset ? parseLibvirtCpuset(cpuset).filter((c) => !host.has(c)) : [];
      if (missing.length) problems.push(`${root}.${path}: CPU ${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} not on this host (it has CPUs ${normalizeCpuset(hostCpus)})`);
    };
    (parts.cputune?.vcpupin ?? []).forEach((p, i) => onHost(`cputune.vcpupin[${i}]`, p.cpuset));
    onHost("cputune.emulatorpin", parts.cputune?.emulatorpin?.cpuset);
    (parts.cputune?.iothreadpin ?? []).forEach((p, i) => onHost(`cputune.iothreadpin[${i}]`, p.cpuset));
    onHost("vcpu.cpuset", parts.vcpu?.cpuset);
  }
  return problems;
}

// Lists that are never null in the desired form; others (hugepages, cpu.numa, distances) may be.
const NON_NULL_LISTS = new Set(["vcpupin", "iothreadpin", "memnode"]);
// Parts that always exist as a container (absent = every owned field absent), and whole values.
const CONTAINERS = new Set(["cputune", "numatune", "memoryBacking", "cpu", "os", "disks", "interfaces", "hostdevs"]);
const WHOLE = new Set(["source"]);

const clone = <T>(v: T): T => (v === undefined ? v : JSON.parse(JSON.stringify(v)));

// Owned fields apply may change beyond the ones given (by path): saved too, absent ones as null.
const ALSO: Record<string, string[]> = {
  // A nodeset removes placement='auto' and the reverse.
  "numatune.memory": ["mode", "nodeset", "placement"],
  // A cell is rewritten whole: every optional owned attribute of it.
  "cpu.numa": ["cpus", "memAccess", "distances"],
};

function project(want: unknown, have: unknown, key: string, container: boolean, path: string, all: boolean): unknown {
  if (want === undefined) return undefined;
  if (Array.isArray(want)) {
    if (!Array.isArray(have)) return NON_NULL_LISTS.has(key) ? [] : null;
    return have.map((item: Record<string, unknown>) => {
      const out = clone(item);
      for (const k of all ? ALSO[path] ?? [] : []) if (out[k] === undefined) out[k] = null;
      return out;
    });
  }
  if (want !== null && typeof want === "object" && !WHOLE.has(key)) {
    if (all && ALSO[path] && have !== null && have !== undefined && typeof have === "object") {
      want = { ...Object.fromEntries(ALSO[path].map((k) => [k, null])), ...want };
    }
    if (have === null || have === undefined) {
      if (!container) return null;
      have = {};
    }
    if (typeof have !== "object") return clone(have);
    const out: Record<string, unknown> = {};
    for (const [k, w] of Object.entries(want as Record<string, unknown>)) {
      const v = project(w, (have as Record<string, unknown>)[k], k, key === "disks", `${path}.${k}`, all);
      if (v !== undefined) out[k] = v;
    }
    return out;
  }
  if (have === undefined || have === null) return typeof want === "boolean" ? false : null;
  return clone(have);
}

/**
 * The actual values of exactly what `desired` owns, in its shape: absent
 * elements as null (lists as []), so applying the result puts the domain back.
 * What adopt mode saves before its first change, and delete restores: with `all`,
 * also what applying `desired` changes beyond its keys (see ALSO), so nothing is lost.
 */
export function projectParts(desired: Partial<OwnedParts>, actual: OwnedParts, all = true): Partial<OwnedParts> {
  const out: Record<string, unknown> = {};
  for (const [k, w] of Object.entries(desired)) {
    const v = project(w, (actual as unknown as Record<string, unknown>)[k], k, CONTAINERS.has(k), k, all);
    if (v !== undefined) out[k] = v;
  }
  return out as Partial<OwnedParts>;
}

const inSync = (desired: Partial<OwnedParts>, actual: OwnedParts) => diffOwnedParts(desired, actual).length === 0;

/** A drifted list: items equal to the desired one (same key, same values) keep the desired spelling. */
function mergeItems(want: unknown, observed: unknown): unknown {
  if (!Array.isArray(want) || !Array.isArray(observed)) return observed;
  const same = (w: Record<string, unknown>, o: Record<string, unknown>) =>
    Object.entries(w).every(([k, v]) => v === o[k] || (typeof v === "string" && typeof o[k] === "string" && /^[\d,^-]+$/.test(v) && cpusetEquals(v, o[k] as string)));
  return observed.map((o) => want.find((w) => same(w, o)) ?? o);
}

/**
 * What refresh reports as the resource's parts: the desired value wherever the
 * domain is in sync (so an unchanged domain shows no difference), the observed
 * value where it is not, down to the sub-part, device or list item that drifted.
 */
export function observedParts(desired: Partial<OwnedParts>, actual: OwnedParts): Partial<OwnedParts> {
  const out: Record<string, unknown> = {};
  for (const [k, w] of Object.entries(desired) as [keyof OwnedParts, unknown][]) {
    if (w === undefined) continue;
    if (inSync({ [k]: w }, actual)) {
      out[k] = clone(w);
    } else if (w !== null && typeof w === "object" && !Array.isArray(w) && CONTAINERS.has(k)) {
      const sub: Record<string, unknown> = {};
      for (const [s, ws] of Object.entries(w)) {
        const one = { [k]: { [s]: ws } } as Partial<OwnedParts>;
        sub[s] = inSync(one, actual) ? clone(ws) : mergeItems(ws, (projectParts(one, actual, false) as Record<string, Record<string, unknown>>)[k][s]);
      }
      out[k] = sub;
    } else {
      out[k] = projectParts({ [k]: w }, actual, false)[k];
    }
  }
  return out as Partial<OwnedParts>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Adopt mode across updates (HostTuning's habit): parts owned for the first time
 * get their originals saved from `actual`; parts no longer owned are put back to
 * their originals (and forgotten). Top-level parts and sub-parts/devices count.
 */
export function reconcileOwnership(
  originals: Partial<OwnedParts>,
  parts: Partial<OwnedParts>,
  actual: OwnedParts,
): { originals: Partial<OwnedParts>; desired: Partial<OwnedParts> } {
  const orig = clone(originals) as Record<string, unknown>;
  const desired = clone(parts) as Record<string, unknown>;
  const want = parts as Record<string, unknown>;
  for (const [k, w] of Object.entries(want)) {
    if (w === undefined) continue;
    if (!(k in orig)) {
      orig[k] = (projectParts({ [k]: w }, actual) as Record<string, unknown>)[k];
      continue;
    }
    const o = orig[k];
    if (!CONTAINERS.has(k) || !isObject(w) || !isObject(o)) continue;
    for (const [s, ws] of Object.entries(w)) {
      if (ws !== undefined && !(s in o)) o[s] = (projectParts({ [k]: { [s]: ws } }, actual) as Record<string, Record<string, unknown>>)[k][s];
    }
  }
  for (const k of Object.keys(orig)) {
    if (want[k] === undefined) {
      desired[k] = orig[k];
      delete orig[k];
      continue;
    }
    const o = orig[k];
    const d = desired[k];
    if (!CONTAINERS.has(k) || !isObject(o) || !isObject(d)) continue;
    for (const s of Object.keys(o)) {
      if (d[s] === undefined) {
        d[s] = o[s];
        delete o[s];
      }
    }
  }
  return { originals: orig as Partial<OwnedParts>, desired: desired as Partial<OwnedParts> };
}
