/** Result types of the placement planner: plain JSON, safe to keep in Pulumi state. */
import type { NumaMode } from "./request";

/** Guest `<cpu><topology>`: mirrors the pinned host cores (threads > 1 only when every core carries that many vCPUs). */
export interface GuestCpuTopology {
  /** One socket per guest NUMA cell. */
  sockets: number;
  cores: number;
  threads: number;
}

/** A guest NUMA cell (libvirt `<cell>`) and the host node it is bound to (`<memnode cellid mode nodeset>`). */
export interface GuestCellPlan {
  id: number;
  hostNode: number;
  /** Guest vCPU ids in this cell (contiguous). */
  vcpus: number[];
  memoryMiB: number;
}

/** Hugepages a plan takes from one host node's pool. */
export interface HugepageNeed {
  node: number;
  sizeKiB: number;
  pages: number;
}

/** One iothread's pinning (libvirt iothread ids start at 1). */
export interface IothreadPin {
  iothread: number;
  cpus: number[];
}

/** Where a guest runs on one host. */
export interface PlacementPlan {
  name: string;
  /** vcpuPins[i] is the host CPU vCPU i is pinned to. */
  vcpuPins: number[];
  /** Emulator cpuset (libvirt `<emulatorpin>`), sorted. */
  emulatorCpus: number[];
  iothreadPins: IothreadPin[];
  numaMode: NumaMode;
  /** Host nodes of the guest's memory (`<numatune><memory nodeset>`), sorted. */
  nodeset: number[];
  /** One per guest NUMA cell, in cell id order (host nodes ascending). */
  cells: GuestCellPlan[];
  topology: GuestCpuTopology;
  memoryMiB: number;
  /** Page size in KiB; null for normal pages. */
  hugepageSizeKiB: number | null;
  /** Pages per host node; empty for normal pages. */
  hugepages: HugepageNeed[];
  /** Every host CPU this guest owns exclusively (vCPUs, idle siblings, a dedicated emulator core), sorted. */
  reservedCpus: number[];
  /** The part of reservedCpus kept idle by threadPolicy "isolate", sorted. */
  idleSiblings: number[];
}

/** A plan (with notes worth a warning, e.g. a "preferred" device affinity not met), or every reason the guest does not fit. */
export type PlacementResult = { ok: true; plan: PlacementPlan; notes?: string[] } | { ok: false; name: string; reasons: string[] };

/** Planner options shared by planPlacement and HostLedger. */
export interface PlacementOptions {
  /**
   * "existing" (default): hugepages must come from the pools the host has now
   * (pool totals minus what earlier plans on the host take).
   * "grow": pools may grow into the node's normal memory; use planHugepageBudget
   * afterwards to size them on the host.
   */
  hugepagePools?: "existing" | "grow";
  /**
   * Why some planned pages are not in the pools, per page size (KiB); added to a refusal
   * for lack of pages of that size (futureHostTopology's `notes`).
   */
  hugepagePoolNotes?: Record<number, string>;
}
