import { quoteText } from "../../spec/issues";
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

/**
 * Per-interface families: `net.<ipv4|ipv6>.<conf|neigh>.<interface>.<param>`. A key with more
 * segments names an interface with a dot (a VLAN such as eth0.100) in the dotted form, which
 * /proc/sys reads as more directories (eth0/100/); sysctl(8) and sysctl.d(5) write that dot as '/'.
 */
const PER_INTERFACE = /^(net\.(?:ipv4|ipv6)\.(?:conf|neigh))\.(.+)\.([^.]+)$/;

function dottedInterfaceProblem(name: string): string | undefined {
  const m = PER_INTERFACE.exec(name);
  if (!m || !m[2].includes(".")) return undefined;
  const [, family, ifname, param] = m;
  return `${JSON.stringify(name)} splits interface ${ifname} at its dots (it would be ${sysctlPath(name)}); write a dot in an interface name as '/', as sysctl(8) does: ${family}.${ifname.replace(/\./g, "/")}.${param}`;
}

/** An integer token with a base prefix or a leading zero, after a separator (space, ',' or the '-' of a sign or range). */
const NON_DECIMAL = /(?:^|[\s,-])(0[xX][0-9A-Fa-f]+|0\d+)(?=$|[\s,-])/;

/**
 * Integers the kernel would not read back as written. Integer sysctls parse with base 0
 * (proc_get_long: strtoul_lenient(p, &p, 0, ...)), so 0x10 is hexadecimal 16 and 010 is
 * octal 8, and the file then shows 16 or 8: the read-back after the write would fail at
 * `up`. A leading 0 before an 8 or a 9 is refused by the kernel outright (EINVAL).
 * kvmtune does not know which sysctls are integers, so it refuses rather than converts.
 */
function nonDecimalProblem(value: string): string | undefined {
  const found = NON_DECIMAL.exec(value)?.[1];
  if (found === undefined) return undefined;
  const hex = (t: string) => /^0[xX]/.test(t);
  // What the kernel makes of a token (undefined: it refuses it), and the token read as decimal.
  const asKernel = (t: string) => (hex(t) ? BigInt(t).toString() : /^[0-7]+$/.test(t) ? BigInt(`0o${t}`).toString() : undefined);
  const asDecimal = (t: string) => (hex(t) ? BigInt(t).toString() : BigInt(t).toString());
  const rewrite = (f: (t: string) => string) => {
    const text = value.replace(new RegExp(NON_DECIMAL.source, "g"), (all: string, t: string) => all.slice(0, all.length - t.length) + f(t));
    return /[\s,]/.test(text) ? JSON.stringify(text) : text;
  };
  const shown = quoteText(value, 60);
  if (hex(found)) return `${shown} is not accepted; expected decimal integers: the kernel reads ${found} as hexadecimal and shows ${asKernel(found)}, so write ${rewrite(asDecimal)}`;
  const decimal = rewrite(asDecimal);
  const octal = asKernel(found);
  if (octal === undefined) return `${shown} is not accepted; expected decimal integers without leading zeros: the kernel reads a leading 0 as octal and refuses ${found}; write ${decimal}`;
  const kernel = rewrite((t) => asKernel(t) ?? asDecimal(t));
  return `${shown} is not accepted; expected decimal integers without leading zeros: the kernel reads ${found} as octal and shows ${octal}, so write ${kernel === decimal ? decimal : `${kernel}, or ${decimal} if you meant decimal`}`;
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
    const dotted = dottedInterfaceProblem(name);
    if (dotted) return { problem: dotted };
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
        if (!/^[A-Za-z0-9_.,:\/+ -]{1,256}$/.test(r.value)) {
          return { problem: `${quoteText(String(v))} is not accepted; expected a sysctl value of letters, digits, spaces and _ . , : / + - (e.g. 10 or "4096 87380 6291456")` };
        }
        const nonDecimal = nonDecimalProblem(r.value);
        return nonDecimal ? { problem: nonDecimal } : r;
      },
      validate: () => [],
      persistence: "sysctl",
    });
  },
};
