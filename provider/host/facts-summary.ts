import { formatCpuList } from "./sysfs-parse";
import type { HostFacts } from "./facts";

/** What a reviewer wants to see about a host in stack outputs: small and stable. */
export interface HostFactsSummary {
  hostname: string | null;
  kernel: string | null;
  cpus: number;
  numaNodes: { node: number; cpus: string; memoryMiB: number | null }[];
  hugepageSizes: string[];
  thpModes: string[];
  vhostNet: boolean | null;
  managementInterface: string | null;
}

export function summariseFacts(f: HostFacts): HostFactsSummary {
  return {
    hostname: f.hostname,
    kernel: f.kernel.release,
    cpus: f.cpu.count,
    numaNodes: f.numaNodes.map((n) => ({ node: n.id, cpus: formatCpuList(n.cpus), memoryMiB: n.memTotalKiB === null ? null : Math.floor(n.memTotalKiB / 1024) })),
    hugepageSizes: f.memory.hugepages.map((p) => (p.sizeKiB >= 1048576 ? `${p.sizeKiB / 1048576}G` : `${p.sizeKiB / 1024}M`)),
    thpModes: f.memory.thp?.enabled.offered ?? [],
    vhostNet: f.virt.vhostNetDevice,
    managementInterface: f.network.ssh?.interface ?? null,
  };
}
