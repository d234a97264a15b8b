/**
 * renderPlacementSvg: a placement map for reviewers. Host NUMA nodes (boxes with
 * memory and hugepage use) hold cores (boxes) that hold hardware threads (cells
 * labelled with the CPU number). Each guest gets a colour from a fixed
 * colour-blind-friendly palette in plan order; its vCPUs read "<guest> v<n>",
 * its emulator "emu", its iothreads "io<n>", idle siblings are hatched in its
 * colour; housekeeping CPUs are grey "hk", offline CPUs crossed out. A legend
 * lists every guest; overlaps and pins to missing or offline CPUs are listed as
 * warnings and outlined in red.
 *
 * With `observed` (svg-observed.ts), guests that run show where they really
 * are next to the plan: a dashed outline in the guest's colour on each CPU a
 * vCPU may run on besides its planned one, each node's observed guest RAM
 * against the planned amount (red off the plan), and "observed: as planned" or
 * the drift lines in the legend. Guests without an entry are drawn as before;
 * without any entry the output is byte-identical to the planned-only map.
 *
 * The host layer (svg-host-extras.ts) shows what else the host holds: CPUs
 * isolated with isolcpus= carry an ink bar and an "iso" tag; CPUs other libvirt
 * domains pin (`host.domains`, but a plan's own) are hatched grey-brown with the
 * domain's name ("<name> emu/io" for its emulator and iothreads), a plan vCPU
 * on one is a conflict; `devices` are listed in their node's header (a warning
 * where a guest's device is outside its nodeset). Each has a line in the
 * legend's Host block. Without isolated CPUs, other domains and devices the
 * output is byte-identical to the map without the layer.
 *
 * Pure and deterministic: the same input gives byte-identical output (no dates,
 * no random ids); sizes come from the topology and the label lengths (monospace
 * text, so widths are known without fonts); no external fonts, scripts or links.
 */
import type { PlacementPlan } from "./placement-types";
import { hostLabel, indexTopology, sizeLabel, type HostTopology, type TopologyCpu, type TopologyNode } from "./topology";
import { applyHostCell, buildHostLayer, drawHostLegend, hostDefs, hostStyle, isoMarker, type HostCell, type HostLayer, type PlacementDevice } from "./svg-host-extras";
import { buildObservedLayer, observedOutline, observedStyle, type ObservedGuest, type ObservedLayer, type ObservedLegendLine, type ObservedNodeLine } from "./svg-observed";
import { el, serialize, type XmlElement } from "./svg-xml";

export type { ObservedGuest } from "./svg-observed";
export type { PlacementDevice } from "./svg-host-extras";

/** Options of renderPlacementSvg. */
export interface PlacementSvgOptions {
  /** Heading and `<title>`; default "Guest placement on host <hostname>". */
  title?: string;
  /** CPUs to show grey as housekeeping ("hk"); default none (plans do not record them). */
  housekeepingCpus?: readonly number[];
  /**
   * Measured placement by guest name (= plan name): LibvirtDomain's `observed`
   * summary and `placementDrift` lines. Names without a plan are ignored.
   */
  observed?: Readonly<Record<string, ObservedGuest>>;
  /** Host devices the guests use (NICs, VFs, disks), shown in their NUMA node's header; node null = unknown. */
  devices?: readonly PlacementDevice[];
}

/** Guest colours in plan order (Paul Tol's "light" scheme without its grey: colour-blind safe, dark text readable); repeats after 8 guests. */
export const GUEST_PALETTE: readonly string[] = ["#77AADD", "#EE8866", "#44BB99", "#EEDD88", "#FFAABB", "#99DDFF", "#BBCC33", "#AAAA00"];

const ID = "kvmtune-placement";
const FONT = "'DejaVu Sans Mono', Menlo, Consolas, 'Liberation Mono', monospace";
/** Advance of one monospace glyph in em, rounded up (DejaVu Sans Mono: 0.602). */
const CHAR_EM = 0.62;
const HK_FILL = "#BBBBBB";
const FREE_FILL = "#FFFFFF";
const OFFLINE_FILL = "#EEEEEE";
const OFFLINE_LINE = "#A8A8A8";
const CONFLICT = "#CC0000";
const INK = "#111111";
const MUTED = "#555555";

// Layout (px).
const MARGIN = 16;
const CELL_H = 44;
const CELL_MIN_W = 72;
const CELL_MAX_W = 156;
const CELL_PAD = 5;
const CELL_GAP = 2;
const CORE_PAD = 3;
const CORE_GAP = 6;
const NODE_PAD = 10;
const NODE_HEADER_H = 66;
const NODE_GAP = 14;
const MAX_CORE_COLS = 8;
const MAX_NODES_W = 1800;
/** Warnings listed in the legend and `<desc>`; the rest are counted. */
const MAX_WARNINGS = 20;
const FS = { title: 16, sub: 11, nodeHead: 13, nodeInfo: 11, cpu: 9, main: 11, extra: 9, guest: 12, detail: 10, key: 11 };

const textW = (text: string, size: number) => [...text].length * size * CHAR_EM;

/** Renders the plans on `host` as a standalone SVG document (UTF-8 text, no XML declaration needed). */
export function renderPlacementSvg(host: HostTopology, plans: readonly PlacementPlan[], opts: PlacementSvgOptions = {}): string {
  const model = buildModel(host, plans, opts);
  return serialize(draw(model));
}

// ---------------------------------------------------------------------------
// Model: what every CPU shows.

type RoleKind = "vcpu" | "idle" | "emu" | "io";
interface Role {
  guest: number;
  kind: RoleKind;
  /** vCPU or iothread number. */
  n: number;
}

interface CellView {
  cpu: number;
  fill: string;
  /** Pattern id for hatched (idle sibling) cells. */
  hatch: number | null;
  offline: boolean;
  conflict: boolean;
  main: string;
  extra: string;
  /** Tooltip: the full, untruncated description. */
  tip: string;
  /** Main label is a guest's (drawn bold). */
  strong: boolean;
  /** Colour of an observed vCPU's dashed outline; null for none. */
  observed: string | null;
  /** A guest owns the main label; iso, foreign and keep: see svg-host-extras' HostCellView. */
  owned: boolean;
  iso: boolean;
  foreign: boolean;
  keep: string;
}

interface Item {
  kind: "core" | "offline";
  cpus: number[];
}

interface Group {
  node: TopologyNode | null;
  heading: string;
  info: string[];
  /** The observed guests' memory on this node, then the devices on it. */
  obs: ObservedNodeLine[];
  items: Item[];
}

interface Model {
  title: string;
  subtitle: string;
  desc: string;
  groups: Group[];
  cells: Map<number, CellView>;
  smt: number;
  guests: { name: string; colour: string; headline: string; detail: string; observed: ObservedLegendLine[] }[];
  keys: { kind: "free" | "hk" | "idle" | "offline" | "conflict" | "observed"; label: string }[];
  warnings: string[];
  hatches: { id: number; colour: string }[];
  /** Node header height: room for the info lines and the most observed lines of any node. */
  headerH: number;
  /** The observed layer's style rules are needed. */
  observed: boolean;
  host: HostLayer | null;
}

const colourOf = (g: number) => GUEST_PALETTE[g % GUEST_PALETTE.length];

function buildModel(host: HostTopology, plans: readonly PlacementPlan[], opts: PlacementSvgOptions): Model {
  const ix = indexTopology(host);
  const hk = new Set(opts.housekeepingCpus ?? []);
  const names = plans.map((p) => p.name);
  const nodeIds = new Set(host.nodes.map((n) => n.id));
  const warnings: string[] = [];

  // Roles per CPU, in plan order, then vCPUs, idle siblings, emulator, iothreads.
  const roles = new Map<number, Role[]>();
  const add = (cpu: number, r: Role) => {
    const list = roles.get(cpu);
    if (list) list.push(r);
    else roles.set(cpu, [r]);
  };
  plans.forEach((p, g) => {
    p.vcpuPins.forEach((cpu, n) => add(cpu, { guest: g, kind: "vcpu", n }));
    for (const cpu of p.idleSiblings) add(cpu, { guest: g, kind: "idle", n: 0 });
    for (const cpu of p.emulatorCpus) add(cpu, { guest: g, kind: "emu", n: 0 });
    for (const io of p.iothreadPins) for (const cpu of io.cpus) add(cpu, { guest: g, kind: "io", n: io.iothread });
  });
  const reservedBy = new Map<number, number[]>();
  plans.forEach((p, g) => {
    for (const cpu of new Set(p.reservedCpus)) reservedBy.set(cpu, [...(reservedBy.get(cpu) ?? []), g]);
  });

  const extras = buildHostLayer(host, plans, opts.devices, { cpus: cpusText, list: cpuList, fit });
  const cells = new Map<number, CellView>();
  for (const cpu of host.cpus) {
    const hc = extras?.cells.get(cpu.id);
    const view = cellView(cpu, roles.get(cpu.id) ?? [], hk.has(cpu.id), names, reservedBy.get(cpu.id) ?? [], warnings, hc);
    if (hc) applyHostCell(view, hc);
    cells.set(cpu.id, view);
  }
  warnings.push(...(extras?.warnings ?? []));
  const layer: ObservedLayer | null = buildObservedLayer(host, plans, opts.observed, { mem, cpus: cpusText, fit });
  for (const [cpu, o] of layer?.cells ?? []) {
    const view = cells.get(cpu);
    if (!view) continue;
    view.tip = [view.tip, ...o.notes].join("\n");
    if (o.outline !== null) view.observed = colourOf(o.outline);
  }
  const missing = [...roles.keys()].filter((c) => !ix.cpuById.has(c)).sort((a, b) => a - b);
  for (const c of missing) warnings.push(`CPU ${c} is not on this host but is pinned: ${describeRoles(roles.get(c)!, names).join(", ")}`);
  const missingHk = [...hk].filter((c) => !ix.cpuById.has(c)).sort((a, b) => a - b);
  if (missingHk.length) warnings.push(`housekeeping ${missingHk.length === 1 ? "CPU" : "CPUs"} ${cpuList(missingHk)} not on this host`);

  // Groups: one per host node, then CPUs without a (known) node.
  const smt = Math.max(1, ix.smt);
  const placed = new Set<number>();
  const chunk = (ids: number[]): Item[] => {
    const out: Item[] = [];
    for (let i = 0; i < ids.length; i += smt) out.push({ kind: "offline", cpus: ids.slice(i, i + smt) });
    return out;
  };
  const usedPages = new Map<string, number>();
  const guestMiB = new Map<number, number>();
  for (const p of plans) {
    for (const h of p.hugepages) usedPages.set(`${h.node}/${h.sizeKiB}`, (usedPages.get(`${h.node}/${h.sizeKiB}`) ?? 0) + h.pages);
    for (const c of p.cells) guestMiB.set(c.hostNode, (guestMiB.get(c.hostNode) ?? 0) + c.memoryMiB);
  }
  const groups: Group[] = [...host.nodes]
    .sort((a, b) => a.id - b.id)
    .map((node) => {
      const cores = (ix.coresByNode.get(node.id) ?? []).map((c): Item => ({ kind: "core", cpus: [...c.cpus] }));
      const offline = host.cpus.filter((c) => !c.online && c.node === node.id).map((c) => c.id);
      const items = [...cores, ...chunk(offline)];
      for (const it of items) for (const c of it.cpus) placed.add(c);
      return { node, heading: `node ${node.id}`, info: nodeInfo(node, usedPages, guestMiB.get(node.id) ?? 0, warnings), obs: [...(layer?.nodes.get(node.id) ?? []), ...(extras?.nodes.get(node.id) ?? []).map((text) => ({ text, offPlan: false }))], items };
    });
  const loose = host.cpus.filter((c) => !placed.has(c.id));
  if (loose.length > 0) {
    const items = [...loose.filter((c) => c.online).map((c): Item => ({ kind: "core", cpus: [c.id] })), ...chunk(loose.filter((c) => !c.online).map((c) => c.id))];
    groups.push({ node: null, heading: "no NUMA node", info: [`${loose.length} ${loose.length === 1 ? "CPU" : "CPUs"} the host maps to no known node`], obs: [], items });
  }
  plans.forEach((p) => {
    const far = [...new Set([...p.nodeset, ...p.cells.map((c) => c.hostNode), ...p.hugepages.map((h) => h.node)])].filter((n) => !nodeIds.has(n)).sort((a, b) => a - b);
    if (far.length) warnings.push(`${p.name}: uses ${far.length === 1 ? "node" : "nodes"} ${cpuList(far)}, not on this host`);
  });

  const guests = plans.map((p, g) => {
    const pages = p.hugepageSizeKiB === null ? "normal pages" : `${sizeLabel(p.hugepageSizeKiB)} pages`;
    const headline = `${p.vcpuPins.length} ${p.vcpuPins.length === 1 ? "vCPU" : "vCPUs"} · ${mem(p.memoryMiB)} on ${pages} · nodeset ${cpuList(p.nodeset)} (${p.numaMode})`;
    const vset = [...new Set(p.vcpuPins)].sort((a, b) => a - b);
    const parts = [`vCPUs on ${cpusText(vset)}`];
    if (p.idleSiblings.length) parts.push(`siblings kept idle: ${cpusText(p.idleSiblings)}`);
    const shares = sameSet(p.emulatorCpus, vset);
    if (p.emulatorCpus.length) parts.push(`emu on ${shares ? "the vCPU CPUs" : cpusText(p.emulatorCpus)}`);
    parts.push(...iothreadText(p, vset));
    if (p.cells.length > 1) parts.push(`cells ${p.cells.map((c) => `${c.id}→node ${c.hostNode} (${mem(c.memoryMiB)})`).join(", ")}`);
    return { name: p.name, colour: colourOf(g), headline, detail: parts.join(" · "), observed: layer?.guests.get(g) ?? [] };
  });

  const views = [...cells.values()];
  const keys: Model["keys"] = [{ kind: "free", label: "free" }];
  if (views.some((v) => v.main === "hk" || (v.foreign && hk.has(v.cpu)))) keys.push({ kind: "hk", label: "hk housekeeping" });
  if (views.some((v) => v.hatch !== null)) keys.push({ kind: "idle", label: "idle sibling (hatched in the guest's colour)" });
  if (views.some((v) => v.offline)) keys.push({ kind: "offline", label: "offline" });
  if (views.some((v) => v.conflict)) keys.push({ kind: "conflict", label: "conflict (see warnings)" });
  if (views.some((v) => v.observed !== null)) keys.push({ kind: "observed", label: "vCPU observed here, planned elsewhere (dashed, guest's colour)" });

  const hatchIds = [...new Set(views.filter((v) => v.hatch !== null).map((v) => v.hatch!))].sort((a, b) => a - b);
  const title = opts.title ?? `Guest placement on ${hostLabel(host)}`;
  const online = host.cpus.filter((c) => c.online).length;
  const off = host.cpus.length - online;
  const subtitle = [
    hostLabel(host),
    `${host.nodes.length} NUMA ${host.nodes.length === 1 ? "node" : "nodes"}`,
    `${host.cpus.length} CPUs${off ? ` (${off} offline)` : ""}`,
    `${smt} ${smt === 1 ? "thread" : "threads"} per core`,
    `${plans.length} ${plans.length === 1 ? "guest" : "guests"}`,
  ].join(" · ");
  const desc = [
    `${subtitle}.`,
    ...plans.map((p, g) => `${p.name}: ${guests[g].headline}; ${guests[g].detail}.${layer?.desc.has(g) ? ` ${layer.desc.get(g)}` : ""}`),
    hk.size ? `Housekeeping CPUs ${cpuList([...hk])}.` : "",
    ...(extras?.desc ?? []),
    ...warnings.slice(0, MAX_WARNINGS).map((w) => `Warning: ${w}.`),
    warnings.length > MAX_WARNINGS ? `${warnings.length - MAX_WARNINGS} more warnings.` : "",
  ]
    .filter((s) => s !== "")
    .join(" ");
  const obsRows = Math.max(0, ...groups.map((g) => g.obs.length));
  const headerH = NODE_HEADER_H + obsRows * (FS.nodeInfo + 4);
  const hatches = hatchIds.map((id) => ({ id, colour: GUEST_PALETTE[id] }));
  return { title, subtitle, desc, groups, cells, smt, guests, keys, warnings, hatches, headerH, observed: layer !== null, host: extras };
}

function cellView(cpu: TopologyCpu, roles: Role[], hk: boolean, names: readonly string[], reservedBy: number[], warnings: string[], hc?: HostCell): CellView {
  const vcpus = roles.filter((r) => r.kind === "vcpu");
  const idle = roles.find((r) => r.kind === "idle");
  const service = roles.find((r) => r.kind === "emu" || r.kind === "io");
  const owner = vcpus[0]?.guest ?? idle?.guest ?? (hk ? undefined : service?.guest);
  const label = describeRoles(roles, names);
  const conflicts: string[] = [];
  const claimants = [...new Set([...vcpus.map((r) => r.guest), ...roles.filter((r) => r.kind === "idle").map((r) => r.guest), ...reservedBy])];
  if (vcpus.length > 1 || claimants.length > 1) conflicts.push(`CPU ${cpu.id} is claimed ${vcpus.length > 1 ? `by ${vcpus.length} vCPUs` : "more than once"}: ${label.join(", ")}`);
  if (hk && vcpus.length) conflicts.push(`CPU ${cpu.id} is a housekeeping CPU but runs ${vcpus.map((r) => `${names[r.guest]} v${r.n}`).join(", ")}`);
  if (!cpu.online && roles.length) conflicts.push(`CPU ${cpu.id} is offline but pinned: ${label.join(", ")}`);
  warnings.push(...conflicts);

  let fill = FREE_FILL;
  let hatch: number | null = null;
  let main = "";
  let strong = false;
  const shown = new Set<Role>();
  if (owner !== undefined && vcpus.length) {
    fill = colourOf(owner);
    main = vcpuLabel(names[owner], vcpus[0].n);
    strong = true;
    shown.add(vcpus[0]);
  } else if (owner !== undefined && idle) {
    hatch = owner % GUEST_PALETTE.length;
    main = "idle";
    shown.add(idle);
  } else if (owner !== undefined) {
    fill = colourOf(owner);
    const own = roles.filter((r) => r.guest === owner);
    main = tags(own);
    own.forEach((r) => shown.add(r));
  } else if (hk) {
    fill = HK_FILL;
    main = "hk";
  } else if (!cpu.online) {
    fill = OFFLINE_FILL;
    main = "offline";
  }

  // Extra line: the rest, the owner's first (without its name when the main label has it).
  const extras: string[] = [];
  if (owner !== undefined) {
    const rest = roles.filter((r) => r.guest === owner && !shown.has(r));
    if (vcpus.length) {
      if (rest.length) extras.push(`+${tags(rest)}`);
    } else {
      extras.push(rest.length ? `${names[owner]} +${tags(rest)}` : names[owner]);
    }
  }
  const guestsLeft = [...new Set(roles.filter((r) => r.guest !== owner).map((r) => r.guest))];
  for (const g of guestsLeft) extras.push(`${names[g]}: ${tags(roles.filter((r) => r.guest === g))}`);
  if (hk && main !== "hk") extras.push("hk");
  if (!cpu.online && main !== "offline") extras.push("offline");

  const state = [...label];
  if (hk) state.push("housekeeping");
  if (!cpu.online) state.push("offline");
  state.push(...(hc?.taken ?? []));
  if (state.length === 0) state.push("free");
  state.push(...(hc?.notes ?? []));
  const where = cpu.node === null ? "no NUMA node" : `node ${cpu.node}`;
  const sib = cpu.siblings.length > 1 ? `, core with CPUs ${cpuList(cpu.siblings)}` : "";
  return {
    cpu: cpu.id,
    fill,
    hatch,
    offline: !cpu.online,
    conflict: conflicts.length > 0,
    main,
    extra: extras.join("; "),
    tip: `CPU ${cpu.id} (${where}${sib}): ${state.join(", ")}`,
    strong,
    observed: null,
    owned: owner !== undefined,
    iso: false,
    foreign: false,
    keep: "",
  };
}

const vcpuLabel = (name: string, n: number) => `${name} v${n}`;

/** Short tags for one guest's roles on a CPU: "v1 v3 idle emu io1 io2" (many iothreads as "io1-8"). */
function tags(roles: readonly Role[]): string {
  const out: string[] = [];
  for (const r of roles) if (r.kind === "vcpu") out.push(`v${r.n}`);
  if (roles.some((r) => r.kind === "idle")) out.push("idle");
  if (roles.some((r) => r.kind === "emu")) out.push("emu");
  const ios = [...new Set(roles.filter((r) => r.kind === "io").map((r) => r.n))].sort((a, b) => a - b);
  if (ios.length > 0 && ios.length <= 2) out.push(...ios.map((n) => `io${n}`));
  else if (ios.length > 2) out.push(`io${cpuList(ios)}`);
  return out.join(" ");
}

/** Long form of every role, for tooltips and warnings. */
function describeRoles(roles: readonly Role[], names: readonly string[]): string[] {
  return roles.map((r) => {
    const g = names[r.guest];
    return r.kind === "vcpu" ? `${g} vCPU ${r.n}` : r.kind === "idle" ? `${g} idle sibling` : r.kind === "emu" ? `${g} emulator` : `${g} iothread ${r.n}`;
  });
}

function nodeInfo(node: TopologyNode, usedPages: Map<string, number>, guestMiB: number, warnings: string[]): string[] {
  const memLine = `${mem(node.memTotalMiB)} RAM · guests ${guestMiB ? mem(guestMiB) : "none"}`;
  const sizes = [...new Set([...node.hugepages.map((p) => p.sizeKiB), ...[...usedPages.keys()].filter((k) => k.startsWith(`${node.id}/`)).map((k) => Number(k.split("/")[1]))])].sort((a, b) => b - a);
  const pools: string[] = [];
  for (const size of sizes) {
    const total = node.hugepages.find((p) => p.sizeKiB === size)?.total ?? 0;
    const used = usedPages.get(`${node.id}/${size}`) ?? 0;
    if (total === 0 && used === 0) continue;
    pools.push(`${sizeLabel(size)} ${used}/${total}${used > total ? "!" : ""} used`);
    if (used > total) warnings.push(`node ${node.id}: guests take ${used} ${sizeLabel(size)} hugepages, the pool has ${total}`);
  }
  return [memLine, pools.length ? `hugepages ${pools.join(" · ")}` : "no hugepage pools"];
}

function iothreadText(p: PlacementPlan, vset: readonly number[]): string[] {
  if (p.iothreadPins.length === 0) return [];
  const ids = p.iothreadPins.map((io) => io.iothread);
  const first = p.iothreadPins[0].cpus;
  const where = (cpus: readonly number[]) => (sameSet(cpus, vset) ? "the vCPU CPUs" : sameSet(cpus, p.emulatorCpus) ? "the emulator CPUs" : cpusText(cpus));
  if (p.iothreadPins.every((io) => sameSet(io.cpus, first))) return [`io${cpuList(ids)} on ${where(first)}`];
  return p.iothreadPins.map((io) => `io${io.iothread} on ${where(io.cpus)}`);
}

const sameSet = (a: readonly number[], b: readonly number[]) => {
  const sa = new Set(a);
  const sb = new Set(b);
  return sa.size === sb.size && [...sa].every((x) => sb.has(x));
};

/** "1-3,9" without throwing on odd input (plans are data; any number is shown as is). */
function cpuList(ids: readonly number[]): string {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && Number.isInteger(sorted[j]) && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(j > i ? `${sorted[i]}-${sorted[j]}` : `${sorted[i]}`);
    i = j + 1;
  }
  return parts.join(",");
}

const cpusText = (ids: readonly number[]) => `${new Set(ids).size === 1 ? "CPU" : "CPUs"} ${cpuList(ids)}`;

/** "8 GiB", "1500 MiB", "125.8 GiB". */
function mem(mib: number): string {
  if (mib >= 1024 && mib % 1024 === 0) return `${mib / 1024} GiB`;
  if (mib < 10240) return `${mib} MiB`;
  return `${(mib / 1024).toFixed(1)} GiB`;
}

/** Splits text into lines of at most `max` characters: at " · ", else after a comma or at a space, else anywhere. */
function wrap(text: string, max: number): string[] {
  const width = Math.max(16, max);
  const lines: string[] = [];
  let rest = [...text];
  while (rest.length > width) {
    const low = Math.floor(width / 3);
    let cut = -1;
    let next = -1;
    for (let i = width - 2; i >= low && cut < 0; i--) if (rest[i] === " " && rest[i + 1] === "·" && rest[i + 2] === " ") [cut, next] = [i, i + 3];
    for (let i = width - 1; i >= low && cut < 0; i--) {
      if (rest[i] === ",") [cut, next] = [i + 1, i + 1];
      else if (rest[i] === " ") [cut, next] = [i, i + 1];
    }
    if (cut < 0) [cut, next] = [width, width];
    lines.push(rest.slice(0, cut).join("").trimEnd());
    rest = rest.slice(next);
    while (rest[0] === " ") rest.shift();
  }
  if (rest.length > 0 || lines.length === 0) lines.push(rest.join(""));
  return lines;
}

/** Shortens text to at most `max` characters with a trailing "…". */
function fit(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, Math.max(1, max - 1)).join("")}…`;
}

// ---------------------------------------------------------------------------
// Drawing.

function draw(m: Model): XmlElement {
  // Cell width from the longest labels, within bounds; longer labels are shortened (tooltips keep them whole).
  const views = [...m.cells.values()];
  const want = Math.max(
    CELL_MIN_W,
    ...views.map((v) => Math.max(textW(v.main, FS.main), textW(v.extra, FS.extra), textW(`CPU ${v.cpu}`, FS.cpu)) + 2 * CELL_PAD),
  );
  const cellW = Math.ceil(Math.min(CELL_MAX_W, want));
  const mainMax = Math.floor((cellW - 2 * CELL_PAD) / (FS.main * CHAR_EM));
  const extraMax = Math.floor((cellW - 2 * CELL_PAD) / (FS.extra * CHAR_EM));
  const coreW = cellW + 2 * CORE_PAD;
  const coreH = m.smt * CELL_H + (m.smt - 1) * CELL_GAP + 2 * CORE_PAD;

  const maxItems = Math.max(1, ...m.groups.map((g) => g.items.length));
  const cols = Math.min(MAX_CORE_COLS, maxItems);
  const gridW = cols * coreW + (cols - 1) * CORE_GAP;
  const headW = Math.max(0, ...m.groups.map((g) => Math.max(textW(g.heading, FS.nodeHead), ...[...g.info, ...g.obs.map((o) => o.text)].map((s) => textW(s, FS.nodeInfo)))));
  const nodeW = Math.ceil(Math.max(gridW, headW) + 2 * NODE_PAD);
  const groupH = (g: Group) => {
    const rows = Math.max(1, Math.ceil(g.items.length / cols));
    return m.headerH + rows * coreH + (rows - 1) * CORE_GAP + NODE_PAD;
  };
  // Node boxes on a grid: as many columns as fit MAX_NODES_W, rows balanced; each row as tall as its tallest node.
  const fitCols = Math.max(1, Math.floor((MAX_NODES_W + NODE_GAP) / (nodeW + NODE_GAP)));
  const nodeRows = Math.ceil(m.groups.length / Math.min(fitCols, Math.max(1, m.groups.length)));
  const nodeCols = Math.max(1, Math.ceil(m.groups.length / Math.max(1, nodeRows)));
  const rowH = Array.from({ length: nodeRows }, (_, r) => Math.max(...m.groups.slice(r * nodeCols, (r + 1) * nodeCols).map(groupH)));
  const rowTop = rowH.map((_, r) => rowH.slice(0, r).reduce((s, h) => s + h + NODE_GAP, 0));
  const nodesW = nodeCols * nodeW + (nodeCols - 1) * NODE_GAP;
  const nodesH = rowH.reduce((s, h) => s + h, 0) + Math.max(0, nodeRows - 1) * NODE_GAP;

  const body: XmlElement[] = [];
  let y = MARGIN;
  body.push(text(MARGIN, y + FS.title, m.title, "title"));
  body.push(text(MARGIN, y + FS.title + 6 + FS.sub + 2, m.subtitle, "sub"));
  y += 48;

  // Nodes.
  const nodesTop = y;
  m.groups.forEach((g, i) => {
    const nx = MARGIN + (i % nodeCols) * (nodeW + NODE_GAP);
    const row = Math.floor(i / nodeCols);
    body.push(drawGroup(g, nx, nodesTop + rowTop[row], nodeW, rowH[row], { cols, coreW, coreH, cellW, mainMax, extraMax }, m));
  });
  y = nodesTop + nodesH + 24;

  // Legend: guests, key, warnings.
  const legend: XmlElement[] = [];
  let legendW = 0;
  legend.push(text(MARGIN, y + FS.guest, m.guests.length ? "Guests" : "Guests: none", "h"));
  y += FS.guest + 10;
  const wrapW = Math.max(nodesW, 640);
  for (const [gi, g] of m.guests.entries()) {
    const nameW = textW(g.name, FS.guest);
    const perLine = Math.floor((wrapW - 22) / (FS.detail * CHAR_EM));
    // Detail lines, then the observed ones (continuations indented).
    const lines = [
      ...wrap(g.detail, perLine).map((t) => ({ t, dx: 0, cls: "gdetail" })),
      ...g.observed.flatMap((o) => wrap(o.text, perLine - 2).map((t, i) => ({ t, dx: i ? 12 : 0, cls: `gdetail ${o.kind === "ok" ? "gobs" : "gdrift"}` }))),
    ];
    legend.push(
      el(
        "g",
        { class: "guest", "data-guest": gi },
        el("rect", { x: MARGIN, y: y + 1, width: 14, height: 14, rx: 2, fill: g.colour, stroke: MUTED }),
        text(MARGIN + 22, y + FS.guest, g.name, "gname"),
        text(MARGIN + 22 + nameW + 12, y + FS.guest, g.headline, "ghead"),
        lines.map((line, i) => text(MARGIN + 22 + line.dx, y + FS.guest + 6 + (i + 1) * (FS.detail + 4) - 2, line.t, line.cls)),
      ),
    );
    legendW = Math.max(legendW, 22 + nameW + 12 + textW(g.headline, FS.guest), ...lines.map((line) => 22 + line.dx + textW(line.t, FS.detail)));
    y += FS.guest + 10 + lines.length * (FS.detail + 4) + 6;
  }
  if (m.host) {
    const block = drawHostLegend(m.host, MARGIN, y, wrapW, { wrap, textW, head: FS.guest, key: FS.key });
    legend.push(...block.els);
    [y, legendW] = [block.y, Math.max(legendW, block.w)];
  }
  y += 6;
  let kx = MARGIN;
  const keyRowW = Math.max(nodesW, legendW, 400);
  for (const k of m.keys) {
    const w = 20 + 8 + textW(k.label, FS.key) + 22;
    if (kx > MARGIN && kx - MARGIN + w > keyRowW) {
      kx = MARGIN;
      y += 24;
    }
    legend.push(el("g", { class: "key" }, keySwatch(k.kind, kx, y), text(kx + 28, y + 12, k.label, "key")));
    legendW = Math.max(legendW, kx - MARGIN + w - 22);
    kx += w;
  }
  y += 24;
  if (m.warnings.length) {
    y += 6;
    legend.push(text(MARGIN, y + FS.guest, `Warnings (${m.warnings.length})`, "warnh"));
    y += FS.guest + 6;
    const shown = m.warnings.length > MAX_WARNINGS ? [...m.warnings.slice(0, MAX_WARNINGS - 1), `… and ${m.warnings.length - MAX_WARNINGS + 1} more (every cell's tooltip has the details)`] : m.warnings;
    for (const w of shown) {
      wrap(`• ${w}`, Math.floor(wrapW / (FS.detail * CHAR_EM))).forEach((line, i) => {
        legend.push(text(MARGIN + (i ? 12 : 0), y + FS.detail + 2, line, "warn"));
        legendW = Math.max(legendW, (i ? 12 : 0) + textW(line, FS.detail));
        y += 15;
      });
    }
  }
  body.push(el("g", { class: "legend" }, legend));
  const height = Math.ceil(y + MARGIN);
  const width = Math.ceil(2 * MARGIN + Math.max(nodesW, legendW, textW(m.title, FS.title), textW(m.subtitle, FS.sub)));

  const style = [
    `text{font-family:${FONT};fill:${INK}}`,
    `.title{font-size:${FS.title}px;font-weight:bold}`,
    `.sub{font-size:${FS.sub}px;fill:${MUTED}}`,
    `.nh{font-size:${FS.nodeHead}px;font-weight:bold}`,
    `.ni{font-size:${FS.nodeInfo}px;fill:#333333}`,
    `.cpu{font-size:${FS.cpu}px;fill:#333333}`,
    `.main{font-size:${FS.main}px;text-anchor:middle}`,
    `.strong{font-weight:bold}`,
    `.extra{font-size:${FS.extra}px;text-anchor:middle;fill:#222222}`,
    `.halo{paint-order:stroke;stroke:#FFFFFF;stroke-width:4px;stroke-linejoin:round}`,
    `.off{fill:#666666}`,
    `.h{font-size:${FS.guest}px;font-weight:bold}`,
    `.gname{font-size:${FS.guest}px;font-weight:bold}`,
    `.ghead{font-size:${FS.guest}px}`,
    `.gdetail{font-size:${FS.detail}px;fill:#333333}`,
    `.key{font-size:${FS.key}px}`,
    `.warnh{font-size:${FS.guest}px;font-weight:bold;fill:${CONFLICT}}`,
    `.warn{font-size:${FS.detail}px;fill:${CONFLICT}}`,
    ...(m.observed ? observedStyle(CONFLICT) : []),
    ...(m.host ? hostStyle() : []),
  ].join("\n");

  const defs = el(
    "defs",
    {},
    el("style", { type: "text/css" }, style),
    m.hatches.map((h) => hatchPattern(`${ID}-hatch-${h.id}`, h.colour)),
    m.keys.some((k) => k.kind === "idle") ? hatchPattern(`${ID}-hatch-key`, "#888888") : null,
    m.host ? hostDefs(m.host) : null,
  );
  return el(
    "svg",
    {
      xmlns: "http://www.w3.org/2000/svg",
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      "aria-labelledby": `${ID}-title ${ID}-desc`,
    },
    el("title", { id: `${ID}-title` }, m.title),
    el("desc", { id: `${ID}-desc` }, m.desc),
    defs,
    el("rect", { x: 0, y: 0, width, height, fill: "#FFFFFF" }),
    body,
  );
}

interface GridDims {
  cols: number;
  coreW: number;
  coreH: number;
  cellW: number;
  mainMax: number;
  extraMax: number;
}

function drawGroup(g: Group, x: number, y: number, w: number, h: number, d: GridDims, m: Model): XmlElement {
  const items = g.items.map((it, i) => {
    const cx = x + NODE_PAD + (i % d.cols) * (d.coreW + CORE_GAP);
    const cy = y + m.headerH + Math.floor(i / d.cols) * (d.coreH + CORE_GAP);
    const box =
      it.kind === "core"
        ? el("rect", { x: cx, y: cy, width: d.coreW, height: d.coreH, rx: 3, fill: "#E4E4E4", stroke: "#8A8A8A" })
        : el("rect", { x: cx, y: cy, width: d.coreW, height: d.coreH, rx: 3, fill: "none", stroke: "#8A8A8A", "stroke-dasharray": "4 3" });
    return el(
      "g",
      { class: it.kind, "data-cpus": it.cpus.join(",") },
      box,
      it.cpus.map((cpu, t) => drawCell(m.cells.get(cpu)!, cx + CORE_PAD, cy + CORE_PAD + t * (CELL_H + CELL_GAP), d)),
    );
  });
  return el(
    "g",
    { class: "node", "data-node": g.node ? g.node.id : "none" },
    el("rect", { x, y, width: w, height: h, rx: 6, fill: "#F7F7F7", stroke: "#666666", "stroke-width": 1.5 }),
    text(x + NODE_PAD, y + 8 + FS.nodeHead, g.heading, "nh"),
    g.info.map((s, i) => text(x + NODE_PAD, y + 8 + FS.nodeHead + 6 + (i + 1) * (FS.nodeInfo + 4) - 2, s, "ni")),
    g.obs.map((o, i) => text(x + NODE_PAD, y + 8 + FS.nodeHead + 6 + (g.info.length + i + 1) * (FS.nodeInfo + 4) - 2, o.text, o.offPlan ? "ni obsoff" : "ni")),
    items.length ? items : text(x + NODE_PAD, y + m.headerH + FS.nodeInfo, "no online CPUs", "ni"),
  );
}

function drawCell(v: CellView, x: number, y: number, d: GridDims): XmlElement {
  const w = d.cellW;
  const fill = v.hatch !== null ? `url(#${ID}-hatch-${v.hatch})` : v.fill;
  const keep = v.strong ? v.main.slice(v.main.lastIndexOf(" v")) : v.keep;
  const main = keep && [...v.main].length > d.mainMax ? shortenKeeping(v.main, keep, d.mainMax) : fit(v.main, d.mainMax);
  const halo = v.hatch !== null || v.foreign ? " halo" : "";
  return el(
    "g",
    { class: "thread", "data-cpu": v.cpu },
    el("title", {}, v.tip),
    el("rect", {
      x,
      y,
      width: w,
      height: CELL_H,
      rx: 2,
      fill,
      stroke: v.conflict ? CONFLICT : "#6E6E6E",
      "stroke-width": v.conflict ? 2.5 : 1,
    }),
    v.offline
      ? [
          el("line", { x1: x, y1: y, x2: x + w, y2: y + CELL_H, stroke: OFFLINE_LINE, "stroke-width": 1.2 }),
          el("line", { x1: x, y1: y + CELL_H, x2: x + w, y2: y, stroke: OFFLINE_LINE, "stroke-width": 1.2 }),
        ]
      : null,
    v.observed ? observedOutline(x, y, w, CELL_H, v.observed, INK) : null,
    v.iso ? isoMarker(x, y, w, CELL_H) : null,
    text(x + 4, y + 11, `CPU ${v.cpu}`, `cpu${halo}`),
    v.main ? text(x + w / 2, y + 27, main, `main${v.strong ? " strong" : ""}${v.offline ? " off halo" : halo}`) : null,
    v.extra ? text(x + w / 2, y + 39, fit(v.extra, d.extraMax), `extra${halo}`) : null,
  );
}

/** "<name> v<n>" (or "<name> emu/io") shortened in the name, keeping the suffix. */
function shortenKeeping(label: string, suffix: string, max: number): string {
  const name = label.slice(0, label.length - suffix.length);
  return `${fit(name, Math.max(2, max - [...suffix].length))}${suffix}`;
}

function keySwatch(kind: Model["keys"][number]["kind"], x: number, y: number): XmlElement {
  const box = { x, y, width: 20, height: 16, rx: 2 };
  switch (kind) {
    case "free":
      return el("rect", { ...box, fill: FREE_FILL, stroke: "#6E6E6E" });
    case "hk":
      return el("rect", { ...box, fill: HK_FILL, stroke: "#6E6E6E" });
    case "idle":
      return el("rect", { ...box, fill: `url(#${ID}-hatch-key)`, stroke: "#6E6E6E" });
    case "offline":
      return el(
        "g",
        {},
        el("rect", { ...box, fill: OFFLINE_FILL, stroke: "#6E6E6E" }),
        el("line", { x1: x, y1: y, x2: x + 20, y2: y + 16, stroke: OFFLINE_LINE, "stroke-width": 1.2 }),
        el("line", { x1: x, y1: y + 16, x2: x + 20, y2: y, stroke: OFFLINE_LINE, "stroke-width": 1.2 }),
      );
    case "conflict":
      return el("rect", { ...box, fill: FREE_FILL, stroke: CONFLICT, "stroke-width": 2.5 });
    case "observed":
      return el("g", {}, el("rect", { ...box, fill: FREE_FILL, stroke: "#6E6E6E" }), observedOutline(x, y, 20, 16, "#888888", INK));
  }
}

function hatchPattern(id: string, colour: string): XmlElement {
  return el(
    "pattern",
    { id, patternUnits: "userSpaceOnUse", width: 6, height: 6, patternTransform: "rotate(45)" },
    el("rect", { x: 0, y: 0, width: 6, height: 6, fill: "#FFFFFF" }),
    el("rect", { x: 0, y: 0, width: 2, height: 6, fill: colour }),
  );
}

const text = (x: number, y: number, content: string, cls: string) => el("text", { x, y, class: cls }, content);
