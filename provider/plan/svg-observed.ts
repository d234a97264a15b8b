/**
 * The observed layer of renderPlacementSvg: where running guests really are
 * (ObservedSummary, measured from /proc and the cpuset cgroup) next to where
 * their plans put them. Per host CPU, a note for every vCPU allowed there
 * although its plan pins it elsewhere (the cell gets a dashed outline in the
 * guest's colour); per host node, each observed guest's resident RAM against
 * its planned amount (red when the plan has no memory on that node); per guest,
 * "observed: as planned" or its drift lines, bounded.
 *
 * Pure and deterministic like svg.ts: plans in order, vCPUs, nodes and page
 * sizes sorted by number; every text goes through svg-xml's escaping.
 */
import { parseCpuList } from "../host/sysfs-parse";
import { MEMORY_TOLERANCE_MIB, type ObservedSummary } from "../libvirt/placement-drift";
import type { PlacementPlan } from "./placement-types";
import { el, type XmlElement } from "./svg-xml";
import { sizeLabel, type HostTopology } from "./topology";

/** One guest's measured placement, as a LibvirtDomain reports it (`observed` and `placementDrift`). */
export interface ObservedGuest {
  summary: ObservedSummary;
  /** Drift lines ("placement.memory: 64 MiB on node0, outside strict nodeset 1"); [] when none. */
  drift: readonly string[];
}

/** Drift lines listed per guest; the rest are counted ("+N more"). */
export const MAX_DRIFT_LINES = 4;
/** Observed notes in one CPU's tooltip; the rest are counted. */
const MAX_CELL_NOTES = 4;
/** Characters of one drift line kept (the legend wraps what is left). */
const MAX_DRIFT_CHARS = 240;
/** Characters of a guest name in a node's observed line (the legend has it whole). */
const MAX_NODE_NAME = 24;

/** A CPU cell's share of the observed layer. */
export interface ObservedCell {
  /** Plan index whose dashed outline the cell gets; null for a tooltip note only. */
  outline: number | null;
  /** CPUs the outlined vCPU may run on: the narrowest affinity wins the outline (ties: plan order, vCPU order). */
  span: number;
  /** Tooltip lines, bounded. */
  notes: string[];
}

/** One guest's observed memory on one host node. */
export interface ObservedNodeLine {
  text: string;
  /** Memory observed on a node the plan does not use (at least MEMORY_TOLERANCE_MIB). */
  offPlan: boolean;
}

/** A line under a guest's legend entry: "as planned", a count, a drift line, or a note. */
export interface ObservedLegendLine {
  text: string;
  kind: "ok" | "drift";
}

export interface ObservedLayer {
  /** By host CPU id (CPUs not on the host are dropped by the renderer; the guest's legend names them). */
  cells: Map<number, ObservedCell>;
  /** By host node id, guests in plan order. */
  nodes: Map<number, ObservedNodeLine[]>;
  /** By plan index, only for guests with an observed entry. */
  guests: Map<number, ObservedLegendLine[]>;
  /** By plan index: one sentence for `<desc>`. */
  desc: Map<number, string>;
}

/** svg.ts's formatters, so both layers spell amounts and CPU lists alike. */
export interface ObservedFormat {
  mem(mib: number): string;
  cpus(ids: readonly number[]): string;
  fit(text: string, max: number): string;
}

/** The observed entry of a guest: own properties only ("constructor" or "__proto__" is just a name). */
export function observedOf(observed: Readonly<Record<string, ObservedGuest>> | undefined, name: string): ObservedGuest | undefined {
  return observed && Object.prototype.hasOwnProperty.call(observed, name) ? observed[name] : undefined;
}

/** The observed layer, or null when no plan has an observed entry (the map is then exactly the planned one). */
export function buildObservedLayer(
  host: HostTopology,
  plans: readonly PlacementPlan[],
  observed: Readonly<Record<string, ObservedGuest>> | undefined,
  f: ObservedFormat,
): ObservedLayer | null {
  if (!plans.some((p) => observedOf(observed, p.name))) return null;
  const cpuIds = new Set(host.cpus.map((c) => c.id));
  const nodeIds = new Set(host.nodes.map((n) => n.id));
  const layer: ObservedLayer = { cells: new Map(), nodes: new Map(), guests: new Map(), desc: new Map() };
  const cell = (cpu: number) => {
    let c = layer.cells.get(cpu);
    if (!c) layer.cells.set(cpu, (c = { outline: null, span: Infinity, notes: [] }));
    return c;
  };

  plans.forEach((p, g) => {
    const o = observedOf(observed, p.name);
    if (!o) return;
    const s = o.summary;
    const notes: string[] = [];
    let differences = 0;

    // vCPUs: a mark wherever a vCPU may run that is not its planned CPU.
    const offHost = new Set<number>();
    for (const [n, allowedText] of numbered(s.vcpus ?? {}, notes, "vCPU")) {
      let allowed: number[];
      try {
        allowed = parseCpuList(allowedText);
      } catch {
        notes.push(`vCPU ${n}: unreadable affinity "${allowedText}"`);
        continue;
      }
      const planned = n < p.vcpuPins.length ? p.vcpuPins[n] : undefined;
      if (planned !== undefined && allowed.length === 1 && allowed[0] === planned) continue;
      differences++;
      const where = allowed.length ? f.cpus(allowed) : "no CPUs";
      const line = `${p.name} vCPU ${n} observed on ${where}, ${planned === undefined ? "not in the plan" : `planned ${planned}`}`;
      for (const cpu of allowed) {
        if (cpu === planned) continue;
        if (!cpuIds.has(cpu)) {
          offHost.add(cpu);
          continue;
        }
        const c = cell(cpu);
        if (allowed.length < c.span) [c.outline, c.span] = [g, allowed.length];
        c.notes.push(line);
      }
      if (planned !== undefined && !allowed.includes(planned) && cpuIds.has(planned)) cell(planned).notes.push(`${p.name} vCPU ${n} planned here, observed on ${where}`);
    }
    if (offHost.size) notes.push(`vCPUs observed on ${f.cpus([...offHost])}, not on this host`);

    // Memory per host node: observed against planned, on every node either is on.
    const seen = new Map<number, number>();
    for (const [key, mib] of Object.entries(s.guestMemoryMiB ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const m = /^node(\d+)$/.exec(key);
      if (!m || typeof mib !== "number" || !Number.isFinite(mib)) {
        notes.push(`unreadable memory entry "${key}"`);
        continue;
      }
      seen.set(Number(m[1]), (seen.get(Number(m[1])) ?? 0) + mib);
    }
    const planned = new Map<number, number>();
    for (const c of p.cells) planned.set(c.hostNode, (planned.get(c.hostNode) ?? 0) + c.memoryMiB);
    const planNodes = new Set([...p.nodeset, ...p.cells.map((c) => c.hostNode)]);
    const pages = pagesText(s.guestPages ?? {});
    const name = f.fit(p.name, MAX_NODE_NAME);
    for (const node of [...new Set([...seen.keys(), ...planned.keys()])].sort((a, b) => a - b)) {
      const got = seen.get(node) ?? 0;
      const want = planned.get(node) ?? 0;
      const offPlan = !planNodes.has(node) && got >= MEMORY_TOLERANCE_MIB;
      if (want === 0 && !offPlan && !(got > 0 && planNodes.has(node))) continue; // a stray page or two: not drift
      if (offPlan) differences++;
      if (!nodeIds.has(node)) {
        notes.push(`${f.mem(got)} observed on node ${node}, not on this host`);
        continue;
      }
      const obs = got > 0 ? `${f.mem(got)} observed${pages}` : "none observed";
      const text = `${name}: ${obs} · planned ${want > 0 ? f.mem(want) : offPlan ? "none, off plan" : "none"}`;
      layer.nodes.set(node, [...(layer.nodes.get(node) ?? []), { text, offPlan }]);
    }

    // Legend: the drift lines (bounded), else "as planned", else what the map shows.
    const drift = o.drift.map((d) => f.fit(d, MAX_DRIFT_CHARS));
    const lines: ObservedLegendLine[] = [];
    if (drift.length === 0 && differences === 0) lines.push({ text: "observed: as planned", kind: "ok" });
    else if (drift.length === 0) {
      lines.push({ text: `observed: no drift reported, but ${differences} ${differences === 1 ? "difference" : "differences"} from this plan (dashed cells, red node lines)`, kind: "drift" });
    } else {
      lines.push({ text: `observed: ${drift.length} drift ${drift.length === 1 ? "line" : "lines"}`, kind: "drift" });
      lines.push(...drift.slice(0, MAX_DRIFT_LINES).map((d) => ({ text: `• ${d}`, kind: "drift" as const })));
      if (drift.length > MAX_DRIFT_LINES) lines.push({ text: `+${drift.length - MAX_DRIFT_LINES} more`, kind: "drift" });
    }
    if (s.truncated) notes.unshift("measurement cut short (too many threads or mappings): the map may miss some");
    const shownNotes = bounded(notes.map((n) => f.fit(n, MAX_DRIFT_CHARS)), MAX_DRIFT_LINES, (n) => `+${n} more notes`);
    lines.push(...shownNotes.map((text) => ({ text: `observed: ${text}`, kind: "drift" as const })));
    layer.guests.set(g, lines);
    const said = drift.length ? bounded(drift, MAX_DRIFT_LINES, (n) => `and ${n} more`).join("; ") : lines[0].text.replace(/^observed: /, "");
    layer.desc.set(g, `Observed: ${[said, ...shownNotes].join("; ")}.`);
  });

  for (const c of layer.cells.values()) c.notes = bounded(c.notes, MAX_CELL_NOTES, (n) => `+${n} more`);
  return layer;
}

/** Entries of a `{ "<n>": value }` record with integer keys, sorted; other keys become notes. */
function numbered(rec: Record<string, string>, notes: string[], what: string): [number, string][] {
  const out: [number, string][] = [];
  for (const [k, v] of Object.entries(rec)) {
    if (/^\d+$/.test(k) && typeof v === "string") out.push([Number(k), v]);
    else notes.push(`unreadable ${what} entry "${k}"`);
  }
  return out.sort((a, b) => a[0] - b[0]);
}

/** " (2M pages)", " (2M + normal pages)" from `guestPages`; sizes of a stray MiB or two are left out. */
function pagesText(pages: Record<string, number>): string {
  const rows = Object.entries(pages).filter(([, mib]) => typeof mib === "number" && mib > 0);
  const big = rows.filter(([, mib]) => mib >= MEMORY_TOLERANCE_MIB);
  const labels = (big.length ? big : rows)
    .map(([key, mib]) => {
      const m = /^(\d+) KiB( hugetlb)?$/.exec(key);
      const kib = m ? Number(m[1]) : 0;
      const label = !m ? key : m[2] ? `${sizeLabel(kib)}` : kib === 4 ? "normal" : `${sizeLabel(kib)} non-hugetlb`;
      return { label, kib, mib };
    })
    .sort((a, b) => b.kib - a.kib || b.mib - a.mib || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0))
    .map((r) => r.label);
  const unique = [...new Set(labels)];
  return unique.length ? ` (${unique.join(" + ")} pages)` : "";
}

/** The first `max` items, then a count of the rest. */
function bounded(items: readonly string[], max: number, more: (n: number) => string): string[] {
  return items.length <= max ? [...items] : [...items.slice(0, max), more(items.length - max)];
}

// ---------------------------------------------------------------------------
// Drawing pieces (svg.ts places them).

/** Extra CSS for the observed layer (appended to svg.ts's style only when the layer exists). */
export function observedStyle(conflict: string): string[] {
  return [`.obsoff{fill:${conflict};font-weight:bold}`, `.gobs{font-weight:bold}`, `.gdrift{fill:${conflict}}`];
}

/** A two-tone dashed outline inset in a cell (ink and the guest's colour alternate, visible on any fill). */
export function observedOutline(x: number, y: number, w: number, h: number, colour: string, ink: string): XmlElement {
  const box = { x: x + 1.5, y: y + 1.5, width: w - 3, height: h - 3, rx: 1, fill: "none", "stroke-width": 2, "stroke-dasharray": "4 4" };
  return el("g", { class: "observed" }, el("rect", { ...box, stroke: ink }), el("rect", { ...box, stroke: colour, "stroke-dashoffset": 4 }));
}
