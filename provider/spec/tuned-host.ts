import { z } from "zod";
import { resolveKnob } from "../host/knobs/catalogue";
import type { Disruption } from "../host/knobs/types";
import { planBootloader } from "../host/bootloader";
import type { HostFacts } from "../host/facts";
import { cpuListProblem, formatCpuList, parseCpuList } from "../host/sysfs-parse";
import { expected, formatIssues, InputError, quoteText, showValue } from "./issues";

/** The plain (already resolved) form of TunedHost's tuning args; see components/tuned-host.ts for the docs. */
const count = z.number({ error: expected("a whole number of pages (0 or more)") }).int({ error: expected("a whole number of pages (0 or more)") }).min(0, { error: expected("a whole number of pages (0 or more)") });
const pool = z.union([count, z.array(count, { error: expected("per-node counts") }), z.record(z.string().regex(/^(node)?\d{1,4}$/, { error: expected("node0, node1, ... or 0, 1, ...") }), count)], {
  error: expected("a total (spread by the kernel over the nodes), an array of per-node counts, or { node0: n, node1: m }"),
});
const scalar = z.union([z.string(), z.number(), z.boolean()], { error: expected("a string, number or boolean") });
const thpMode = z.string({ error: expected("a THP mode such as always, madvise or never") });

/** The longest isolateCpus: a kernel argument value kvmtune writes is at most 512 characters, and isolcpus gets "managed_irq,domain," first. */
const MAX_ISOLATE_CPUS = 512 - "managed_irq,domain,".length;

/** What is wrong with an isolateCpus cpulist (judged as written, not as the three kernel arguments it becomes). */
function isolateCpusProblem(text: string): string | undefined {
  const problem = cpuListProblem(text);
  if (problem) return `${problem}; expected a cpulist such as 2-15 or 2-7,10-15 (CPU numbers and low-high ranges, separated by commas)`;
  if (text.trim().length <= MAX_ISOLATE_CPUS) return undefined;
  const compact = formatCpuList(parseCpuList(text));
  return `it is ${text.trim().length} characters, more than the ${MAX_ISOLATE_CPUS} that fit a kernel argument; ${compact.length <= MAX_ISOLATE_CPUS ? `write runs of CPUs as ranges: ${quoteText(compact)}` : "write runs of CPUs as ranges, such as 2-15"}`;
}

export const tuningSchema = z
  .object({
    preset: z.enum(["virtual-host", "none"], { error: expected(`"virtual-host" or "none"`) }).optional(),
    thp: z.union([thpMode, z.object({ enabled: thpMode.optional(), defrag: thpMode.optional() }).strict()], { error: expected("a mode, or { enabled, defrag }") }).optional(),
    hugepages: z.object({ "2M": pool.optional(), "1G": pool.optional() }, { error: expected(`{ "2M": ..., "1G": ... }`) }).strict().optional(),
    hugetlbfs: z.union([z.boolean(), z.object({ "2M": z.string().optional(), "1G": z.string().optional() }).strict()], { error: expected("true/false, or { \"1G\": \"/dev/hugepages1G\" }") }).optional(),
    sysctl: z.record(z.string(), scalar, { error: expected("an object of sysctl key -> value") }).optional(),
    arpFilter: z.boolean({ error: expected("true or false") }).optional(),
    schedulers: z.record(z.string(), z.string(), { error: expected("an object of device -> scheduler") }).optional(),
    readaheadKb: z.record(z.string(), z.number({ error: expected("KiB as a whole number") }), { error: expected("an object of device -> KiB") }).optional(),
    nrRequests: z.record(z.string(), z.number({ error: expected("a whole number") }), { error: expected("an object of device -> requests") }).optional(),
    modules: z.union([z.array(z.string()), z.record(z.string(), z.enum(["loaded", "unloaded"], { error: expected(`"loaded" or "unloaded"`) }))], { error: expected(`a list of module names, or { name: "loaded" | "unloaded" }`) }).optional(),
    moduleOptions: z.record(z.string(), z.record(z.string(), scalar), { error: expected("{ module: { option: value } }") }).optional(),
    mtu: z.record(z.string(), z.number({ error: expected("an MTU as a whole number") }), { error: expected("an object of interface -> MTU") }).optional(),
    sriov: z.record(z.string(), z.number({ error: expected("a VF count as a whole number") }), { error: expected("an object of PF (NIC name or PCI address) -> VF count") }).optional(),
    isolateCpus: z.string({ error: expected("a cpulist such as 2-15") }).optional(),
    kernelArgs: z.record(z.string(), z.union([z.string(), z.number()]), { error: expected("an object of kernel parameter -> value") }).optional(),
    ksm: z.union([z.boolean(), z.enum(["run", "stop", "unmerge"])], { error: expected(`true/false or "run" | "stop" | "unmerge"`) }).optional(),
    governor: z.string({ error: expected("a cpufreq governor name such as performance") }).optional(),
    settings: z.record(z.string(), scalar, { error: expected("an object of raw kvmtune keys -> values") }).optional(),
  })
  .strict();

export type TuningSpec = z.infer<typeof tuningSchema>;

/** What preset "virtual-host" sets: tuned's virtual-host profile plus the talk's network advice. User values override it. */
export const VIRTUAL_HOST_PRESET: Readonly<Record<string, string>> = {
  "thp:enabled": "always",
  "sysctl:vm.swappiness": "10",
  "sysctl:vm.dirty_ratio": "10",
  "sysctl:vm.dirty_background_ratio": "5",
  "sysctl:net.ipv4.conf.all.arp_filter": "1",
  "module:vhost_net": "loaded",
};

/** Settings grouped by how disruptive a change is: the group names show up in `pulumi preview`. */
export type GroupedSettings = Record<Disruption, Record<string, string>>;

const str = (v: string | number | boolean) => (typeof v === "boolean" ? (v ? "1" : "0") : String(v));

function poolEntries(size: "2M" | "1G", value: z.infer<typeof pool>): [string, string][] {
  if (typeof value === "number") return [[`hugepages:${size}`, String(value)]];
  if (Array.isArray(value)) return value.map((n, i) => [`hugepages:${size}:node${i}`, String(n)]);
  return Object.entries(value).map(([node, n]) => [`hugepages:${size}:node${node.replace(/^node/, "")}`, String(n)]);
}

function pagesInUse(value: z.infer<typeof pool> | undefined): boolean {
  if (value === undefined) return false;
  if (typeof value === "number") return value > 0;
  return (Array.isArray(value) ? value : Object.values(value)).some((n) => n > 0);
}

/** The TunedHost field a key was set by, as a user writes it (e.g. `kernelArgs.intel_iommu`), and its value there. */
export interface SettingOrigin {
  field: string;
  value: unknown;
}

export interface TuningSettingsPlan {
  settings: Record<string, string>;
  grouped: GroupedSettings;
  /** Per key, the field that set it last (the one that wins). */
  origins: Record<string, SettingOrigin>;
}

/**
 * Turns TunedHost's friendly args into kvmtune keys (pure). Preset first, then
 * the user's values, then raw `settings` last, so the user always wins.
 */
export function planTuningSettings(input: unknown, where = "TunedHost"): TuningSettingsPlan {
  const parsed = tuningSchema.safeParse(input ?? {});
  if (!parsed.success) throw new InputError(`${where} args`, formatIssues("args", parsed.error.issues, (p) => (p.length === 0 ? Object.keys(tuningSchema.shape) : undefined)));
  const a = parsed.data;
  const s: Record<string, string> = {};
  const origins: Record<string, SettingOrigin> = {};
  // Where each key came from as `args.<field>` for messages (record keys quoted when not plain names); raw `settings` and the preset are not here.
  const labels: Record<string, string> = {};
  // Sets a key and remembers the field it came from, so host problems can name that field.
  const put = (field: string, value: unknown, key: string, text: string, label?: string) => {
    s[key] = text;
    origins[key] = { field, value };
    if (label !== undefined) labels[key] = label;
    else delete labels[key];
  };
  const at = (field: string, ...keys: string[]) => `args.${field}${keys.map((k) => (/^[A-Za-z0-9_]+$/.test(k) ? `.${k}` : `[${quoteText(k, 80)}]`)).join("")}`;
  if (a.preset === "virtual-host") for (const [k, v] of Object.entries(VIRTUAL_HOST_PRESET)) put("preset", a.preset, k, v);
  if (typeof a.thp === "string") put("thp", a.thp, "thp:enabled", a.thp, at("thp"));
  else if (a.thp) {
    if (a.thp.enabled !== undefined) put("thp.enabled", a.thp.enabled, "thp:enabled", a.thp.enabled, at("thp", "enabled"));
    if (a.thp.defrag !== undefined) put("thp.defrag", a.thp.defrag, "thp:defrag", a.thp.defrag, at("thp", "defrag"));
  }
  for (const size of ["2M", "1G"] as const) {
    const p = a.hugepages?.[size];
    if (p !== undefined) for (const [k, v] of poolEntries(size, p)) put(`hugepages.${size}`, p, k, v, at("hugepages", size));
    const mount = typeof a.hugetlbfs === "object" ? a.hugetlbfs[size] : a.hugetlbfs !== false && pagesInUse(p) ? `/dev/hugepages${size}` : undefined;
    if (mount !== undefined) put(typeof a.hugetlbfs === "object" ? `hugetlbfs.${size}` : `hugepages.${size}`, typeof a.hugetlbfs === "object" ? mount : p, `hugetlbfs:${size}`, mount, typeof a.hugetlbfs === "object" ? at("hugetlbfs", size) : at("hugepages", size));
  }
  for (const [k, v] of Object.entries(a.sysctl ?? {})) put(`sysctl.${k}`, v, `sysctl:${k}`, str(v), at("sysctl", k));
  if (a.arpFilter !== undefined) put("arpFilter", a.arpFilter, "sysctl:net.ipv4.conf.all.arp_filter", a.arpFilter ? "1" : "0", at("arpFilter"));
  for (const [dev, v] of Object.entries(a.schedulers ?? {})) put(`schedulers.${dev}`, v, `block:${dev}:scheduler`, v, at("schedulers", dev));
  for (const [dev, v] of Object.entries(a.readaheadKb ?? {})) put(`readaheadKb.${dev}`, v, `block:${dev}:read_ahead_kb`, String(v), at("readaheadKb", dev));
  for (const [dev, v] of Object.entries(a.nrRequests ?? {})) put(`nrRequests.${dev}`, v, `block:${dev}:nr_requests`, String(v), at("nrRequests", dev));
  const modules = Array.isArray(a.modules) ? Object.fromEntries(a.modules.map((m) => [m, "loaded"])) : (a.modules ?? {});
  for (const [m, v] of Object.entries(modules)) put(`modules.${m}`, v, `module:${m}`, v, at("modules", m));
  for (const [m, opts] of Object.entries(a.moduleOptions ?? {})) for (const [p, v] of Object.entries(opts)) put(`moduleOptions.${m}.${p}`, v, `modparam:${m}.${p}`, typeof v === "boolean" ? (v ? "1" : "0") : String(v), at("moduleOptions", m, p));
  for (const [ifname, v] of Object.entries(a.mtu ?? {})) put(`mtu.${ifname}`, v, `mtu:${ifname}`, String(v), at("mtu", ifname));
  for (const [pf, v] of Object.entries(a.sriov ?? {})) put(`sriov.${pf}`, v, `sriov:${pf}:numvfs`, String(v), at("sriov", pf));
  if (a.isolateCpus !== undefined) {
    // The talk's CPU isolation: no scheduler, timer ticks or RCU callbacks on the guest CPUs.
    put("isolateCpus", a.isolateCpus, "cmdline:isolcpus", `managed_irq,domain,${a.isolateCpus}`, at("isolateCpus"));
    put("isolateCpus", a.isolateCpus, "cmdline:nohz_full", a.isolateCpus, at("isolateCpus"));
    put("isolateCpus", a.isolateCpus, "cmdline:rcu_nocbs", a.isolateCpus, at("isolateCpus"));
  }
  for (const [k, v] of Object.entries(a.kernelArgs ?? {})) put(`kernelArgs.${k}`, v, `cmdline:${k}`, String(v), at("kernelArgs", k));
  if (a.ksm !== undefined) put("ksm", a.ksm, "ksm:run", a.ksm === true || a.ksm === "run" ? "1" : a.ksm === "unmerge" ? "2" : "0", at("ksm"));
  if (a.governor !== undefined) put("governor", a.governor, "cpufreq:governor", a.governor, at("governor"));
  for (const [k, v] of Object.entries(a.settings ?? {})) put(`settings[${JSON.stringify(k)}]`, v, k, str(v));
  // isolateCpus is judged as written (not as the three kernel arguments it becomes), with the other fields' problems.
  const isolate = a.isolateCpus === undefined ? undefined : isolateCpusProblem(a.isolateCpus);
  const problems = fieldProblems(s, labels, isolate === undefined ? {} : { [at("isolateCpus")]: `${quoteText(a.isolateCpus!)} is not accepted: ${isolate}` });
  if (problems.length) throw new InputError(`${where} args`, problems);
  return { settings: s, grouped: groupSettings(s), origins };
}

/**
 * What HostTuning's check would refuse in the keys the friendly fields made (an unknown sysctl,
 * a reversed cpulist, 0x10 for an integer), named by the field the user wrote: one problem per
 * field (isolateCpus makes three keys of one value). Raw `settings` keys are left to HostTuning's
 * check, which names them as written.
 */
function fieldProblems(settings: Record<string, string>, labels: Record<string, string>, known: Record<string, string>): string[] {
  const byField = new Map<string, string>();
  for (const [key, label] of Object.entries(labels)) {
    if (byField.has(label)) continue;
    if (label in known) {
      byField.set(label, `${label}: ${known[label]}`);
      continue;
    }
    const knob = resolveKnob(key);
    const problem = "problem" in knob ? knob.problem : (() => {
      const n = knob.normalise(settings[key]);
      return "problem" in n ? n.problem : undefined;
    })();
    if (problem !== undefined) byField.set(label, `${label}: ${problem}`);
  }
  return [...byField.values()];
}

/** Keys persisted on the kernel command line (kvmtune's boot loader drop-in): kernel arguments and 1G pools. */
function bootloaderKeys(settings: Record<string, string>): string[] {
  return Object.keys(settings).filter((key) => {
    const knob = resolveKnob(key);
    return !("problem" in knob) && knob.persistence === "bootloader";
  });
}

/**
 * What the host's facts rule out before anything is written: every boot loader
 * setting when kvmtune cannot drive the host's boot loader (planBootloader), one
 * line per TunedHost field, e.g. `isolateCpus: "2-3" is not accepted on hv01 (from its facts): ...`.
 * HostTuning's check reports them, so `pulumi preview` fails.
 */
export function planBootloaderProblems(plan: TuningSettingsPlan, facts: HostFacts): string[] {
  const boot = planBootloader(facts.bootloader);
  if (!("refused" in boot)) return [];
  const fields = new Map<string, unknown>();
  for (const key of bootloaderKeys(plan.settings)) {
    const origin = plan.origins[key] ?? { field: `settings[${JSON.stringify(key)}]`, value: plan.settings[key] };
    fields.set(origin.field, origin.value);
  }
  return [...fields].map(([field, value]) => `${field}: ${showValue(value)} is not accepted on ${facts.hostname ?? "this host"} (from its facts): ${boot.refused}`);
}

/** Groups keys by disruption class; unknown keys go to "live" and are reported by the resource's check. */
export function groupSettings(settings: Record<string, string>): GroupedSettings {
  const grouped: GroupedSettings = { live: {}, "guest-restart": {}, "host-reboot": {} };
  for (const key of Object.keys(settings).sort()) {
    const knob = resolveKnob(key);
    grouped["problem" in knob ? "live" : knob.disruption][key] = settings[key];
  }
  return grouped;
}

/** Flattens grouped settings back into one map. */
export function flattenSettings(grouped: Partial<GroupedSettings> | undefined): Record<string, string> {
  return Object.assign({}, grouped?.live, grouped?.["guest-restart"], grouped?.["host-reboot"]);
}
