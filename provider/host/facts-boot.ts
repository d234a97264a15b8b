/**
 * Boot-time sources: configuration on the host that sets, at every boot, the
 * same things kvmtune persists (sysctl.d files, udev rules, systemd .link and
 * .network files, tuned). Read here as plain data; boot-overrides.ts decides
 * which of them win over kvmtune's own files.
 */
import type { FactsDump } from "./facts-dump";

/** A configuration file: its path and the lines FACTS_SCRIPT kept (see each field for which). */
export interface BootConfFile {
  path: string;
  lines: string[];
}

/** What is configured to run at boot besides kvmtune's own files; `null` in HostFacts when not read (older facts). */
export interface BootSources {
  /** Every sysctl.d `*.conf` in SYSCTL_DIRS order, then by name, with its non-comment lines (none for a mask such as a link to /dev/null). */
  sysctl: BootConfFile[];
  /** /etc/sysctl.conf's non-comment lines (systemd reads it only through Debian's 99-sysctl.conf link; tuned re-applies it). */
  sysctlConf: string[];
  /** udev rules: every file in /etc and /run (they mask same-named ones below) and any file with lines naming `queue/` or `mtu`, with only those lines. */
  udevRules: BootConfFile[];
  /** systemd .link/.network files: every name in /etc and /run, and the files that set MTUBytes with their non-comment lines. */
  networkFiles: BootConfFile[];
  /** systemd-networkd.service is enabled (a link in /etc/systemd/system/*.wants): only then do .network files apply. */
  networkdEnabled: boolean;
  /** tuned, when the host has any trace of it; null otherwise. */
  tuned: TunedSources | null;
}

export interface TunedSources {
  /** tuned.service is enabled at boot (a link in /etc/systemd/system/*.wants). */
  enabled: boolean;
  /** tuned runs now (/run/tuned/tuned.pid). */
  running: boolean;
  /** Profile names from /etc/tuned/active_profile then post_loaded_profile, as written (a leading '-' means "if it exists"). */
  profiles: string[];
  /** tuned-main.conf `reapply_sysctl` (default true): tuned re-applies /run and /etc sysctl files after its own [sysctl]. */
  reapplySysctl: boolean;
  /** tuned.conf of the active profiles and their includes, from every profile dir that has one, non-comment lines. */
  profileFiles: BootConfFile[];
}

export const SYSCTL_DIRS = ["/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d"] as const;
export const UDEV_RULES_DIRS = ["/etc/udev/rules.d", "/run/udev/rules.d", "/usr/local/lib/udev/rules.d", "/usr/lib/udev/rules.d", "/lib/udev/rules.d"] as const;
export const NETWORK_DIRS = ["/etc/systemd/network", "/run/systemd/network", "/usr/local/lib/systemd/network", "/usr/lib/systemd/network", "/lib/systemd/network"] as const;
/** tuned 2.20 looks in /etc/tuned then /usr/lib/tuned; newer ones use .../profiles. */
export const TUNED_PROFILE_DIRS = ["/etc/tuned/profiles", "/etc/tuned", "/usr/lib/tuned/profiles", "/usr/lib/tuned"] as const;

const lines = (text: string | undefined) => (text === undefined || text === "" ? [] : text.split("\n"));

/** Files of `dirs`, in dir order then by name: names listed by the script plus files it grepped. */
function confFiles(dump: FactsDump, dirs: readonly string[], glob: string, keep: (name: string) => boolean): BootConfFile[] {
  const out: BootConfFile[] = [];
  for (const dir of dirs) {
    const grepped = dump.filesUnder(dir).map((p) => p.slice(dir.length + 1)).filter((n) => !n.includes("/"));
    const names = new Set([...dump.list(dir, glob), ...grepped]);
    for (const name of [...names].filter(keep).sort()) out.push({ path: `${dir}/${name}`, lines: lines(dump.file(`${dir}/${name}`)) });
  }
  return out;
}

/** Reads the boot-source sections; null when the output has none (facts from an older kvmtune). */
export function readBootSources(dump: FactsDump): BootSources | null {
  const running = dump.variable("tuned-running");
  if (running === undefined) return null;
  const wants = (unit: string) => dump.list("/etc/systemd/system", `*.wants/${unit}`).length > 0;
  return {
    sysctl: confFiles(dump, SYSCTL_DIRS, "*.conf", (n) => n.endsWith(".conf")),
    sysctlConf: lines(dump.file("/etc/sysctl.conf")),
    udevRules: confFiles(dump, UDEV_RULES_DIRS, "*.rules", (n) => n.endsWith(".rules")),
    networkFiles: confFiles(dump, NETWORK_DIRS, "*", (n) => n.endsWith(".link") || n.endsWith(".network")),
    networkdEnabled: wants("systemd-networkd.service"),
    tuned: readTuned(dump, running.trim() === "yes", wants("tuned.service")),
  };
}

function readTuned(dump: FactsDump, running: boolean, enabled: boolean): TunedSources | null {
  const names = (path: string) => (dump.file(path) ?? "").split(/[\s,;]+/).filter((w) => w !== "");
  const profiles = [...names("/etc/tuned/active_profile"), ...names("/etc/tuned/post_loaded_profile")];
  const profileFiles: BootConfFile[] = [];
  for (const dir of TUNED_PROFILE_DIRS) {
    for (const path of dump.filesUnder(dir)) {
      if (/^[^/]+\/tuned\.conf$/.test(path.slice(dir.length + 1))) profileFiles.push({ path, lines: lines(dump.file(path)) });
    }
  }
  // tuned-main.conf is read with ConfigParser.getboolean; the last assignment wins.
  const reapply = [...(dump.file("/etc/tuned/tuned-main.conf") ?? "").matchAll(/^\s*reapply_sysctl\s*=\s*(\S*)/gm)].pop();
  if (!running && !enabled && profiles.length === 0 && profileFiles.length === 0 && !reapply) return null;
  return { enabled, running, profiles, reapplySysctl: reapply ? !/^(0|no|false|off)$/i.test(reapply[1]) : true, profileFiles };
}
