/**
 * PlacementRequest: what a guest asks of the placement planner, validated with
 * zod (unknown fields rejected, every problem reported at once).
 */
import { z } from "zod";
import { parseCpuList } from "../host/sysfs-parse";
import { expected, formatIssues, InputError, showValue } from "../spec/issues";

/** How vCPUs use SMT sibling threads. */
export type ThreadPolicy = "prefer" | "isolate" | "require";
/** Where emulator threads (and iothreads) run. */
export type EmulatorPolicy = "share" | "isolate";
/** libvirt numatune mode. */
/**
 * libvirt numatune modes. "restrictive" binds memory through the cpuset cgroup only (no mbind), which is
 * what lets libvirt move a running guest's nodeset live; "strict" also binds with mbind, so its nodeset
 * changes need a restart (libvirt 9.0).
 */
export type NumaMode = "strict" | "restrictive" | "preferred" | "interleave";
/** Guest memory backing page size. */
export type HugepageSize = "none" | "2M" | "1G";
/** How host devices pull a guest to their NUMA nodes (Nova's hw:pci_numa_affinity_policy). */
export type DeviceAffinity = "required" | "preferred" | "none";

/** A host device the guest uses, with the NUMA node it hangs off (null: unknown, numa_node -1). */
export interface DeviceNode {
  /** As the user named it (PCI address, NIC, block device), for messages. */
  device: string;
  node: number | null;
}

/** A guest's placement request, as the user writes it (defaults shown). */
export interface PlacementRequest {
  /** Guest (libvirt domain) name: letters, digits, '.', '_', '+', '-'; at most 64 (as LibvirtDomain accepts). */
  name: string;
  /** vCPU count, 1..4096. */
  vcpus: number;
  /** Guest memory in MiB; a multiple of the hugepage size when hugepages are used. */
  memoryMiB: number;
  /** Backing page size. Default "none" (normal pages). */
  hugepages?: HugepageSize;
  /**
   * Default "prefer": pack vCPUs onto sibling threads of as few cores as possible.
   * "require": only whole free cores, every thread a vCPU (count a multiple of the SMT width).
   * "isolate": one vCPU per whole free core; its siblings are reserved and kept idle.
   */
  threadPolicy?: ThreadPolicy;
  /**
   * Default "share": emulator threads float over the guest's own vCPU CPUs.
   * "isolate": emulator on one whole free core of its own (on the guest's first node).
   */
  emulatorPolicy?: EmulatorPolicy;
  /**
   * Explicit emulator cpulist, e.g. "0,32" (may be housekeeping CPUs); implies emulatorPolicy "isolate".
   * The other threads of these CPUs' cores get none of this guest's vCPUs.
   */
  emulatorCpus?: string;
  /** IOThread count (0..64), each pinned to the emulator's cpuset. Default 0. */
  iothreads?: number;
  /** Default "strict". */
  numaMode?: NumaMode;
  /** Guest NUMA cells: "auto" (default) = one per host node spanned; N = spread over exactly N host nodes. */
  guestNumaCells?: "auto" | number;
  /**
   * Host CPUs never given to guests: a cpulist ("" for none), "auto" (default: the
   * host's lowest online CPU and its thread siblings) or "non-isolated" (every online
   * CPU outside the host's isolcpus= set).
   */
  housekeepingCpus?: string;
  /** Host nodes the guest may use (default: all). */
  nodes?: number[];
  /** Host devices the guest uses (passthrough PCI functions, VFs, NVMe disks) and their NUMA nodes; NumaPinnedGuest fills this from `numaDevices`. */
  deviceNodes?: DeviceNode[];
  /**
   * How `deviceNodes` pull the guest. "required": a guest cell on every device's node, or no plan.
   * "preferred" (default): the same when it fits; otherwise placed anywhere, and the result's notes say so.
   * "none": devices do not count. Devices whose node is unknown never count (a note says so).
   */
  deviceAffinity?: DeviceAffinity;
}

/** A validated PlacementRequest with every default filled in. */
export interface PlacementSpec {
  name: string;
  vcpus: number;
  memoryMiB: number;
  hugepages: HugepageSize;
  threadPolicy: ThreadPolicy;
  emulatorPolicy: EmulatorPolicy;
  /** Explicit emulator CPUs, sorted; null = chosen by emulatorPolicy. */
  emulatorCpus: number[] | null;
  iothreads: number;
  numaMode: NumaMode;
  guestNumaCells: "auto" | number;
  housekeepingCpus: "auto" | "non-isolated" | number[];
  /** Sorted; null = all host nodes. */
  nodes: number[] | null;
  deviceNodes: DeviceNode[];
  deviceAffinity: DeviceAffinity;
}

/** Hugepage size in KiB, null for "none". */
export function hugepageSizeKiB(size: HugepageSize): number | null {
  return size === "2M" ? 2048 : size === "1G" ? 1048576 : null;
}

const int = (accepted: string, min: number, max: number) =>
  z.int({ error: expected(accepted) }).min(min, { error: expected(accepted) }).max(max, { error: expected(accepted) });
const isCpuList = (s: string) => {
  try {
    parseCpuList(s);
    return true;
  } catch {
    return false;
  }
};
const cpulist = (accepted: string, extra: string[]) =>
  z.string({ error: expected(accepted) }).refine((s) => extra.includes(s) || (isCpuList(s) && (extra.length > 0 || s.trim() !== "")), { error: expected(accepted) });
const oneOf = <T extends string>(values: readonly [T, ...T[]]) => z.enum(values, { error: expected(values.map((v) => JSON.stringify(v)).join(", ").replace(/, ([^,]*)$/, " or $1")) });

const schema = z
  .object(
    {
      name: z.string({ error: expected("a domain name: letters, digits, '.', '_', '+', '-' (at most 64)") }).regex(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/, {
        error: expected("a domain name: letters, digits, '.', '_', '+', '-' (at most 64)"),
      }),
      vcpus: int("a whole number of vCPUs from 1 to 4096", 1, 4096),
      memoryMiB: int("a whole number of MiB from 1 to 16777216", 1, 16777216),
      hugepages: oneOf(["none", "2M", "1G"]).default("none"),
      threadPolicy: oneOf(["prefer", "isolate", "require"]).default("prefer"),
      emulatorPolicy: oneOf(["share", "isolate"]).optional(),
      emulatorCpus: cpulist(`a non-empty cpulist such as "0,32"`, []).optional(),
      iothreads: int("a whole number of iothreads from 0 to 64", 0, 64).default(0),
      numaMode: oneOf(["strict", "restrictive", "preferred", "interleave"]).default("strict"),
      guestNumaCells: z.union([z.literal("auto"), int(`"auto" or a whole number of cells from 1 to 64`, 1, 64)], { error: expected(`"auto" or a whole number of cells from 1 to 64`) }).default("auto"),
      housekeepingCpus: cpulist(`a cpulist such as "0,32" ("" for none), "auto" or "non-isolated"`, ["auto", "non-isolated"]).default("auto"),
      nodes: z
        .array(int("node ids: whole numbers from 0 to 1023", 0, 1023), { error: expected("a non-empty list of host node ids such as [0, 1]") })
        .min(1, { error: expected("a non-empty list of host node ids such as [0, 1]") })
        .refine((a) => new Set(a).size === a.length, { error: expected("node ids without repeats") })
        .optional(),
      deviceNodes: z
        .array(
          z.object({ device: z.string({ error: expected("a device name") }).min(1, { error: expected("a device name") }).max(256, { error: expected("a device name of at most 256 characters") }), node: z.union([int("a node id from 0 to 1023, or null", 0, 1023), z.null()], { error: expected("a node id from 0 to 1023, or null") }) }, { error: expected("{ device, node }") }).strict(),
          { error: expected("a list of { device, node }") },
        )
        .max(64, { error: expected("at most 64 devices") })
        .optional(),
      deviceAffinity: oneOf(["required", "preferred", "none"]).default("preferred"),
    },
    { error: expected("an object such as { name, vcpus, memoryMiB }") },
  )
  .strict();

const FIELDS = Object.keys(schema.shape);

/**
 * Why a "restrictive" guest stays within one node: libvirt binds its memory through the cpuset cgroup only,
 * with no per-cell binding, so QEMU allocates every cell where its threads run (seen on libvirt 9.0: a 2-cell
 * guest's hugepages all on node0).
 */
export const RESTRICTIVE_ONE_NODE = `libvirt binds a "restrictive" guest's memory through the cpuset cgroup only, so its cells are not placed per node (libvirt 9.0 put both cells of a 2-cell guest on node0)`;

/** Checks between fields that zod's per-field schemas cannot see; only fields that are themselves valid are compared. */
function crossFieldProblems(input: Record<string, unknown>): string[] {
  const out: string[] = [];
  const num = (k: string, ok: (n: number) => boolean) => (typeof input[k] === "number" && Number.isInteger(input[k]) && ok(input[k] as number) ? (input[k] as number) : null);
  const vcpus = num("vcpus", (n) => n >= 1 && n <= 4096);
  const mem = num("memoryMiB", (n) => n >= 1 && n <= 16777216);
  const cells = num("guestNumaCells", (n) => n >= 1 && n <= 64);
  const pageMiB = input.hugepages === "2M" ? 2 : input.hugepages === "1G" ? 1024 : input.hugepages === undefined || input.hugepages === "none" ? 1 : null;
  if (mem !== null && pageMiB !== null && mem % pageMiB !== 0) {
    out.push(`request.memoryMiB: ${mem} is not accepted; with hugepages ${showValue(input.hugepages)} expected a multiple of ${pageMiB} MiB`);
  }
  if (cells !== null && vcpus !== null && vcpus % cells !== 0) {
    out.push(`request.guestNumaCells: ${cells} is not accepted; expected a cell count that divides vcpus (${vcpus})`);
  }
  if (cells !== null && mem !== null && pageMiB !== null && mem % pageMiB === 0 && mem / pageMiB < cells) {
    out.push(`request.guestNumaCells: ${cells} is not accepted; memoryMiB ${mem} gives fewer than one ${pageMiB} MiB unit per cell`);
  }
  if (cells !== null && cells > 1 && input.numaMode === "restrictive") {
    out.push(`request.guestNumaCells: ${cells} is not accepted with numaMode "restrictive"; ${RESTRICTIVE_ONE_NODE}; expected 1 or "auto", or numaMode "strict"`);
  }
  if (input.emulatorCpus !== undefined && input.emulatorPolicy === "share") {
    out.push(`request.emulatorCpus: ${showValue(input.emulatorCpus)} is not accepted with emulatorPolicy "share"; expected emulatorPolicy "isolate" (or none)`);
  }
  return out;
}

/** Validates a request and fills defaults; throws InputError listing every problem. */
export function parsePlacementRequest(input: unknown): PlacementSpec {
  const parsed = schema.safeParse(input);
  const problems = parsed.success ? [] : formatIssues("request", parsed.error.issues, (p) => (p.length === 0 ? FIELDS : undefined));
  if (input !== null && typeof input === "object" && !Array.isArray(input)) problems.push(...crossFieldProblems(input as Record<string, unknown>));
  const name = input !== null && typeof input === "object" && typeof (input as { name?: unknown }).name === "string" ? (input as { name: string }).name : null;
  if (!parsed.success || problems.length > 0) throw new InputError(`placement request${name ? ` for guest ${showValue(name)}` : ""}`, problems);
  const r = parsed.data;
  const emulatorCpus = r.emulatorCpus === undefined ? null : parseCpuList(r.emulatorCpus);
  const hk = r.housekeepingCpus;
  return {
    name: r.name,
    vcpus: r.vcpus,
    memoryMiB: r.memoryMiB,
    hugepages: r.hugepages,
    threadPolicy: r.threadPolicy,
    emulatorPolicy: r.emulatorPolicy ?? (emulatorCpus ? "isolate" : "share"),
    emulatorCpus,
    iothreads: r.iothreads,
    numaMode: r.numaMode,
    guestNumaCells: r.guestNumaCells,
    housekeepingCpus: hk === "auto" || hk === "non-isolated" ? hk : parseCpuList(hk),
    nodes: r.nodes ? [...r.nodes].sort((a, b) => a - b) : null,
    deviceNodes: (r.deviceNodes ?? []).map((d) => ({ device: d.device, node: d.node })),
    deviceAffinity: r.deviceAffinity,
  };
}

// Compile-time check that the schema and the documented interface agree.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const inputMatches: Same<Required<z.input<typeof schema>>, Required<PlacementRequest>> = true;
void inputMatches;
