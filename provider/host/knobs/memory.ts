import { bootSettingProblems } from "../bootloader";
import { bracketed, fileKnob, intValue, oneOf, plainValue } from "./common";
import type { KnobKind, ValidationContext } from "./types";


const THP_DIR = "/sys/kernel/mm/transparent_hugepage";

/** `thp:enabled`, `thp:defrag`: the modes offered are read from the host, not hard-coded. */
export const thpKind: KnobKind = {
  name: "thp",
  grammar: "thp:enabled | thp:defrag",
  resolve(key) {
    const m = /^thp:(.*)$/.exec(key);
    if (!m) return undefined;
    const attr = m[1];
    if (attr !== "enabled" && attr !== "defrag") return { problem: `unknown THP setting ${JSON.stringify(attr)}; expected thp:enabled or thp:defrag` };
    return fileKnob({
      key,
      path: `${THP_DIR}/${attr}`,
      parse: bracketed,
      normalise: (v) => plainValue(v, "a THP mode such as always, madvise or never"),
      validate(value, { facts }) {
        const thp = facts.memory.thp;
        if (!thp) return ["this host has no transparent hugepage support (/sys/kernel/mm/transparent_hugepage is missing)"];
        const offered = thp[attr].offered;
        return offered.includes(value) ? [] : [`${JSON.stringify(value)} is not offered by this host; it offers ${offered.join(", ")}`];
      },
      persistence: "tmpfiles",
    });
  },
};

/** `ksm:run`: 0 stop, 1 run, 2 stop and unmerge all pages. */
export const ksmKind: KnobKind = {
  name: "ksm",
  grammar: "ksm:run",
  resolve(key) {
    if (!key.startsWith("ksm:")) return undefined;
    if (key !== "ksm:run") return { problem: `unknown KSM setting ${JSON.stringify(key.slice(4))}; expected ksm:run` };
    return fileKnob({
      key,
      path: "/sys/kernel/mm/ksm/run",
      normalise: (v) => oneOf(v, ["0", "1", "2"]),
      // A kernel without KSM has no such file: the resource reports it as missing before any write.
      validate: () => [],
      persistence: "tmpfiles",
    });
  },
};

/** Page sizes by the names people use, in KiB (the sysfs directory unit). */
export const PAGE_SIZES: Record<string, number> = { "2M": 2048, "1G": 1048576 };

export function pageSizeName(kib: number): string {
  return Object.entries(PAGE_SIZES).find(([, k]) => k === kib)?.[0] ?? `${kib}kB`;
}

function hugepagePath(sizeKiB: number, node: number | undefined): string {
  return node === undefined
    ? `/sys/kernel/mm/hugepages/hugepages-${sizeKiB}kB/nr_hugepages`
    : `/sys/devices/system/node/node${node}/hugepages/hugepages-${sizeKiB}kB/nr_hugepages`;
}

function validateHugepages(sizeKiB: number, node: number | undefined, count: number, ctx: ValidationContext): string[] {
  const { facts } = ctx;
  const size = pageSizeName(sizeKiB);
  if (node === undefined && [...ctx.desired.keys()].some((k) => k.startsWith(`hugepages:${size}:node`))) {
    return [`set either hugepages:${size} (a host total) or per-node hugepages:${size}:node<N> counts, not both: writing one changes the other`];
  }
  if (sizeKiB === PAGE_SIZES["1G"] && !facts.cpu.flags.pdpe1gb) return ["1G pages need the CPU flag pdpe1gb, which this host's CPU does not have"];
  const pools = node === undefined ? facts.memory.hugepages : facts.numaNodes.find((n) => n.id === node)?.hugepages;
  if (node !== undefined && !facts.numaNodes.some((n) => n.id === node)) {
    return [`NUMA node ${node} does not exist on this host; it has node(s) ${facts.numaNodes.map((n) => n.id).join(", ")}`];
  }
  if (!pools?.some((p) => p.sizeKiB === sizeKiB)) {
    return [`this host has no ${size} hugepage pool; it offers ${(pools ?? []).map((p) => pageSizeName(p.sizeKiB)).join(", ") || "none"}`];
  }
  const memKiB = node === undefined ? facts.memory.totalKiB : facts.numaNodes.find((n) => n.id === node)?.memTotalKiB;
  if (memKiB != null && count * sizeKiB > memKiB) {
    const where = node === undefined ? "the host" : `node ${node}`;
    return [`${count} x ${size} = ${Math.round((count * sizeKiB) / 1024)} MiB exceeds the ${Math.floor(memKiB / 1024)} MiB of memory on ${where}`];
  }
  return [];
}

/**
 * `hugepages:<2M|1G>[:node<N>]`: the static pool size. The read-back is
 * checked by the resource, so a short allocation is an error, never success.
 */
export const hugepagesKind: KnobKind = {
  name: "hugepages",
  grammar: "hugepages:<2M|1G>[:node<N>]",
  resolve(key) {
    if (!key.startsWith("hugepages:")) return undefined;
    // node numbers without leading zeros: node01 would be a second key for node1's file
    const m = /^hugepages:(2M|1G)(?::node(0|[1-9]\d{0,3}))?$/.exec(key);
    if (!m) return { problem: `malformed key; expected hugepages:<2M|1G> or hugepages:<2M|1G>:node<N>` };
    const sizeKiB = PAGE_SIZES[m[1]];
    const node = m[2] === undefined ? undefined : Number(m[2]);
    const knob = fileKnob({
      key,
      path: hugepagePath(sizeKiB, node),
      normalise: (v) => intValue(v, 0, 10_000_000, " pages"),
      // 1G pools are persisted on the kernel command line: refused where kvmtune cannot change it.
      validate: (value, ctx) => [...validateHugepages(sizeKiB, node, Number(value), ctx), ...(sizeKiB === PAGE_SIZES["1G"] ? bootSettingProblems(value, ctx.facts.bootloader) : [])],
      persistence: sizeKiB === PAGE_SIZES["1G"] ? "bootloader" : "tmpfiles",
    });
    // 1G pools are reserved at boot (kernel command line): a running host rarely has 1 GiB of
    // contiguous free memory per node (a test host with 2-3 GiB nodes got none on node0), so a
    // live write would fail or half-succeed. The configured value is state; the pool feeds pendingReboot.
    if (sizeKiB !== PAGE_SIZES["1G"]) return knob;
    return { ...knob, disruption: "host-reboot", bootTime: true, optional: true, apply: () => [], restore: () => [] };
  },
};
