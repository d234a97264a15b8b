/**
 * What tuned's active profile sets at boot, modelled on tuned 2.20's loader
 * (tuned/profiles/loader.py, merger.py, unit.py): profiles are looked up in
 * /etc/tuned before /usr/lib/tuned, `include=` parents load first (a file
 * already loaded is skipped, so an /etc profile may include the /usr/lib one
 * of the same name), units (sections) merge by name with later options winning.
 * Only the plugins and options that touch kvmtune's settings are kept.
 */
import type { BootConfFile, TunedSources } from "./facts-boot";
import { TUNED_PROFILE_DIRS } from "./facts-boot";

/** One option value and the profile file it came from. */
export interface TunedOption {
  value: string;
  profile: string;
  path: string;
}

/** A plugin instance that tunes devices (disk, net): its `devices` rules and options. */
export interface TunedDeviceUnit {
  devices: string;
  options: Map<string, TunedOption>;
}

/** The merged profile, reduced to what kvmtune also sets. Units with uname_regex/cpuinfo_regex are left out (conditional). */
export interface TunedProfile {
  /** [sysctl] options by key as written. */
  sysctl: Map<string, TunedOption>;
  /** Some [sysctl] unit applies: with reapply_sysctl, tuned then re-applies /run and /etc sysctl files. */
  hasSysctl: boolean;
  /** [vm] options (transparent_hugepages, its alias transparent_hugepage, transparent_hugepage.defrag). */
  vm: Map<string, TunedOption>;
  /** [cpu] options (governor). */
  cpu: Map<string, TunedOption>;
  /** [disk] units in the order they claim devices. */
  disk: TunedDeviceUnit[];
  /** [net] units in the order they claim devices. */
  net: TunedDeviceUnit[];
}

interface Unit {
  type: string;
  enabled: boolean;
  replace: boolean;
  drop: string[] | null;
  devices: string;
  conditional: boolean;
  priority: number;
  options: Map<string, TunedOption>;
}

/** Options tuned takes for itself in every unit (unit.py). */
const RESERVED = new Set(["type", "enabled", "replace", "drop", "devices", "devices_udev_regex", "cpuinfo_regex", "uname_regex", "script_pre", "script_post", "priority"]);
const TRUE = ["True", "true", "1"];

/** ConfigParser as tuned sets it up: `=` only, `#`/`;` comment lines, ` #` inline comments, later duplicates win. */
function parseIni(lines: string[]): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const raw of lines) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[([^\]]+)\]/.exec(line);
    if (header) {
      current = sections.get(header[1]) ?? new Map();
      sections.set(header[1], current);
      continue;
    }
    const eq = line.indexOf("=");
    if (!current || eq <= 0) continue;
    current.set(line.slice(0, eq).trim(), line.slice(eq + 1).replace(/\s#.*$/, "").trim());
  }
  return sections;
}

function toUnit(name: string, opts: Map<string, string>, profile: string, path: string): Unit {
  const options = new Map<string, TunedOption>();
  for (const [k, v] of opts) if (!RESERVED.has(k)) options.set(k, { value: v, profile, path });
  const drop = opts.get("drop");
  return {
    type: opts.get("type") ?? name,
    enabled: TRUE.includes(opts.get("enabled") ?? "true"),
    replace: TRUE.includes(opts.get("replace") ?? "false"),
    drop: drop === undefined ? null : drop.split(/\b\s*[,;]\s*/),
    devices: opts.get("devices") ?? "*",
    conditional: opts.has("uname_regex") || opts.has("cpuinfo_regex"),
    priority: Number.parseInt(opts.get("priority") ?? "0", 10) || 0,
    options,
  };
}

/** merger.py's _merge_two: a newer unit replaces or updates the older one of the same name. */
function mergeUnits(into: Map<string, Unit>, newer: Map<string, Unit>): void {
  for (const [name, unit] of newer) {
    const old = into.get(name);
    if (!old || unit.replace) {
      into.set(name, unit);
      continue;
    }
    old.type = unit.type;
    old.enabled = unit.enabled;
    old.devices = unit.devices;
    old.conditional ||= unit.conditional;
    for (const option of unit.drop ?? []) old.options.delete(option);
    for (const [k, v] of unit.options) old.options.set(k, v);
  }
}

/** The files to load for `names`, parents first, as loader.py's _load_profile walks them. */
function profileChain(names: string[], files: Map<string, BootConfFile>, loaded: string[]): { profile: string; file: BootConfFile }[] {
  const out: { profile: string; file: BootConfFile }[] = [];
  for (const raw of names) {
    const name = raw.replace(/^-/, "");
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) continue;
    const path = TUNED_PROFILE_DIRS.map((d) => `${d}/${name}/tuned.conf`).find((p) => files.has(p) && !loaded.includes(p));
    if (path === undefined) continue;
    loaded.push(path);
    const file = files.get(path)!;
    const include = parseIni(file.lines).get("main")?.get("include");
    if (include) out.push(...profileChain(include.split(/\s*[,;]\s*/).filter((n) => n !== ""), files, loaded));
    out.push({ profile: name, file });
  }
  return out;
}

/** The profile tuned applies at boot; null when tuned is neither enabled nor running, or its profile is unknown. */
export function readTunedProfile(tuned: TunedSources | null): TunedProfile | null {
  if (!tuned || (!tuned.enabled && !tuned.running)) return null;
  const files = new Map(tuned.profileFiles.map((f) => [f.path, f]));
  const chain = profileChain(tuned.profiles, files, []);
  if (chain.length === 0) return null;
  const units = new Map<string, Unit>();
  for (const { profile, file } of chain) {
    const sections = parseIni(file.lines);
    sections.delete("main");
    sections.delete("variables");
    mergeUnits(units, new Map([...sections].map(([name, opts]) => [name, toUnit(name, opts, profile, file.path)])));
  }
  // manager.py: disabled and non-matching (conditional) units are skipped; the rest run in priority order.
  const active = [...units.values()].filter((u) => u.enabled && !u.conditional).sort((a, b) => a.priority - b.priority);
  const merged = (type: string) => {
    const all = new Map<string, TunedOption>();
    for (const u of active.filter((x) => x.type === type)) for (const [k, v] of u.options) all.set(k, v);
    return all;
  };
  const devices = (type: string) => active.filter((u) => u.type === type).map((u) => ({ devices: u.devices, options: u.options }));
  return { sysctl: merged("sysctl"), hasSysctl: active.some((u) => u.type === "sysctl"), vm: merged("vm"), cpu: merged("cpu"), disk: devices("disk"), net: devices("net") };
}

/** device_matcher.py: space/comma separated globs, `!` excludes; no positive rule means all. */
export function tunedDeviceMatch(rules: string, device: string, fnmatch: (glob: string, name: string) => boolean): boolean {
  const list = rules.split(/\s|,\s*/).filter((r) => r.trim() !== "");
  const positive = list.filter((r) => !r.startsWith("!"));
  const negative = list.filter((r) => r.startsWith("!")).map((r) => r.slice(1));
  return (positive.length ? positive : ["*"]).some((g) => fnmatch(g, device)) && !negative.some((g) => fnmatch(g, device));
}

/** The label warnings use for a tuned option's source. */
export function tunedSource(o: TunedOption): string {
  return `tuned profile ${o.profile} (${o.path})`;
}
