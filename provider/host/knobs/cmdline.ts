import { bootSettingProblems } from "../bootloader";
import { listCapped, quoteText } from "../../spec/issues";
import { cpuListProblem, formatCpuList, parseCpuList } from "../sysfs-parse";
import { oneOf } from "./common";
import type { KnobKind } from "./types";

/** The host's CPUs: how many it has, and which are online now. */
export interface CpuSet {
  count: number;
  online: readonly number[];
}

/**
 * One kernel parameter's value rules: `syntax` needs nothing but the value (check
 * refuses it at preview); `host` judges it against the host's CPUs (at apply).
 */
interface Param {
  syntax(value: string): string | undefined;
  host?(value: string, cpus: CpuSet): string | undefined;
}

/** CPU numbers in a message: as ranges, at most a few of them. */
function cpusText(cpus: readonly number[]): string {
  return `${cpus.length === 1 ? "CPU" : "CPUs"} ${listCapped(formatCpuList(cpus).split(","), 8, ",")}`;
}

const CPULIST = "a cpulist such as 2-15 or 2-7,10-15 (CPU numbers and low-high ranges, separated by commas)";

/**
 * A cpulist that names only CPUs the host has, and leaves at least one online CPU for housekeeping:
 * an offline CPU outside the list runs nothing, so it does not count.
 */
function cpuListCheck(value: string, host: CpuSet): string | undefined {
  const problem = cpuListProblem(value);
  if (problem) return problem;
  const cpus = parseCpuList(value);
  const bad = cpus.filter((c) => c >= host.count);
  if (bad.length) return `${cpusText(bad)} ${bad.length === 1 ? "does" : "do"} not exist; this host has CPUs 0-${host.count - 1}`;
  const listed = new Set(cpus);
  if (!host.online.some((c) => !listed.has(c))) {
    const offline = host.count - host.online.length;
    return `it leaves no online housekeeping CPU; this host has CPUs 0-${host.count - 1}${offline ? ` (online: ${listCapped(formatCpuList([...host.online]).split(","), 8, ",")})` : ""}, keep at least one online CPU (usually CPU 0 and its sibling) out of the list`;
  }
  return undefined;
}

const ISOLCPUS_FLAGS = /^(nohz|domain|managed_irq)$/;

/** The CPU list of an isolcpus value, which may carry flags before it: `managed_irq,domain,2-7` gives `2-7`. */
export function isolcpusList(value: string): string {
  const parts = value.split(",");
  let i = 0;
  while (i < parts.length && ISOLCPUS_FLAGS.test(parts[i])) i++;
  return parts.slice(i).join(",");
}

const cpuList: Param = {
  syntax: (v) => {
    const p = cpuListProblem(v);
    return p && `${p}; expected ${CPULIST}`;
  },
  host: cpuListCheck,
};

const isolcpus: Param = {
  syntax: (v) => {
    const p = cpuListProblem(isolcpusList(v));
    return p && `${p}; expected flags (nohz, domain, managed_irq) then ${CPULIST}, such as managed_irq,domain,2-15`;
  },
  host: (v, cpus) => cpuListCheck(isolcpusList(v), cpus),
};

const choice = (allowed: string[]): Param => ({ syntax: (v) => ("problem" in oneOf(v, allowed) ? `expected one of ${allowed.join(", ")}` : undefined) });

/** The kernel parameters kvmtune manages, with their value rules (admin-guide/kernel-parameters). */
export const CMDLINE_PARAMS: Record<string, Param> = {
  isolcpus,
  nohz_full: cpuList,
  rcu_nocbs: cpuList,
  irqaffinity: cpuList,
  default_hugepagesz: choice(["2M", "1G"]),
  intel_iommu: choice(["on", "off", "sm_on"]),
  amd_iommu: choice(["on", "off", "force_isolation"]),
  iommu: choice(["pt", "nopt", "on", "off"]),
  transparent_hugepage: choice(["always", "madvise", "never"]),
};

/** Token of `name` in a command line; undefined when absent. The last occurrence wins, as in the kernel. */
export function cmdlineValue(cmdline: string | undefined, name: string): string | undefined {
  if (cmdline === undefined) return undefined;
  let found: string | undefined;
  for (const token of cmdline.trim().split(/\s+/)) {
    if (token === name) found = "";
    else if (token.startsWith(`${name}=`)) found = token.slice(name.length + 1);
  }
  return found;
}

/**
 * `cmdline:<param>`: a kernel command-line argument, configured in a boot
 * loader drop-in. Never applied live and never reboots by itself; the running
 * value (from /proc/cmdline) feeds `pendingReboot`.
 */
export const cmdlineKind: KnobKind = {
  name: "cmdline",
  grammar: "cmdline:<param>",
  resolve(key) {
    if (!key.startsWith("cmdline:")) return undefined;
    const name = key.slice("cmdline:".length);
    if (name === "hugepagesz" || name === "hugepages") {
      return { problem: `set boot-time hugepages with the hugepages knobs (hugepages:1G:node0 = N), which write hugepagesz=/hugepages= in the right order` };
    }
    const param = CMDLINE_PARAMS[name];
    if (!param) return { problem: `${JSON.stringify(name)} is not a kernel parameter kvmtune manages; accepted: ${Object.keys(CMDLINE_PARAMS).join(", ")}` };
    return {
      key,
      disruption: "host-reboot",
      bootTime: true,
      optional: true,
      reads: ["/proc/cmdline"],
      current: (files) => cmdlineValue(files.get("/proc/cmdline"), name),
      normalise(value) {
        const text = String(value).trim();
        // One token only: a space, quote or '=' could smuggle another argument (e.g. "1 init=/bin/sh").
        if (!/^[A-Za-z0-9_,.:-]{1,512}$/.test(text)) {
          return { problem: `${quoteText(String(value))} is not accepted; expected one kernel argument value (letters, digits, ',', '-', '.', ':'; no spaces, quotes or '=')` };
        }
        // What needs no host is refused here, so check (preview) refuses it, not the apply.
        const problem = param.syntax(text);
        return problem ? { problem: `${quoteText(text)} is not accepted: ${problem}` } : { value: text };
      },
      validate(value, { facts }) {
        const problem = param.host?.(value, { count: facts.cpu.count, online: facts.cpu.online });
        return [...(problem ? [`${quoteText(value)} is not accepted: ${problem}`] : []), ...bootSettingProblems(value, facts.bootloader)];
      },
      apply: () => [],
      restore: () => [],
      persistence: "bootloader",
    };
  },
};
