import { fileKnob, plainValue } from "./common";
import type { KnobKind } from "./types";

/**
 * Which sysctl keys may be set. Broad families where every key is a tuning
 * knob (vm, net); named keys elsewhere, because some kernel.* keys run
 * programs (core_pattern, modprobe) and must never be reachable.
 */
export const SYSCTL_ALLOW: readonly RegExp[] = [
  /^vm\.[a-z0-9_]+$/,
  /^net\.(core|ipv4|ipv6|bridge|netfilter|unix)(\.[A-Za-z0-9_\-/]+)+$/,
  /^kernel\.(numa_balancing[a-z0-9_]*|sched_[a-z0-9_]+|nmi_watchdog|watchdog|watchdog_thresh|soft_watchdog|timer_migration|hung_task_timeout_secs|pid_max|threads-max|perf_event_paranoid|randomize_va_space|shmmax|shmall|shmmni|msgmax|msgmnb|msgmni|sem)$/,
  /^fs\.(aio-max-nr|file-max|nr_open|inotify\.max_user_(instances|watches))$/,
];

// Segments: letters, digits, '_', '-'; '/' inside a segment stands for a '.'
// in the file name, as sysctl(8) writes VLAN interfaces (eth0/100 -> eth0.100).
const KEY_SHAPE = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_\-/]+)+$/;

/** /proc/sys path of a dotted key. */
export function sysctlPath(key: string): string {
  return `/proc/sys/${key.split(".").map((seg) => seg.replace(/\//g, ".")).join("/")}`;
}

/** `sysctl:<dotted.key>`: values are compared with whitespace folded, as sysctl prints tabs. */
export const sysctlKind: KnobKind = {
  name: "sysctl",
  grammar: "sysctl:<dotted.key>",
  resolve(key) {
    if (!key.startsWith("sysctl:")) return undefined;
    const name = key.slice("sysctl:".length);
    if (!KEY_SHAPE.test(name) || name.includes("..") || /\/\/|^\/|\/$|\.\/|\/\./.test(name)) {
      return { problem: `${JSON.stringify(name)} is not a sysctl key; expected dotted names of letters, digits, '_' and '-' (e.g. vm.swappiness)` };
    }
    if (!SYSCTL_ALLOW.some((re) => re.test(name))) {
      return { problem: `${JSON.stringify(name)} is not on kvmtune's sysctl allowlist; accepted: vm.*, net.{core,ipv4,ipv6,bridge,netfilter,unix}.*, kernel.numa_balancing/sched_*/watchdog/... and fs.aio-max-nr/file-max/...` };
    }
    return fileKnob({
      key,
      path: sysctlPath(name),
      normalise(v) {
        const r = plainValue(String(v), "a sysctl value");
        if ("problem" in r) return r;
        // Values reach a file only as data, but they also land in sysctl.d: keep them to what sysctls take.
        return /^[A-Za-z0-9_.,:\/+ -]{1,256}$/.test(r.value) ? r : { problem: `${JSON.stringify(v)} is not accepted; expected a sysctl value of letters, digits, spaces and _ . , : / + - (e.g. 10 or "4096 87380 6291456")` };
      },
      validate: () => [],
      persistence: "sysctl",
    });
  },
};
