/**
 * What a LibvirtDomain write can do about measured placement drift
 * (placement-drift.ts): memory outside a restrictive nodeset moves back live
 * (libvirt rewrites cpuset.mems, the kernel migrates the pages); memory outside
 * a strict nodeset and guest RAM in the wrong page size only change when QEMU
 * starts again. Thread affinities are the live pins' job (planLivePins).
 */
import { diffHugepages, diffMemoryNodes, diffPlacement } from "./placement-drift";
import type { ObservedPlacement } from "./placement-observed";
import type { OwnedParts } from "./types";
import { normalizeCpuset, sizeInBytes } from "./values";

export interface PlacementRepair {
  /** Every mismatch, as diffPlacement names it. */
  drift: string[];
  /** Rewrite this nodeset live (`virsh numatune --live`), even when the XML already says it. */
  nodeset?: string;
  /** Mismatches only a restart of the guest corrects. */
  needsRestart: string[];
}

const NONE: PlacementRepair = { drift: [], needsRestart: [] };

/** The guest's `<memory>` in MiB, when the parts have it. */
export function memoryMiBOf(desired: Partial<OwnedParts>): number | undefined {
  const m = desired.memory;
  return m ? Number(sizeInBytes(m.value, m.unit) / 1048576n) : undefined;
}

/** Plans the repair of what `observed` shows against `desired` (pure). */
export function planPlacementRepair(desired: Partial<OwnedParts>, observed: ObservedPlacement | null, cpusetCgroup: boolean): PlacementRepair {
  if (!observed) return NONE;
  const memoryMiB = memoryMiBOf(desired);
  const drift = diffPlacement(desired, observed, memoryMiB !== undefined ? { memoryMiB } : {});
  const memory = diffMemoryNodes(desired.numatune, observed);
  const pages = diffHugepages(desired.memoryBacking?.hugepages, observed, memoryMiB);
  const mem = desired.numatune?.memory;
  const live = memory.length > 0 && cpusetCgroup && mem?.mode === "restrictive" && (mem.placement ?? "static") === "static" && !desired.numatune?.memnode?.length && !!mem.nodeset;
  return {
    drift,
    ...(live ? { nodeset: normalizeCpuset(mem!.nodeset!) } : {}),
    needsRestart: [...(live ? [] : memory), ...pages],
  };
}
