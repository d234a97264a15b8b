/**
 * Which other actors on a host override a kvmtune setting at boot. kvmtune
 * persists its values in its own files; whatever applies the same setting
 * later at boot wins, so after a reboot the host silently runs another value.
 * This planner reads the host's boot sources (facts.bootSources) and names,
 * per key, the later source that sets a different value. It never refuses:
 * the operator may own that other file on purpose (TunedHost warns at preview).
 *
 * Orders modelled: systemd-sysctl (files merged by name, /etc over /run over
 * /usr/lib, applied by name, last explicit assignment wins; glob keys never
 * beat an explicit key such as kvmtune's), udev rules (merged by name, applied
 * by name), udev .link files (the first matching file applies, when udev sets
 * the link up), systemd-networkd .network files (after udev, when networkd is
 * enabled) and tuned (after systemd-sysctl and udev; with reapply_sysctl it
 * re-applies /run and /etc sysctl files, then /etc/sysctl.conf, after its own).
 */
import { base, cmp, fold, globMatch, mergeByName, type Found } from "./boot-files";
import { planNetworkdMtu } from "./boot-networkd";
import { readTunedProfile, tunedDeviceMatch, tunedSource, type TunedOption, type TunedProfile } from "./boot-tuned";
import type { HostFacts } from "./facts";
import type { BootConfFile, BootSources } from "./facts-boot";
import { SYSCTL_DIRS, UDEV_RULES_DIRS } from "./facts-boot";
import { knobOrder } from "./knobs/catalogue";
import { persistencePaths } from "./knobs/persistence";

/** A kvmtune setting another actor sets differently, later at boot. */
export interface BootOverride {
  /** The kvmtune key, e.g. `sysctl:vm.swappiness`. */
  key: string;
  /** The block device or interface, when the key's device is a glob (`block:nvme*:scheduler`). */
  device?: string;
  /** Who sets it: a file path, or `tuned profile <name> (<path>)`. */
  source: string;
  /** The value as that source writes it (tuned's `>4096` included). */
  value: string;
  /** The value the host boots with. */
  effective: string;
  /** One line for the operator, naming key, source and both values. */
  message: string;
}

/** What of the host's facts the planner consults: device names for globs, what tuned would tune, the kernel command line. */
export type BootHost = Partial<Pick<HostFacts, "blockDevices" | "network" | "kernel">>;

/** A sysctl key the way systemd-sysctl compares keys: '/'-separated (`a.b/c` is `a/b.c`). */
export function sysctlSlashKey(key: string): string {
  const k = key.trim().replace(/^-/, "");
  const dot = k.indexOf(".");
  const slash = k.indexOf("/");
  return slash >= 0 && (dot < 0 || slash < dot) ? k : k.replace(/[./]/g, (c) => (c === "." ? "/" : "."));
}

/** The last explicit assignment of `slash` in `files` (glob keys do not override explicit ones in systemd-sysctl). */
function lastSysctl(files: BootConfFile[], slash: string): Found | undefined {
  let last: Found | undefined;
  for (const f of files) {
    for (const line of f.lines) {
      const t = line.trim();
      const eq = t.indexOf("=");
      if (t === "" || t.startsWith("#") || t.startsWith(";") || eq <= 0) continue;
      const key = t.slice(0, eq).trim();
      if (/[*?[]/.test(key) || sysctlSlashKey(key) !== slash) continue;
      const value = t.slice(eq + 1).trim();
      last = { source: f.path, value, effective: value };
    }
  }
  return last;
}

/** tuned's `>N` / `<N` modifiers (plugins/base.py): the value tuned writes over `current`, or undefined when it leaves it. `parse` gives numbers in kvmtune's unit. */
function tunedValue(raw: string, current: string, parse?: (v: string) => number): string | undefined {
  const op = raw.length > 1 ? raw[0] : "";
  if (op !== ">" && op !== "<") return parse && !Number.isNaN(parse(raw)) ? String(parse(raw)) : raw;
  const want = (parse ?? Number)(raw.slice(1));
  const now = (parse ?? Number)(current);
  if (Number.isNaN(want) || Number.isNaN(now)) return raw.slice(1);
  return (op === ">" ? want > now : want < now) ? String(want) : undefined;
}

function planSysctl(name: string, ours: string, tag: string, sources: BootSources, tuned: TunedProfile | null): Found | undefined {
  const ourPath = persistencePaths(tag).sysctl;
  const own: BootConfFile = { path: ourPath, lines: [`${name} = ${ours}`] };
  const slash = sysctlSlashKey(name);
  const others = sources.sysctl.filter((f) => f.path !== ourPath);
  const atBoot = lastSysctl(mergeByName([...others, own], SYSCTL_DIRS), slash)!;
  let final = atBoot;
  if (tuned?.hasSysctl) {
    const option = [...tuned.sysctl].find(([k]) => sysctlSlashKey(k) === slash)?.[1];
    if (option) {
      // plugin_sysctl.py unquotes "..." values.
      const v = tunedValue(option.value.replace(/^"(.*)"$/, "$1"), atBoot.value);
      if (v !== undefined) final = { source: tunedSource(option), value: option.value, effective: v };
    }
  }
  // With reapply_sysctl (the default) tuned re-applies /run and /etc sysctl files, /run first by name, then /etc/sysctl.conf.
  if (tuned?.hasSysctl && sources.tuned?.reapplySysctl) {
    const files = [...mergeByName([...others, own], ["/run/sysctl.d", "/etc/sysctl.d"]), { path: "/etc/sysctl.conf", lines: sources.sysctlConf }];
    const again = lastSysctl(files, slash)!;
    if (fold(again.value) !== fold(atBoot.value)) final = { ...again, note: again.source === "/etc/sysctl.conf" ? " (tuned re-applies it last)" : undefined };
    else final = atBoot;
  }
  return final.source === ourPath || fold(final.effective) === fold(ours) ? undefined : final;
}

/** udev rule tokens: KEY{attr}op"value". */
const TOKEN = /([A-Za-z_]+)(?:\{([^}]*)\})?\s*(==|!=|\+=|-=|:=|=)\s*"((?:[^"\\]|\\.)*)"/g;
/** udev patterns: globs, `|` between alternatives. */
const udevMatch = (pattern: string, name: string) => pattern.split("|").some((p) => globMatch(p, name));

/** The last later udev assignment of ATTR{attr} for `name` (a block device or interface). */
function planUdev(attr: string, subsystem: "block" | "net", name: string, ourBase: string, sources: BootSources): Found | undefined {
  let last: Found | undefined;
  for (const f of mergeByName(sources.udevRules, UDEV_RULES_DIRS).filter((x) => cmp(base(x.path), ourBase) > 0)) {
    for (const line of f.lines) {
      if (line.trim().startsWith("#")) continue;
      let matches = true;
      let value: string | undefined;
      for (const [, key, arg, op, v] of line.matchAll(TOKEN)) {
        const test = (subject: string) => (op === "==" ? udevMatch(v, subject) : op === "!=" ? !udevMatch(v, subject) : true);
        // Only what decides "this device at boot" is evaluated; other conditions count as met.
        if (key === "KERNEL" || (key === "NAME" && (op === "==" || op === "!="))) matches &&= test(name);
        else if (key === "SUBSYSTEM") matches &&= test(subsystem);
        else if (key === "ACTION") matches &&= test("add");
        else if (key === "ATTR" && arg === attr && (op === "=" || op === ":=")) value = v;
      }
      if (matches && value !== undefined) last = { source: f.path, value, effective: value };
    }
  }
  return last;
}

/** Same setting value? Schedulers: the kernel takes `deadline` for mq-deadline; numbers compare as numbers. */
function sameValue(a: string, b: string): boolean {
  const norm = (v: string) => (fold(v) === "deadline" ? "mq-deadline" : /^\d+$/.test(fold(v)) ? String(Number(fold(v))) : fold(v));
  return norm(a) === norm(b);
}

/** tuned's disk readahead: KiB, or sectors with an ` s` suffix (plugin_disk.py _parse_ra). */
function readaheadKiB(v: string): number {
  const m = /^(\d+)(?:\s+(s\S*))?$/.exec(v.trim());
  return m ? (m[2] ? Math.floor(Number(m[1]) / 2) : Number(m[1])) : NaN;
}

/**
 * Settings of `settings` (kvmtune keys and canonical values) that a later
 * actor at boot sets to another value, given the host's boot sources.
 * `tag` is the file tag of kvmtune's own files (fileTag of the resource name).
 */
export function planBootOverrides(settings: Record<string, string>, tag: string, sources: BootSources | null, host: BootHost = {}): BootOverride[] {
  if (!sources) return [];
  const paths = persistencePaths(tag);
  const tuned = readTunedProfile(sources.tuned);
  const out: BootOverride[] = [];
  const add = (key: string, ours: string, ourFile: string, f: Found | undefined, device?: string) => {
    if (!f || sameValue(f.effective, ours)) return;
    const label = device === undefined ? key : `${key} (${device})`;
    const message = f.maybe
      ? `${label}: ${f.source} also sets ${f.value} when udev sets up ${device ?? key.slice(4)}, so the host may boot with ${f.effective}, not ${ours}`
      : `${label}: ${f.source} sets ${f.value} after kvmtune's ${ourFile}${f.note ?? ""}, so the host boots with ${f.effective}, not ${ours}`;
    out.push({ key, ...(device === undefined ? {} : { device }), source: f.source, value: f.value, effective: f.effective, message });
  };
  const fromTuned = (o: TunedOption | undefined, current: string, parse?: (v: string) => number): Found | undefined => {
    const v = o && tunedValue(o.value, current, parse);
    return o && v !== undefined ? { source: tunedSource(o), value: o.value, effective: v } : undefined;
  };
  const tmpfiles = `tmpfiles.d/${base(paths.tmpfiles)}`;

  for (const key of Object.keys(settings).sort(knobOrder)) {
    const ours = settings[key];
    const block = /^block:([^:]+):(scheduler|read_ahead_kb|nr_requests)$/.exec(key);
    if (key.startsWith("sysctl:")) {
      add(key, ours, base(paths.sysctl), planSysctl(key.slice(7), ours, tag, sources, tuned));
    } else if (block) {
      const [, glob, attr] = block;
      const known = host.blockDevices ?? [];
      const isGlob = /[*?]/.test(glob);
      const devices = isGlob ? known.map((d) => d.name).filter((n) => globMatch(glob, n)) : [glob];
      for (const dev of devices) {
        const later = planUdev(`queue/${attr}`, "block", dev, base(paths["udev-block"]), sources);
        // tuned's disk plugin takes whole, non-removable disks (not dm, loop, md): devices the facts know otherwise are skipped.
        const fact = known.find((d) => d.name === dev);
        const unit = fact && (fact.virtual || fact.removable) ? undefined : tuned?.disk.find((u) => tunedDeviceMatch(u.devices, dev, globMatch));
        const option = attr === "scheduler" ? unit?.options.get("elevator") : attr === "read_ahead_kb" ? unit?.options.get("readahead") : undefined;
        const current = later?.effective ?? ours;
        const byTuned = fromTuned(option, current, attr === "read_ahead_kb" ? readaheadKiB : undefined);
        add(key, ours, base(paths["udev-block"]), byTuned ?? later, isGlob ? dev : undefined);
      }
    } else if (key.startsWith("mtu:")) {
      const ifname = key.slice(4);
      const nic = host.network?.nics.find((n) => n.name === ifname);
      // At boot: udev (a .link file's MTU, then rules by name), then systemd-networkd, then tuned.
      const { link, network } = planNetworkdMtu(ifname, nic, sources);
      const later = network ?? planUdev("mtu", "net", ifname, base(paths["udev-net"]), sources) ?? link;
      const unit = nic?.virtual ? undefined : tuned?.net.find((u) => tunedDeviceMatch(u.devices, ifname, globMatch));
      add(key, ours, base(paths["udev-net"]), fromTuned(unit?.options.get("mtu"), later?.effective ?? ours) ?? later);
    } else if (key === "thp:enabled" || key === "thp:defrag") {
      const names = key === "thp:enabled" ? ["transparent_hugepages", "transparent_hugepage"] : ["transparent_hugepage.defrag"];
      const option = [...(tuned?.vm ?? [])].filter(([k]) => names.includes(k)).pop()?.[1];
      // plugin_vm.py only writes always/never/madvise, and leaves THP alone when the kernel command line sets transparent_hugepage=.
      const ignored = key === "thp:enabled" && (!["always", "never", "madvise"].includes(option?.value ?? "") || /(^|\s)transparent_hugepage=/.test(host.kernel?.cmdline ?? ""));
      add(key, ours, tmpfiles, ignored ? undefined : fromTuned(option, ours));
    } else if (key === "cpufreq:governor") {
      // plugin_cpu.py takes the first available of `a|b`; kvmtune cannot see which are available, so the first counts.
      const option = tuned?.cpu.get("governor");
      const found = fromTuned(option && { ...option, value: option.value.split("|")[0].trim() }, ours);
      add(key, ours, tmpfiles, found && { ...found, value: option!.value });
    }
  }
  return out;
}
