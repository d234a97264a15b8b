/**
 * The host layer of renderPlacementSvg: what the host holds besides the plans.
 * CPUs isolated with isolcpus= get an ink bar on their left edge and an "iso"
 * tag; CPUs that other libvirt domains pin (TopologyDomain, any domain whose
 * name is no plan's) are hatched in a neutral grey-brown and labelled with the
 * domain's name ("<name> emu/io" for its emulator and iothread CPUs), and a
 * plan's vCPU on a domain's vCPU CPU is a conflict; the host devices the guests
 * use (NICs, VFs, disks) are listed in their NUMA node's header, with a warning
 * where a guest's device is outside its nodeset. The legend gets a line for the
 * isolated CPUs, one per domain and one for devices on no known node.
 *
 * Pure and deterministic like svg.ts: domains sorted by name, devices by label
 * then guest, CPUs by number; every text goes through svg-xml's escaping. Without
 * isolated CPUs, other domains or devices there is no layer (null) and the map
 * is byte-identical to the one without it.
 */
import type { PlacementPlan } from "./placement-types";
import { el, type XmlElement } from "./svg-xml";
import type { HostTopology } from "./topology";

/** A host device a guest uses: its label ("enp65s0f0", "0000:41:00.2", "nvme0n1"), NUMA node (null = unknown) and guest (plan name). */
export interface PlacementDevice {
  label: string;
  node: number | null;
  guest?: string;
}

/** The fill of CPUs other domains pin (a pattern in `hostDefs`). */
export const FOREIGN_PATTERN = "kvmtune-placement-foreign";
/** Background and stripes of that pattern: neutral, apart from the guest palette and housekeeping's solid #BBBBBB. */
const FOREIGN_BG = "#EFEBE4";
const FOREIGN_STRIPE = "#B8AD98";
/** The isolated marker's colour (svg.ts's INK). */
const ISO_INK = "#111111";
/** Device lines in a node's header; the rest are counted. */
const MAX_NODE_DEVICES = 6;
/** Characters of a device label and of a guest name in a node's header (the legend and `<desc>` have them whole). */
const MAX_DEVICE_CHARS = 32;
const MAX_GUEST_CHARS = 24;
/** The "iso" tag: font size and its left inset from the cell's right edge (3 glyphs at 0.62 em, plus 4 px). */
const ISO_FS = 9;
const ISO_INSET = Math.ceil(3 * ISO_FS * 0.62) + 4;

/** A CPU cell's share of the host layer. */
export interface HostCell {
  /** Isolated with isolcpus=. */
  iso: boolean;
  /** Other domains here: their vCPU CPUs first, then their emulator/iothread CPUs; `keep` is the suffix kept when the label is shortened. */
  labels: { text: string; keep: string }[];
  /** Tooltip states of other domains ("legacy vCPUs (not in this program)"): the CPU is not free. */
  taken: string[];
  /** Tooltip notes after the state ("isolated (isolcpus)"). */
  notes: string[];
  /** A plan's vCPU is on another domain's vCPU CPU. */
  conflict: boolean;
}

/** A line of the legend's Host block. */
export interface HostLegendLine {
  kind: "iso" | "foreign" | "devices";
  text: string;
}

export interface HostLayer {
  /** By host CPU id (host CPUs only). */
  cells: Map<number, HostCell>;
  /** Device lines by host node id. */
  nodes: Map<number, string[]>;
  legend: HostLegendLine[];
  warnings: string[];
  /** Sentences for `<desc>`. */
  desc: string[];
  /** Some domain is drawn: the pattern is needed. */
  foreign: boolean;
}

/** svg.ts's formatters, so both spell CPU lists alike. */
export interface HostFormat {
  /** "CPU 4", "CPUs 2-3,10". */
  cpus(ids: readonly number[]): string;
  /** "2-3,10". */
  list(ids: readonly number[]): string;
  fit(text: string, max: number): string;
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The host layer, or null when the host has no isolated CPUs, no other domains and no devices are given. */
export function buildHostLayer(host: HostTopology, plans: readonly PlacementPlan[], devices: readonly PlacementDevice[] | undefined, f: HostFormat): HostLayer | null {
  const planNames = new Set(plans.map((p) => p.name));
  const domains = (host.domains ?? []).filter((d) => !planNames.has(d.name)).sort((a, b) => byText(a.name, b.name));
  const devs = [...(devices ?? [])].sort((a, b) => byText(a.label, b.label) || byText(a.guest ?? "", b.guest ?? "") || (a.node ?? -1) - (b.node ?? -1));
  const isolated = [...new Set(host.isolated)].sort((a, b) => a - b);
  if (isolated.length === 0 && domains.length === 0 && devs.length === 0) return null;

  const cpuIds = new Set(host.cpus.map((c) => c.id));
  const nodeIds = new Set(host.nodes.map((n) => n.id));
  const layer: HostLayer = { cells: new Map(), nodes: new Map(), legend: [], warnings: [], desc: [], foreign: domains.length > 0 };
  const cell = (cpu: number) => {
    let c = layer.cells.get(cpu);
    if (!c) layer.cells.set(cpu, (c = { iso: false, labels: [], taken: [], notes: [], conflict: false }));
    return c;
  };

  // isolcpus.
  if (isolated.length) {
    for (const cpu of isolated.filter((c) => cpuIds.has(c))) {
      cell(cpu).iso = true;
      cell(cpu).notes.push("isolated (isolcpus)");
    }
    layer.legend.push({ kind: "iso", text: `isolated (isolcpus): ${f.cpus(isolated)}` });
    layer.desc.push(`Isolated (isolcpus): ${f.cpus(isolated)}.`);
  }

  // Other domains: vCPU CPUs labelled first on every CPU, then emulator/iothread CPUs.
  const vcpuHolders = new Map<number, string[]>();
  for (const d of domains) {
    const vcpus = [...new Set(d.vcpuCpus)].sort((a, b) => a - b);
    const helpers = [...new Set(d.helperCpus)].sort((a, b) => a - b);
    for (const cpu of vcpus) vcpuHolders.set(cpu, [...(vcpuHolders.get(cpu) ?? []), d.name]);
    const off = [...vcpus, ...helpers].filter((c) => !cpuIds.has(c));
    if (off.length) layer.warnings.push(`${d.name} (not in this program) pins ${f.cpus(off)}, not on this host`);
    const parts = [vcpus.length ? `vCPUs on ${f.cpus(vcpus)}` : "vCPUs not pinned"];
    if (helpers.length) parts.push(`emulator/iothreads on ${f.cpus(helpers)}`);
    const line = `${d.name} (not in this program): ${parts.join(", ")}${d.active ? "" : " (shut off)"}`;
    layer.legend.push({ kind: "foreign", text: line });
    layer.desc.push(`${line}.`);
  }
  for (const [cpu, names] of vcpuHolders) {
    if (!cpuIds.has(cpu)) continue;
    const c = cell(cpu);
    c.labels.push(...names.map((text) => ({ text, keep: "" })));
    c.taken.push(...names.map((n) => `${n} vCPUs (not in this program)`));
  }
  for (const d of domains) {
    for (const cpu of new Set(d.helperCpus)) {
      if (!cpuIds.has(cpu)) continue;
      const c = cell(cpu);
      c.labels.push({ text: `${d.name} emu/io`, keep: " emu/io" });
      c.taken.push(`${d.name} emulator/iothreads (not in this program)`);
    }
  }
  for (const p of plans) {
    p.vcpuPins.forEach((cpu, n) => {
      const holders = vcpuHolders.get(cpu);
      if (!holders) return;
      const who = holders.length === 1 ? `${holders[0]} (not in this program) pins its` : `${holders.join(", ")} (not in this program) pin their`;
      layer.warnings.push(`CPU ${cpu} runs ${p.name} vCPU ${n}, but ${who} vCPUs there`);
      if (cpuIds.has(cpu)) cell(cpu).conflict = true;
    });
  }

  // Devices: in their node's header, else in the legend; a warning where a guest's device is outside its nodeset.
  const unknown: string[] = [];
  const said: string[] = [];
  for (const d of devs) {
    const plan = d.guest === undefined ? undefined : plans.find((p) => p.name === d.guest);
    const owner = d.guest === undefined ? "" : ` (${d.guest})`;
    if (d.node !== null && nodeIds.has(d.node)) {
      const lines = layer.nodes.get(d.node) ?? [];
      lines.push(`dev: ${f.fit(d.label, MAX_DEVICE_CHARS)}${d.guest === undefined ? "" : ` (${f.fit(d.guest, MAX_GUEST_CHARS)})`}`);
      layer.nodes.set(d.node, lines);
    } else {
      unknown.push(`${d.label}${owner}`);
      if (d.node !== null) layer.warnings.push(`${d.label}${owner} is on node ${d.node}, not on this host`);
    }
    said.push(`${d.label}${owner} on ${d.node === null ? "no known node" : `node ${d.node}`}`);
    if (plan && d.node !== null && !plan.nodeset.includes(d.node)) layer.warnings.push(`${plan.name} uses ${d.label} on node${d.node}, outside its nodes ${f.list(plan.nodeset)}`);
  }
  for (const [node, lines] of layer.nodes) {
    if (lines.length > MAX_NODE_DEVICES) layer.nodes.set(node, [...lines.slice(0, MAX_NODE_DEVICES - 1), `dev: +${lines.length - MAX_NODE_DEVICES + 1} more`]);
  }
  if (unknown.length) layer.legend.push({ kind: "devices", text: `devices on no known node: ${unknown.join(", ")}` });
  if (said.length) layer.desc.push(`Devices: ${said.join(", ")}.`);
  return layer;
}

/** The parts of svg.ts's CellView the host layer changes. */
export interface HostCellView {
  fill: string;
  hatch: number | null;
  main: string;
  extra: string;
  strong: boolean;
  conflict: boolean;
  /** A plan's guest owns the cell's main label. */
  owned: boolean;
  iso: boolean;
  /** Another domain's label is the main one. */
  foreign: boolean;
  /** Suffix kept when the main label is shortened ("" for none). */
  keep: string;
}

/**
 * Marks a cell: a cell no guest owns shows the first domain's name on the
 * pattern (what it showed before, "hk" or "offline", moves to the extra line);
 * an owned cell lists the domains on its extra line.
 */
export function applyHostCell(v: HostCellView, c: HostCell): void {
  v.iso = c.iso;
  if (c.conflict) v.conflict = true;
  if (c.labels.length === 0) return;
  const names = c.labels.map((l) => l.text);
  if (v.owned) {
    v.extra = [v.extra, ...names].filter((s) => s !== "").join("; ");
    return;
  }
  v.extra = [...names.slice(1), v.main, v.extra].filter((s) => s !== "").join("; ");
  [v.main, v.keep] = [c.labels[0].text, c.labels[0].keep];
  [v.fill, v.hatch, v.strong, v.foreign] = [`url(#${FOREIGN_PATTERN})`, null, false, true];
}

// ---------------------------------------------------------------------------
// Drawing pieces (svg.ts places them).

/** Extra CSS for the host layer (appended to svg.ts's style only when the layer exists). */
export function hostStyle(): string[] {
  return [`.isotag{font-size:${ISO_FS}px;font-weight:bold;fill:${ISO_INK}}`];
}

/** The domains' pattern, when some domain is drawn. */
export function hostDefs(layer: HostLayer): XmlElement | null {
  if (!layer.foreign) return null;
  return el(
    "pattern",
    { id: FOREIGN_PATTERN, patternUnits: "userSpaceOnUse", width: 8, height: 8, patternTransform: "rotate(-45)" },
    el("rect", { x: 0, y: 0, width: 8, height: 8, fill: FOREIGN_BG }),
    el("rect", { x: 0, y: 0, width: 3, height: 8, fill: FOREIGN_STRIPE }),
  );
}

/** The isolated marker: an ink bar inside the cell's left edge and an "iso" tag at its top right (left-anchored, so its width is known). */
export function isoMarker(x: number, y: number, w: number, h: number): XmlElement {
  return el(
    "g",
    { class: "iso" },
    el("rect", { x: x + 1, y: y + 1, width: 2.5, height: h - 2, fill: ISO_INK }),
    el("text", { x: x + w - ISO_INSET, y: y + 11, class: "isotag" }, "iso"),
  );
}

/** svg.ts's text measures and wrapping, for the legend block. */
export interface HostLegendKit {
  wrap(text: string, max: number): string[];
  textW(text: string, size: number): number;
  /** Font sizes of the heading and the lines. */
  head: number;
  key: number;
}

/** The legend's Host block at (x, y): a heading, then each line with its swatch (wrapped to `wrapW`). Returns the elements, the next y and the width used. */
export function drawHostLegend(layer: HostLayer, x: number, y: number, wrapW: number, k: HostLegendKit): { els: XmlElement[]; y: number; w: number } {
  if (layer.legend.length === 0) return { els: [], y, w: 0 };
  const els: XmlElement[] = [el("text", { x, y: y + k.head, class: "h" }, "Host")];
  let w = k.textW("Host", k.head);
  y += k.head + 10;
  const perLine = Math.floor((wrapW - 40) / k.textW("x", k.key));
  for (const line of layer.legend) {
    const box = { x, y, width: 20, height: 16, rx: 2 };
    const swatch =
      line.kind === "iso"
        ? el("g", {}, el("rect", { ...box, fill: "#FFFFFF", stroke: "#6E6E6E" }), el("rect", { x: x + 1, y: y + 1, width: 2.5, height: 14, fill: ISO_INK }))
        : line.kind === "foreign"
          ? el("rect", { ...box, fill: `url(#${FOREIGN_PATTERN})`, stroke: "#6E6E6E" })
          : null;
    const lines = k.wrap(line.text, perLine);
    els.push(
      el(
        "g",
        { class: `hostline ${line.kind}` },
        swatch,
        lines.map((t, i) => el("text", { x: x + 28 + (i ? 12 : 0), y: y + 12 + i * (k.key + 4), class: "key" }, t)),
      ),
    );
    w = Math.max(w, ...lines.map((t, i) => 28 + (i ? 12 : 0) + k.textW(t, k.key)));
    y += Math.max(20, lines.length * (k.key + 4) + 5);
  }
  return { els, y: y + 4, w };
}
