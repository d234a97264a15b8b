/**
 * Semantic compare of desired owned parts with the parts read from a domain.
 * Only what the desired side specifies is compared (see types.ts); cpusets compare
 * as CPU sets, sizes in bytes, and values libvirt fills in by default (vcpu
 * placement='static', numatune mode='strict', cpu check, dies='1', unit='KiB',
 * currentMemory = memory, ...) equal an unspecified or null desired value.
 */
import type {
  CpuPart, DiskDriver, HugePage, InterfacePart, InterfaceSource, MemorySize, NumaCell, OwnedParts, PartDiff, VcpuPart,
} from "./types";
import { cpusetEquals, formatSize, normalizeCpuset, sizeEquals } from "./values";

type Val = string | number | boolean | null;
type Eq = (want: NonNullable<Val>, have: NonNullable<Val>) => boolean;

const same: Eq = (a, b) => a === b;
const cpus: Eq = (a, b) => cpusetEquals(String(a), String(b));

/** `q35` is what one asks for, `pc-q35-7.2` what libvirt writes back. */
const machine: Eq = (want, have) => {
  const w = String(want);
  const h = String(have);
  if (w === h) return true;
  const versioned = w === "pc" ? "pc-i440fx" : w.startsWith("pc-") ? w : `pc-${w}`;
  return h.startsWith(`${versioned}-`) || h.startsWith(`${w}-`);
};

class Differ {
  readonly diffs: PartDiff[] = [];

  /** One value: skipped when `want` is undefined; `def` stands in for an absent value on either side. */
  leaf(path: string, want: Val | undefined, have: Val | undefined, eq: Eq = same, def: Val = null): void {
    if (want === undefined) return;
    const w = want ?? def;
    const h = have ?? def;
    if (w === null && h === null) return;
    if (w !== null && h !== null && eq(w, h)) return;
    this.diffs.push({ path, from: have ?? null, to: want });
  }

  size(path: string, want: MemorySize | null | undefined, have: MemorySize | null | undefined, def: MemorySize | null = null): void {
    if (want === undefined) return;
    const w = want ?? def;
    const h = have ?? def;
    if (w === null && h === null) return;
    if (w !== null && h !== null && sizeEquals(w.value, w.unit, h.value, h.unit)) return;
    this.diffs.push({ path, from: have ? formatSize(have.value, have.unit) : null, to: want ? formatSize(want.value, want.unit) : null });
  }

  /** A keyed collection: `both` compares items present on both sides, else one presence diff with summaries. */
  keyed<T>(
    path: string,
    want: Map<string, T>,
    have: Map<string, T>,
    summary: (t: T) => string,
    both: (p: string, w: T, h: T) => void,
  ): void {
    const keys = [...new Set([...want.keys(), ...have.keys()])].sort(byKey);
    for (const k of keys) {
      const w = want.get(k);
      const h = have.get(k);
      const p = `${path}[${k}]`;
      if (w !== undefined && h !== undefined) both(p, w, h);
      else this.diffs.push({ path: p, from: h === undefined ? null : summary(h), to: w === undefined ? null : summary(w) });
    }
  }
}

/** Numbers in numeric order, then anything else in text order. */
function byKey(a: string, b: string): number {
  const na = /^\d+$/.test(a) ? Number(a) : NaN;
  const nb = /^\d+$/.test(b) ? Number(b) : NaN;
  if (!isNaN(na) && !isNaN(nb)) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

function mapBy<T>(items: readonly T[] | null | undefined, key: (t: T) => string): Map<string, T> {
  return new Map((items ?? []).map((t) => [key(t), t] as const));
}

const pageKey = (p: HugePage) => (p.nodeset === undefined ? "*" : normalizeCpuset(p.nodeset));
const pageSummary = (p: HugePage) => `${formatSize(p.size, p.unit)}${p.nodeset === undefined ? "" : ` on nodes ${p.nodeset}`}`;
const hugepagesSummary = (pages: HugePage[] | null | undefined) =>
  pages == null ? null : pages.length === 0 ? "default size" : pages.map(pageSummary).join(", ");
const cellSummary = (c: NumaCell) => `${c.cpus == null ? "no cpus" : `cpus ${c.cpus}`}, ${formatSize(c.memory, c.unit)}`;
const attrsSummary = (o: object) =>
  Object.entries(o).filter(([, v]) => v !== undefined && v !== null).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : String(v)}`).join(" ");
const sourceSummary = (s: InterfaceSource | null | undefined) =>
  s == null ? null : attrsSummary({ ...s.attributes, ...(s.pciAddress ? { address: s.pciAddress } : {}) });
const ifaceSummary = (i: InterfacePart) =>
  [i.type, sourceSummary(i.source), i.model].filter((x) => x != null && x !== "").join(" ") || "interface";

function diffCpu(d: Differ, desired: CpuPart | null, actual: CpuPart | null): void {
  const w: CpuPart = desired ?? { mode: null, match: null, check: null, topology: null, numa: null };
  const a: CpuPart = actual ?? {};
  d.leaf("cpu.mode", w.mode, a.mode, same, "custom");
  d.leaf("cpu.match", w.match, a.match, same, "exact");
  // libvirt picks check per driver and state (qemu: none inactive, full live), so a
  // null desired check is no constraint; a given one compares with the mode's default.
  const mode = a.mode ?? w.mode ?? "custom";
  d.leaf("cpu.check", w.check ?? undefined, a.check, same, mode === "host-passthrough" || mode === "maximum" ? "none" : "partial");
  if (w.topology !== undefined) {
    const wt = w.topology ?? { sockets: null, dies: null, cores: null, threads: null };
    const at = a.topology ?? {};
    for (const k of ["sockets", "dies", "cores", "threads"] as const) {
      d.leaf(`cpu.topology.${k}`, wt[k] as Val | undefined, (at as Record<string, number | undefined>)[k], same, k === "dies" ? 1 : null);
    }
  }
  if (w.numa !== undefined) {
    d.keyed("cpu.numa.cell", mapBy(w.numa, (c) => String(c.id)), mapBy(a.numa, (c) => String(c.id)), cellSummary, (p, wc, ac) => {
      d.leaf(`${p}.cpus`, wc.cpus, ac.cpus, cpus);
      d.size(`${p}.memory`, { value: wc.memory, unit: wc.unit }, { value: ac.memory, unit: ac.unit });
      d.leaf(`${p}.memAccess`, wc.memAccess, ac.memAccess);
      if (wc.distances !== undefined) {
        const ws = new Map((wc.distances ?? []).map((s) => [String(s.id), s.value] as const));
        const hs = new Map((ac.distances ?? []).map((s) => [String(s.id), s.value] as const));
        d.keyed(`${p}.distances`, ws, hs, String, (q, x, y) => d.leaf(q, x, y));
      }
    });
  }
}

function diffDevices(d: Differ, desired: Partial<OwnedParts>, actual: OwnedParts): void {
  const driverNames = ["name", "type", "cache", "io", "discard", "iothread", "queues"] as const;
  for (const [dev, wd] of Object.entries(desired.disks ?? {}).sort(([x], [y]) => byKey(x, y))) {
    const ad = actual.disks[dev];
    const p = `devices.disk[${dev}]`;
    if (ad === undefined) {
      d.diffs.push({ path: p, from: null, to: attrsSummary(wd.driver ?? {}) || "disk" });
      continue;
    }
    if (wd.driver === undefined) continue;
    const w: DiskDriver = wd.driver ?? {};
    for (const k of driverNames) d.leaf(`${p}.driver.${k}`, wd.driver === null ? null : w[k], ad.driver?.[k]);
  }
  const want = new Map(Object.entries(desired.interfaces ?? {}).map(([k, v]) => [k.toLowerCase(), v] as const));
  for (const [mac, wi] of [...want].sort(([x], [y]) => byKey(x, y))) {
    const ai = actual.interfaces[mac] ?? null;
    const p = `devices.interface[${mac}]`;
    if (wi === null || ai === null) {
      if (wi !== ai) d.diffs.push({ path: p, from: ai && ifaceSummary(ai), to: wi && ifaceSummary(wi) });
      continue;
    }
    d.leaf(`${p}.type`, wi.type, ai.type);
    if (wi.source !== undefined) d.leaf(`${p}.source`, sourceSummary(wi.source), sourceSummary(ai.source));
    d.leaf(`${p}.model`, wi.model, ai.model);
    if (wi.driver !== undefined) {
      for (const k of ["name", "queues", "rx_queue_size", "tx_queue_size"] as const) {
        // libvirt drops queues='1' (one queue, its default) whatever the driver name; apply never writes it.
        d.leaf(`${p}.driver.${k}`, wi.driver === null ? null : wi.driver[k], ai.driver?.[k] ?? (k === "queues" ? 1 : undefined), same, k === "queues" ? 1 : null);
      }
    }
    d.leaf(`${p}.mtu`, wi.mtu, ai.mtu);
    d.leaf(`${p}.vlan`, wi.vlan, ai.vlan);
  }
  for (const [key, wh] of Object.entries(desired.hostdevs ?? {}).sort(([x], [y]) => byKey(x, y))) {
    const ah = actual.hostdevs[key] ?? null;
    const p = `devices.hostdev[${key}]`;
    if (wh === null || ah === null) {
      if (wh !== ah) d.diffs.push({ path: p, from: ah && (ah.type ?? "hostdev"), to: wh && (wh.type ?? "pci") });
      continue;
    }
    d.leaf(`${p}.managed`, wh.managed, ah.managed, same, false);
  }
}

/**
 * Every difference between what `desired` specifies and `actual`, in a stable
 * order with stable paths ("cputune.vcpupin[3]", "numatune.memory.mode",
 * "devices.interface[52:54:00:aa:bb:cc].driver.queues", ...). Empty when in sync.
 */
export function diffOwnedParts(desired: Partial<OwnedParts>, actual: OwnedParts): PartDiff[] {
  const d = new Differ();
  d.size("memory", desired.memory, actual.memory);
  d.size("currentMemory", desired.currentMemory, actual.currentMemory, actual.memory);
  if (desired.vcpu === null) d.leaf("vcpu", null, actual.vcpu?.count);
  else if (desired.vcpu) {
    const w = desired.vcpu;
    const a: Partial<VcpuPart> = actual.vcpu ?? {};
    d.leaf("vcpu.count", w.count, a.count);
    d.leaf("vcpu.placement", w.placement, a.placement, same, "static");
    d.leaf("vcpu.cpuset", w.cpuset, a.cpuset, cpus);
    d.leaf("vcpu.current", w.current, a.current, same, w.count);
  }
  if (desired.iothreads !== undefined) d.leaf("iothreads", desired.iothreads?.count ?? null, actual.iothreads?.count, same, 0);
  if (desired.cputune !== undefined) {
    const w = desired.cputune ?? { vcpupin: [], emulatorpin: null, iothreadpin: [] };
    const a = actual.cputune ?? {};
    const pins = (path: string, wl: { id: number; cpuset: string }[] | undefined, al: { id: number; cpuset: string }[] | undefined) => {
      if (wl === undefined) return;
      const wm = mapBy(wl, (x) => String(x.id));
      const am = mapBy(al, (x) => String(x.id));
      for (const k of [...new Set([...wm.keys(), ...am.keys()])].sort(byKey)) {
        d.leaf(`${path}[${k}]`, wm.get(k)?.cpuset ?? null, am.get(k)?.cpuset, cpus);
      }
    };
    pins("cputune.vcpupin", w.vcpupin?.map((x) => ({ id: x.vcpu, cpuset: x.cpuset })), a.vcpupin?.map((x) => ({ id: x.vcpu, cpuset: x.cpuset })));
    d.leaf("cputune.emulatorpin", w.emulatorpin === undefined ? undefined : w.emulatorpin?.cpuset ?? null, a.emulatorpin?.cpuset, cpus);
    pins("cputune.iothreadpin", w.iothreadpin?.map((x) => ({ id: x.iothread, cpuset: x.cpuset })), a.iothreadpin?.map((x) => ({ id: x.iothread, cpuset: x.cpuset })));
  }
  if (desired.numatune !== undefined) {
    const w = desired.numatune ?? { memory: null, memnode: [] };
    const a = actual.numatune ?? {};
    if (w.memory !== undefined) {
      const wm = w.memory ?? { mode: null, nodeset: null, placement: null };
      const am = a.memory ?? {};
      d.leaf("numatune.memory.mode", wm.mode, am.mode, same, "strict");
      d.leaf("numatune.memory.placement", wm.placement, am.placement, same, "static");
      d.leaf("numatune.memory.nodeset", wm.nodeset, am.nodeset, cpus);
    }
    if (w.memnode !== undefined) {
      d.keyed("numatune.memnode", mapBy(w.memnode, (m) => String(m.cellid)), mapBy(a.memnode, (m) => String(m.cellid)),
        (m) => `${m.mode} ${m.nodeset}`,
        (p, wm, am) => {
          d.leaf(`${p}.mode`, wm.mode, am.mode);
          d.leaf(`${p}.nodeset`, wm.nodeset, am.nodeset, cpus);
        });
    }
  }
  if (desired.memoryBacking !== undefined) {
    const w = desired.memoryBacking ?? { hugepages: null, locked: false, nosharepages: false };
    const a = actual.memoryBacking ?? { hugepages: null, locked: false, nosharepages: false };
    if (w.hugepages !== undefined) {
      if ((w.hugepages === null) !== (a.hugepages == null)) {
        d.diffs.push({ path: "memoryBacking.hugepages", from: hugepagesSummary(a.hugepages), to: hugepagesSummary(w.hugepages) });
      } else if (w.hugepages !== null) {
        d.keyed("memoryBacking.hugepages.page", mapBy(w.hugepages, pageKey), mapBy(a.hugepages, pageKey), pageSummary,
          (p, wp, ap) => d.size(p, { value: wp.size, unit: wp.unit }, { value: ap.size, unit: ap.unit }));
      }
    }
    d.leaf("memoryBacking.locked", w.locked, a.locked, same, false);
    d.leaf("memoryBacking.nosharepages", w.nosharepages, a.nosharepages, same, false);
  }
  if (desired.os) {
    d.leaf("os.type", desired.os.type, actual.os?.type);
    d.leaf("os.arch", desired.os.arch, actual.os?.arch);
    d.leaf("os.machine", desired.os.machine, actual.os?.machine, machine);
  }
  if (desired.cpu !== undefined) diffCpu(d, desired.cpu, actual.cpu);
  d.leaf("osinfo", desired.osinfo, actual.osinfo);
  diffDevices(d, desired, actual);
  return d.diffs;
}

function show(v: Val): string {
  return v === null ? "(absent)" : String(v);
}

/** One line for a human: "cputune.vcpupin[3]: 7 → 2". */
export function describeDiff(d: PartDiff): string {
  return `${d.path}: ${show(d.from)} → ${show(d.to)}`;
}
