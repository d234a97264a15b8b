/**
 * PassthroughDisk preflight: may this host block device be given to a guest as
 * a `<disk type='block'>`, and under which stable source path?
 *
 * `planBlockPassthrough` is pure. It takes the host facts, the request, and
 * what the host said about the path (`resolveBlockDevice`, one remote command)
 * plus the disks other libvirt domains already use (`virsh domblklist`), and
 * returns a plan or every reason it refuses, each naming the field, the value
 * and the mount / swap / holder / domain in the way.
 */
import { checkBlockPath, type ResolvedBlockDevice } from "../host/block-preflight";
import type { HostFacts } from "../host/facts";
import { blockUsage, describeUse, devPathOf, findBlock, rootDisks } from "./passthrough-host";

export const DISK_DEVICES = ["disk", "lun"] as const;
export const DISK_BUSES = ["virtio", "scsi"] as const;
export const DISK_CACHES = ["none", "directsync", "writethrough", "writeback", "unsafe"] as const;
export const DISK_IOS = ["native", "io_uring", "threads"] as const;

export type DiskDevice = (typeof DISK_DEVICES)[number];
export type DiskBus = (typeof DISK_BUSES)[number];
export type DiskCache = (typeof DISK_CACHES)[number];
export type DiskIo = (typeof DISK_IOS)[number];

/** What the user asked for. */
export interface BlockPassthroughRequest {
  /** Host path of the block device, e.g. "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4" or "/dev/sdb". */
  path: string;
  /** libvirt `<disk device>`: "disk" (default) or "lun" (SCSI commands passed through; needs bus "scsi"). */
  device?: DiskDevice;
  /** `<target bus>`: "virtio" (default) or "scsi" (virtio-scsi). */
  bus?: DiskBus;
  /** `<driver cache>`, default "none" (host page cache bypassed). */
  cache?: DiskCache;
  /** `<driver io>`, default "native"; "native" needs cache "none" or "directsync". */
  io?: DiskIo;
}

/** A disk another (or this) libvirt domain has, as `virsh domblklist --details` lists it. */
export interface DomainDiskAttachment {
  domain: string;
  /** Source path as libvirt shows it; "-" (empty CD-ROM) is ignored. */
  source: string;
}

export interface BlockPassthroughContext {
  /** The host's answer for `request.path` (resolveBlockDevice). */
  resolved: ResolvedBlockDevice;
  /** Disks of the host's libvirt domains. */
  attachments?: readonly DomainDiskAttachment[];
  /** The guest this disk is for: its own attachments are not conflicts. */
  domain?: string;
}

export interface BlockPassthroughPlan {
  /** `<source dev>`: a /dev/disk/by-id path when one exists, else the kernel path. */
  source: string;
  /** True when `source` is a /dev/disk/by-id path. */
  stableSource: boolean;
  /** Kernel name, e.g. "sdb" or "sdb1". */
  name: string;
  /** Whole disk it is or lives on. */
  disk: string;
  partition: number | null;
  realpath: string;
  majorMinor: string;
  sizeBytes: number | null;
  device: DiskDevice;
  bus: DiskBus;
  cache: DiskCache;
  io: DiskIo;
  /** Things worth knowing that do not stop the plan. */
  notes: string[];
}

export type BlockPassthroughResult = { ok: true; plan: BlockPassthroughPlan } | { ok: false; reasons: string[] };

/** Rank of a by-id link: WWN first, NVMe EUI next, dm names (renameable) last. */
function byIdRank(path: string): number {
  const link = path.slice(path.lastIndexOf("/") + 1);
  if (link.startsWith("wwn-")) return 0;
  if (link.startsWith("nvme-eui.")) return 1;
  if (link.startsWith("dm-name-")) return 3;
  return 2;
}

/** The preferred stable name among by-id paths; deterministic (rank, then code-unit order). */
export function preferredById(paths: readonly string[]): string | null {
  const sorted = [...paths].sort((a, b) => byIdRank(a) - byIdRank(b) || (a < b ? -1 : a > b ? 1 : 0));
  return sorted[0] ?? null;
}

function oneOf<T extends string>(field: string, value: unknown, accepted: readonly T[], fallback: T, reasons: string[]): T {
  if (value === undefined) return fallback;
  if (typeof value === "string" && (accepted as readonly string[]).includes(value)) return value as T;
  reasons.push(`${field} ${JSON.stringify(value)} is not accepted; expected one of ${accepted.map((a) => JSON.stringify(a)).join(", ")}`);
  return fallback;
}

const KIND_TEXT: Record<string, string> = {
  char: "a character device",
  directory: "a directory",
  file: "a regular file",
  fifo: "a FIFO",
  socket: "a socket",
  other: "not a block device",
};

/** Every path under which libvirt could name this device or, for a whole disk, one of its partitions. */
function aliases(facts: HostFacts, request: string, r: ResolvedBlockDevice, name: string): Map<string, string> {
  const names = new Map<string, string>(); // alias -> kernel name it denotes
  const add = (alias: string | null | undefined, of: string) => alias && names.set(alias, of);
  add(request, name);
  add(r.realpath, name);
  add(devPathOf(name), name);
  for (const b of r.byId) add(b, name);
  const e = findBlock(facts, name);
  if (e) {
    const own = e.partition ? e.partition.byId : e.device.byId;
    for (const b of own) add(b, name);
    if (!e.isPartition && e.device.dmName) add(`/dev/mapper/${e.device.dmName}`, name);
    if (!e.isPartition) {
      for (const p of e.device.partitions) {
        add(devPathOf(p.name), p.name);
        for (const b of p.byId) add(b, p.name);
      }
    } else {
      // a domain using the whole disk also uses this partition
      add(devPathOf(e.disk), e.disk);
      for (const b of e.device.byId) add(b, e.disk);
    }
  }
  return names;
}

/** The request's options with their defaults, and every problem with them (no host needed). */
export function blockOptions(request: Omit<BlockPassthroughRequest, "path">): { device: DiskDevice; bus: DiskBus; cache: DiskCache; io: DiskIo; reasons: string[] } {
  const reasons: string[] = [];
  const device = oneOf("device", request.device, DISK_DEVICES, "disk", reasons);
  const bus = oneOf("bus", request.bus, DISK_BUSES, "virtio", reasons);
  const cache = oneOf("cache", request.cache, DISK_CACHES, "none", reasons);
  const io = oneOf("io", request.io, DISK_IOS, "native", reasons);
  if (device === "lun" && bus !== "scsi") {
    reasons.push(`device "lun" needs bus "scsi" (SCSI commands go through virtio-scsi), got bus ${JSON.stringify(bus)}`);
  }
  if (io === "native" && cache !== "none" && cache !== "directsync") {
    reasons.push(`io "native" needs cache "none" or "directsync" (O_DIRECT), got cache ${JSON.stringify(cache)}; use io "io_uring" or "threads" with a host-cached mode`);
  }
  return { device, bus, cache, io, reasons };
}

export function planBlockPassthrough(facts: HostFacts, request: BlockPassthroughRequest, ctx: BlockPassthroughContext): BlockPassthroughResult {
  const { device, bus, cache, io, reasons } = blockOptions(request);

  const pathProblems = checkBlockPath(request.path);
  if (pathProblems.length) return { ok: false, reasons: [...pathProblems, ...reasons] };
  const path = request.path;
  const shown = JSON.stringify(path);
  const on = facts.hostname ? ` on ${facts.hostname}` : "";
  const r = ctx.resolved;
  if (r.path !== path) {
    return { ok: false, reasons: [...reasons, `path ${shown}: the host's answer is for ${JSON.stringify(r.path)}, not this path`] };
  }

  if (!r.isBlock) {
    const target = r.realpath && r.realpath !== path ? `resolves to ${r.realpath}, ` : "is ";
    const outside = r.realpath && !r.realpath.startsWith("/dev/") ? " outside /dev" : "";
    const what = r.kind === "missing" ? (r.realpath && r.realpath !== path ? `resolves to ${r.realpath}, which does not exist${on}` : `does not exist${on}`) : `${target}${KIND_TEXT[r.kind]}${outside}, not a block device`;
    return { ok: false, reasons: [...reasons, `path ${shown} ${what}`] };
  }
  if (r.realpath === null || !r.realpath.startsWith("/dev/")) {
    return { ok: false, reasons: [...reasons, `path ${shown} resolves to ${r.realpath ?? "an unknown path"}, a block device node outside /dev; use the host's own /dev node or a /dev/disk/by-id link`] };
  }
  if (r.name === null || r.disk === null || r.majorMinor === null) {
    return { ok: false, reasons: [...reasons, `path ${shown} is a block device (${r.realpath}) the kernel has no /sys/dev/block entry for`] };
  }

  const name = r.name;
  const e = findBlock(facts, name);
  const dmName = e && !e.isPartition ? e.device.dmName : null;
  const who = `path ${shown} (${name}${dmName ? `, ${dmName}` : ""})`;
  if (!e) {
    return {
      ok: false,
      reasons: [...reasons, `${who} is not among the host's block devices in the facts (an unused loop/ram device, or one that appeared after the facts were read); read the facts again`],
    };
  }

  for (const use of blockUsage(facts, e, r.loops)) reasons.push(describeUse(use, e, who));

  const root = rootDisks(facts);
  if (root.disks.includes(e.disk)) {
    reasons.push(e.isPartition ? `${who} is on the root disk ${e.disk}: ${root.description}` : `${who} is the root disk: ${root.description}`);
  }

  const own = aliases(facts, path, r, name);
  const conflicts = new Map<string, string[]>();
  for (const a of ctx.attachments ?? []) {
    if (a.source === "-" || a.source === "" || (ctx.domain !== undefined && a.domain === ctx.domain)) continue;
    const hit = own.get(a.source);
    if (hit === undefined) continue;
    const what = hit === name ? a.source : `${a.source} (${hit === e.disk ? "its whole disk" : `partition ${hit}`})`;
    conflicts.set(a.domain, [...(conflicts.get(a.domain) ?? []), what]);
  }
  for (const [domain, sources] of [...conflicts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    reasons.push(`${who} is attached to libvirt domain ${JSON.stringify(domain)} as ${sources.join(", ")}`);
  }

  const sizeBytes = e.partition ? e.partition.sizeBytes : e.device.sizeBytes;
  if (sizeBytes === 0) reasons.push(`${who} has size 0 (no medium, or an empty device)`);
  if (device === "lun" && e.isPartition) reasons.push(`${who}: device "lun" needs a whole disk, not partition ${name} of ${e.disk}`);

  if (reasons.length) return { ok: false, reasons };

  const notes: string[] = [];
  const stable = preferredById(r.byId);
  if (stable === null) {
    notes.push(`no /dev/disk/by-id link points to ${name}: the source stays the kernel path ${devPathOf(name)}, which can name another disk after a reboot or a hot-plug`);
  }
  if (device === "lun" && !/^(sd|dm-)/.test(e.disk)) {
    notes.push(`device "lun" passes SCSI commands (SG_IO) through; ${e.disk} is not a SCSI disk, so qemu may refuse it`);
  }
  if (!e.isPartition && e.device.readOnly) notes.push(`${name} is read-only on the host; the guest gets it read-only`);
  return {
    ok: true,
    plan: {
      source: stable ?? devPathOf(name),
      stableSource: stable !== null,
      name,
      disk: e.disk,
      partition: e.isPartition ? (e.partition?.number ?? r.partition) : null,
      realpath: r.realpath,
      majorMinor: r.majorMinor,
      sizeBytes,
      device,
      bus,
      cache,
      io,
      notes,
    },
  };
}
