/** Kernel, CPU topology, NUMA, memory and virtualisation facts from a FactsDump. */
import type { FactsDump } from "./facts-dump";
import type {
  Cpu,
  CpuFacts,
  GlobalHugepagePool,
  HugepagePool,
  KernelFacts,
  MemoryFacts,
  NumaNode,
  VirtFacts,
} from "./facts";
import { parseBracketChoice, parseCpuList, parseFlag, parseIntStrict, parseMeminfo, textOrNull } from "./sysfs-parse";

const CPU = "/sys/devices/system/cpu";
const NODE = "/sys/devices/system/node";
const HUGE = "/sys/kernel/mm/hugepages";
const THP = "/sys/kernel/mm/transparent_hugepage";

export function readKernel(dump: FactsDump): KernelFacts {
  return {
    release: textOrNull(dump.file("/proc/sys/kernel/osrelease")),
    cmdline: textOrNull(dump.file("/proc/cmdline")),
  };
}

/** Number after a prefix, e.g. idOf("cpu12", "cpu") = 12; null when it does not match. */
function idOf(name: string, prefix: string): number | null {
  return name.startsWith(prefix) ? parseIntStrict(name.slice(prefix.length)) : null;
}

function cpuList(dump: FactsDump, path: string): number[] | null {
  // Kernels print "(null)" for a never-allocated mask (nohz_full without nohz_full=).
  return dump.parsed(path, (text) => (text.trim() === "(null)" ? [] : parseCpuList(text)));
}

export function readCpu(dump: FactsDump): { cpu: CpuFacts; cpus: Cpu[] } {
  const onlineList = cpuList(dump, `${CPU}/online`);
  const nodeOfCpu = new Map<number, number>();
  for (const entry of dump.list(CPU, "cpu[0-9]*/node[0-9]*")) {
    const [c, n] = entry.split("/");
    const [cpu, node] = [idOf(c, "cpu"), idOf(n, "node")];
    if (cpu !== null && node !== null) nodeOfCpu.set(cpu, node);
  }
  for (const n of dump.dirs(NODE, "node[0-9]*")) {
    const node = idOf(n, "node");
    for (const cpu of cpuList(dump, `${NODE}/${n}/cpulist`) ?? []) {
      if (node !== null && !nodeOfCpu.has(cpu)) nodeOfCpu.set(cpu, node);
    }
  }
  const hasNodes = dump.dirs(NODE, "node[0-9]*").length > 0;

  const cpus: Cpu[] = [];
  for (const name of dump.dirs(CPU, "cpu[0-9]*")) {
    const id = idOf(name, "cpu");
    if (id === null) continue;
    const dir = `${CPU}/${name}`;
    const online = parseFlag(dump.file(`${dir}/online`)) ?? (onlineList ? onlineList.includes(id) : true);
    cpus.push({
      id,
      online,
      coreId: parseIntStrict(dump.file(`${dir}/topology/core_id`)),
      socketId: parseIntStrict(dump.file(`${dir}/topology/physical_package_id`)),
      node: nodeOfCpu.get(id) ?? (hasNodes ? null : 0),
      threadSiblings: cpuList(dump, `${dir}/topology/thread_siblings_list`) ?? [],
    });
  }
  cpus.sort((a, b) => a.id - b.id);

  const info = new Map<string, string>();
  for (const line of (dump.command("cpuinfo-head") ?? "").split("\n")) {
    const i = line.indexOf(":");
    if (i > 0 && !info.has(line.slice(0, i).trim())) info.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  const flags = new Set((info.get("flags") ?? "").split(/\s+/));
  const cpu: CpuFacts = {
    count: cpus.length,
    online: onlineList ?? cpus.filter((c) => c.online).map((c) => c.id),
    present: cpuList(dump, `${CPU}/present`) ?? cpus.map((c) => c.id),
    possible: cpuList(dump, `${CPU}/possible`) ?? cpus.map((c) => c.id),
    isolated: cpuList(dump, `${CPU}/isolated`) ?? [],
    nohzFull: cpuList(dump, `${CPU}/nohz_full`) ?? [],
    model: textOrNull(info.get("model name")),
    flags: {
      pdpe1gb: flags.has("pdpe1gb"),
      pse: flags.has("pse"),
      vmx: flags.has("vmx"),
      svm: flags.has("svm"),
      hypervisor: flags.has("hypervisor"),
    },
  };
  return { cpu, cpus };
}

/** Sizes of the hugetlb hstates ("hugepages-2048kB" -> 2048), ascending. */
function hugepageSizes(dump: FactsDump): number[] {
  return dump
    .dirs(HUGE, "hugepages-*")
    .map((d) => /^hugepages-(\d+)kB$/.exec(d))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

function pool(dump: FactsDump, dir: string, sizeKiB: number): HugepagePool {
  return {
    sizeKiB,
    total: parseIntStrict(dump.file(`${dir}/nr_hugepages`)),
    free: parseIntStrict(dump.file(`${dir}/free_hugepages`)),
    surplus: parseIntStrict(dump.file(`${dir}/surplus_hugepages`)),
  };
}

export function readMemory(dump: FactsDump): MemoryFacts {
  const meminfo = parseMeminfo(dump.file("/proc/meminfo") ?? "");
  const hugepages: GlobalHugepagePool[] = hugepageSizes(dump).map((size) => {
    const dir = `${HUGE}/hugepages-${size}kB`;
    return {
      ...pool(dump, dir, size),
      reserved: parseIntStrict(dump.file(`${dir}/resv_hugepages`)),
      overcommit: parseIntStrict(dump.file(`${dir}/nr_overcommit_hugepages`)),
    };
  });
  const enabled = dump.parsed(`${THP}/enabled`, parseBracketChoice);
  const defrag = dump.parsed(`${THP}/defrag`, parseBracketChoice);
  return {
    totalKiB: meminfo.get("MemTotal") ?? null,
    freeKiB: meminfo.get("MemFree") ?? null,
    availableKiB: meminfo.get("MemAvailable") ?? null,
    defaultHugepageSizeKiB: meminfo.get("Hugepagesize") ?? null,
    hugepages,
    thp: enabled === null || defrag === null ? null : { enabled, defrag },
  };
}

export function readNuma(dump: FactsDump, cpus: Cpu[], memory: MemoryFacts): { fromSysfs: boolean; nodes: NumaNode[] } {
  const ids = dump
    .dirs(NODE, "node[0-9]*")
    .map((n) => idOf(n, "node"))
    .filter((n): n is number => n !== null)
    .sort((a, b) => a - b);
  if (ids.length === 0) {
    // No NUMA sysfs (CONFIG_NUMA=n): the whole machine is node 0.
    return {
      fromSysfs: false,
      nodes: [
        {
          id: 0,
          cpus: cpus.map((c) => c.id),
          memTotalKiB: memory.totalKiB,
          memFreeKiB: memory.freeKiB,
          distances: [{ node: 0, distance: 10 }],
          hugepages: memory.hugepages.map(({ sizeKiB, total, free, surplus }) => ({ sizeKiB, total, free, surplus })),
        },
      ],
    };
  }
  // A distance row lists every online node in ascending id order (drivers/base/node.c).
  const online = cpuList(dump, `${NODE}/online`) ?? ids;
  const sizes = hugepageSizes(dump);
  const nodes: NumaNode[] = ids.map((id) => {
    const dir = `${NODE}/node${id}`;
    const meminfo = parseMeminfo(dump.file(`${dir}/meminfo`) ?? "", `Node ${id} `);
    const row = (dump.file(`${dir}/distance`) ?? "").trim().split(/\s+/).map((d) => parseIntStrict(d));
    const distances = online.flatMap((node, i) => {
      const distance = row[i];
      return distance === null || distance === undefined ? [] : [{ node, distance }];
    });
    return {
      id,
      cpus: cpuList(dump, `${dir}/cpulist`) ?? [],
      memTotalKiB: meminfo.get("MemTotal") ?? null,
      memFreeKiB: meminfo.get("MemFree") ?? null,
      distances,
      hugepages: sizes
        .map((size) => pool(dump, `${dir}/hugepages/hugepages-${size}kB`, size))
        .filter((p) => p.total !== null || p.free !== null || p.surplus !== null),
    };
  });
  return { fromSysfs: true, nodes };
}

export function readVirt(dump: FactsDump): VirtFacts {
  const yesNo = (v: string | undefined) => (v === "yes" ? true : v === "no" ? false : null);
  const path = textOrNull(dump.variable("virsh-path"));
  return {
    vhostNetDevice: yesNo(dump.variable("dev-vhost-net")),
    kvmDevice: yesNo(dump.variable("dev-kvm")),
    loadedModules: (dump.file("/proc/modules") ?? "")
      .split("\n")
      .map((l) => l.split(" ")[0])
      .filter((m) => m !== "")
      .sort(),
    sysfsModules: [...dump.list("/sys/module")].sort(),
    virsh: path === null ? null : { path, version: textOrNull(dump.variable("virsh-version")?.split("\n")[0]) },
  };
}
