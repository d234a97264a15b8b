import { z } from "zod";
import { resolveKnob } from "../host/knobs/catalogue";
import type { Disruption } from "../host/knobs/types";
import { expected, formatIssues, InputError } from "./issues";

/** The plain (already resolved) form of TunedHost's tuning args; see components/tuned-host.ts for the docs. */
const count = z.number({ error: expected("a whole number of pages (0 or more)") }).int({ error: expected("a whole number of pages (0 or more)") }).min(0, { error: expected("a whole number of pages (0 or more)") });
const pool = z.union([count, z.array(count, { error: expected("per-node counts") }), z.record(z.string().regex(/^(node)?\d{1,4}$/, { error: expected("node0, node1, ... or 0, 1, ...") }), count)], {
  error: expected("a total (spread by the kernel over the nodes), an array of per-node counts, or { node0: n, node1: m }"),
});
const scalar = z.union([z.string(), z.number(), z.boolean()], { error: expected("a string, number or boolean") });
const thpMode = z.string({ error: expected("a THP mode such as always, madvise or never") });

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

/**
 * Turns TunedHost's friendly args into kvmtune keys (pure). Preset first, then
 * the user's values, then raw `settings` last, so the user always wins.
 */
export function planTuningSettings(input: unknown, where = "TunedHost"): { settings: Record<string, string>; grouped: GroupedSettings } {
  const parsed = tuningSchema.safeParse(input ?? {});
  if (!parsed.success) throw new InputError(`${where} args`, formatIssues("args", parsed.error.issues, (p) => (p.length === 0 ? Object.keys(tuningSchema.shape) : undefined)));
  const a = parsed.data;
  const s: Record<string, string> = a.preset === "virtual-host" ? { ...VIRTUAL_HOST_PRESET } : {};
  if (typeof a.thp === "string") s["thp:enabled"] = a.thp;
  else if (a.thp) {
    if (a.thp.enabled !== undefined) s["thp:enabled"] = a.thp.enabled;
    if (a.thp.defrag !== undefined) s["thp:defrag"] = a.thp.defrag;
  }
  for (const size of ["2M", "1G"] as const) {
    const p = a.hugepages?.[size];
    if (p !== undefined) for (const [k, v] of poolEntries(size, p)) s[k] = v;
    const mount = typeof a.hugetlbfs === "object" ? a.hugetlbfs[size] : a.hugetlbfs !== false && pagesInUse(p) ? `/dev/hugepages${size}` : undefined;
    if (mount !== undefined) s[`hugetlbfs:${size}`] = mount;
  }
  for (const [k, v] of Object.entries(a.sysctl ?? {})) s[`sysctl:${k}`] = str(v);
  if (a.arpFilter !== undefined) s["sysctl:net.ipv4.conf.all.arp_filter"] = a.arpFilter ? "1" : "0";
  for (const [dev, v] of Object.entries(a.schedulers ?? {})) s[`block:${dev}:scheduler`] = v;
  for (const [dev, v] of Object.entries(a.readaheadKb ?? {})) s[`block:${dev}:read_ahead_kb`] = String(v);
  for (const [dev, v] of Object.entries(a.nrRequests ?? {})) s[`block:${dev}:nr_requests`] = String(v);
  const modules = Array.isArray(a.modules) ? Object.fromEntries(a.modules.map((m) => [m, "loaded"])) : (a.modules ?? {});
  for (const [m, v] of Object.entries(modules)) s[`module:${m}`] = v;
  for (const [m, opts] of Object.entries(a.moduleOptions ?? {})) for (const [p, v] of Object.entries(opts)) s[`modparam:${m}.${p}`] = typeof v === "boolean" ? (v ? "1" : "0") : String(v);
  for (const [ifname, v] of Object.entries(a.mtu ?? {})) s[`mtu:${ifname}`] = String(v);
  for (const [pf, v] of Object.entries(a.sriov ?? {})) s[`sriov:${pf}:numvfs`] = String(v);
  if (a.isolateCpus !== undefined) {
    // The talk's CPU isolation: no scheduler, timer ticks or RCU callbacks on the guest CPUs.
    s["cmdline:isolcpus"] = `managed_irq,domain,${a.isolateCpus}`;
    s["cmdline:nohz_full"] = a.isolateCpus;
    s["cmdline:rcu_nocbs"] = a.isolateCpus;
  }
  for (const [k, v] of Object.entries(a.kernelArgs ?? {})) s[`cmdline:${k}`] = String(v);
  if (a.ksm !== undefined) s["ksm:run"] = a.ksm === true || a.ksm === "run" ? "1" : a.ksm === "unmerge" ? "2" : "0";
  if (a.governor !== undefined) s["cpufreq:governor"] = a.governor;
  for (const [k, v] of Object.entries(a.settings ?? {})) s[k] = str(v);
  return { settings: s, grouped: groupSettings(s) };
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
