import { formatCpuList } from "../host/sysfs-parse";
import type { CpuMode, OwnedParts } from "../libvirt/types";
import type { PlacementPlan } from "./placement-types";

export interface GuestPartsOptions {
  /**
   * `<cpu mode>`: host-passthrough (default; what the talk recommends for
   * performance), host-model, or maximum (TCG hosts and tests).
   */
  cpuMode?: Exclude<CpuMode, "custom">;
  /** libosinfo id so libvirt picks virtio defaults for the guest OS. */
  osinfo?: string | null;
  /**
   * `<memoryBacking><locked/>`: the guest's memory (and QEMU's own) is never swapped out; libvirt
   * raises the QEMU process's memlock limit for it. With hugepages it joins the hugepage backing;
   * without, it is emitted alone (`{ hugepages: null, locked: true }`, which libvirt accepts).
   */
  lockedMemory?: boolean;
}

/**
 * The domain XML parts a placement plan owns: vCPU count and pins, emulator and
 * iothread pins, numatune with one memnode per guest cell, hugepage backing on
 * the plan's nodes, and a `<cpu>` whose topology and NUMA cells mirror the pinned
 * host cores. Pure: the LibvirtDomain resource applies these to the host's XML.
 */
export function planToDomainParts(plan: PlacementPlan, opts: GuestPartsOptions = {}): Partial<OwnedParts> {
  const cells = plan.cells.length > 1 ? plan.cells : [];
  const parts: Partial<OwnedParts> = {
    memory: { value: plan.memoryMiB, unit: "MiB" },
    vcpu: { count: plan.vcpuPins.length, placement: "static", cpuset: null, current: null },
    iothreads: plan.iothreadPins.length ? { count: plan.iothreadPins.length } : null,
    cputune: {
      vcpupin: plan.vcpuPins.map((cpu, vcpu) => ({ vcpu, cpuset: String(cpu) })),
      emulatorpin: plan.emulatorCpus.length ? { cpuset: formatCpuList(plan.emulatorCpus) } : null,
      iothreadpin: plan.iothreadPins.map((p) => ({ iothread: p.iothread, cpuset: formatCpuList(p.cpus) })),
    },
    numatune: {
      memory: { mode: plan.numaMode, nodeset: formatCpuList(plan.nodeset) },
      memnode: cells.map((c) => ({ cellid: c.id, mode: plan.numaMode, nodeset: String(c.hostNode) })),
    },
    memoryBacking: plan.hugepageSizeKiB
      ? { hugepages: [{ size: plan.hugepageSizeKiB, unit: "KiB", nodeset: cells.length ? formatCpuList(cells.map((c) => c.id)) : undefined }], locked: opts.lockedMemory ?? false }
      : opts.lockedMemory
        ? { hugepages: null, locked: true }
        : null,
    cpu: {
      mode: opts.cpuMode ?? "host-passthrough",
      topology: { sockets: plan.topology.sockets, cores: plan.topology.cores, threads: plan.topology.threads },
      numa: cells.length ? cells.map((c) => ({ id: c.id, cpus: formatCpuList(c.vcpus), memory: c.memoryMiB, unit: "MiB" })) : null,
    },
  };
  if (opts.osinfo !== undefined) parts.osinfo = opts.osinfo;
  const page = parts.memoryBacking?.hugepages?.[0];
  if (page && !page.nodeset) delete page.nodeset;
  return parts;
}

/** `{ vcpu: hostCpu }` for outputs and reviews. */
export function pinMap(plan: PlacementPlan): Record<string, number> {
  return Object.fromEntries(plan.vcpuPins.map((cpu, vcpu) => [`vcpu${vcpu}`, cpu]));
}
