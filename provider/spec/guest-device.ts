/**
 * GuestDevice's inputs and their static checks: every problem at once, before
 * anything connects. What needs the host (vCPUs, bridges, the block device, the
 * IOMMU group) is checked by the plan in provider/plan/guest-device.ts.
 */
import { checkBlockPath } from "../host/block-preflight";
import { domainNameProblem } from "../libvirt/virsh";
import { blockOptions, type BlockPassthroughRequest } from "../plan/passthrough-block";
import { checkPciAddress } from "../plan/passthrough-pci";
import { macProblems, vhostRequestProblems } from "../plan/vhost-net";
import { startCheck, type Failure } from "./check-failures";
import { capText, showValue } from "./issues";
import type { StepTimeouts } from "./timeouts";

/** A guest network interface, keyed by MAC. */
export interface InterfaceDeviceInput {
  /** "bridge", "network" or "direct" (virtio with the vhost backend), or "hostdev" (an SR-IOV VF by PCI address). */
  type: "bridge" | "network" | "direct" | "hostdev";
  /** Bridge, libvirt network or host NIC name; for "hostdev" the VF's PCI address. */
  source: string;
  /** Lower-case unicast MAC (the device's key). */
  mac: string;
  /** virtio queues; default min(guest vCPUs, 8). Not for "hostdev". */
  queues?: number;
  /** Guest MTU (68-65535), at most the bridge's. Not for "hostdev". */
  mtu?: number;
  /** virtio ring sizes: 256, 512 or 1024. */
  rxQueueSize?: number;
  txQueueSize?: number;
  /** 802.1Q VLAN tag (0-4095); "hostdev" and "network" only (a Linux bridge cannot tag per port). */
  vlan?: number;
}

/** A host block device given whole to the guest, keyed by target dev. */
export interface DiskDeviceInput extends BlockPassthroughRequest {
  /** Guest target dev: "vdX" for bus virtio, "sdX" for bus scsi. */
  target: string;
}

/** A PCI function assigned to the guest, keyed by address. */
export interface HostdevDeviceInput {
  /** "DDDD:BB:DD.F". */
  address: string;
  /** libvirt binds vfio-pci at start and gives the device back at stop (default true). */
  managed?: boolean;
}

export interface GuestDeviceInputs {
  connection: unknown;
  /** The libvirt domain the device belongs to (it must exist). */
  domain: string;
  interface?: InterfaceDeviceInput;
  disk?: DiskDeviceInput;
  hostdev?: HostdevDeviceInput;
  /** Also change the running domain (`--live`) when it runs; default true. */
  live?: boolean;
  /** Problems the program already found against the host's facts; reported by check. */
  hostProblems?: string[];
  /** Who owns this device in the host's journal of originals: the stack and the resource's name. */
  owner?: { stack: string; resource: string };
  /** The component's customTimeouts: each remote command of an operation is bounded by that operation's duration. */
  timeouts?: StepTimeouts;
}

export const DEVICE_FIELDS = ["connection", "domain", "interface", "disk", "hostdev", "live", "hostProblems", "owner", "timeouts"];
const INTERFACE_FIELDS = ["type", "source", "mac", "queues", "mtu", "rxQueueSize", "txQueueSize", "vlan"];
const DISK_FIELDS = ["path", "target", "device", "bus", "cache", "io"];
const HOSTDEV_FIELDS = ["address", "managed"];


/** Unknown fields named one by one per object; the rest are counted, so a typo'd map cannot make thousands of failures. */
const MAX_UNKNOWN_FIELDS = 10;

function unknownFields(where: string, value: object, accepted: string[]): string[] {
  const unknown = Object.keys(value).filter((k) => !accepted.includes(k));
  const named = unknown.slice(0, MAX_UNKNOWN_FIELDS).map((k) => `${where}.${capText(k, 80)}: unknown field; accepted fields: ${accepted.join(", ")}`);
  return unknown.length > MAX_UNKNOWN_FIELDS ? [...named, `${where}: \u2026 and ${unknown.length - MAX_UNKNOWN_FIELDS} more unknown fields`] : named;
}

function interfaceProblems(i: InterfaceDeviceInput): string[] {
  const out = unknownFields("interface", i, INTERFACE_FIELDS);
  const types = ["bridge", "network", "direct", "hostdev"];
  if (!types.includes(i.type)) out.push(`interface.type: ${showValue(i.type)} is not accepted; expected one of ${types.map((t) => JSON.stringify(t)).join(", ")}`);
  if (i.mac === undefined) out.push("interface.mac: required (the interface's key)");
  if (i.type === "hostdev") {
    out.push(...checkPciAddress(i.source, "interface.source"));
    for (const k of ["queues", "mtu", "rxQueueSize", "txQueueSize"] as const) {
      if (i[k] !== undefined) out.push(`interface.${k}: not accepted for type "hostdev" (a VF has its own queues and MTU, set on the host)`);
    }
    if (i.mac !== undefined) out.push(...macProblems(i.mac, "interface.mac"));
  } else {
    out.push(...vhostRequestProblems({ ...i, type: i.type as "bridge" }).map((p) => `interface.${p}`));
  }
  if (i.vlan !== undefined) {
    if (!Number.isInteger(i.vlan) || i.vlan < 0 || i.vlan > 4095) out.push(`interface.vlan: ${showValue(i.vlan)} is not accepted; expected a VLAN id from 0 to 4095`);
    else if (i.type === "bridge" || i.type === "direct") out.push(`interface.vlan: not accepted for type ${JSON.stringify(i.type)}; tag on the host, or use type "hostdev" or an Open vSwitch "network"`);
  }
  return out;
}

const TARGET = /^(vd|sd)[a-z]{1,3}$/;

function diskProblems(d: DiskDeviceInput): string[] {
  const out = unknownFields("disk", d, DISK_FIELDS);
  out.push(...checkBlockPath(d.path, "disk.path"));
  const { bus, reasons } = blockOptions(d);
  out.push(...reasons.map((r) => `disk.${r}`));
  if (typeof d.target !== "string" || !TARGET.test(d.target)) out.push(`disk.target: ${showValue(d.target)} is not accepted; expected a guest disk name such as "vdb" (bus virtio) or "sdb" (bus scsi)`);
  else if ((bus === "virtio") !== d.target.startsWith("vd")) out.push(`disk.target: ${JSON.stringify(d.target)} does not fit bus ${JSON.stringify(bus)}; expected ${bus === "virtio" ? '"vdX"' : '"sdX"'}`);
  return out;
}

function hostdevProblems(h: HostdevDeviceInput): string[] {
  const out = unknownFields("hostdev", h, HOSTDEV_FIELDS);
  out.push(...checkPciAddress(h.address, "hostdev.address"));
  if (h.managed !== undefined && typeof h.managed !== "boolean") out.push(`hostdev.managed: ${showValue(h.managed)} is not accepted; expected true or false`);
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Every problem with `input`, as check failures (property = the top-level input). Unknown values (preview) are skipped. */
export function deviceInputProblems(input: Record<string, unknown>): Failure[] {
  const { news, failures, fail } = startCheck(input, DEVICE_FIELDS);
  if ("domain" in news) {
    const p = domainNameProblem(news.domain, "domain");
    if (p) fail("domain", [p]);
  }
  const kinds = (["interface", "disk", "hostdev"] as const).filter((k) => input[k] !== undefined);
  if (kinds.length !== 1) fail(kinds[1] ?? "interface", [`exactly one of interface, disk and hostdev is needed; got ${kinds.length === 0 ? "none" : kinds.join(" and ")}`]);
  const check = <T>(k: "interface" | "disk" | "hostdev", f: (v: T) => string[]) => {
    if (news[k] === undefined) return;
    fail(k, isObject(news[k]) ? f(news[k] as T) : [`${k}: ${showValue(news[k])} is not accepted; expected an object`]);
  };
  check("interface", interfaceProblems);
  check("disk", diskProblems);
  check("hostdev", hostdevProblems);
  if (news.live !== undefined && typeof news.live !== "boolean") fail("live", [`live: ${showValue(news.live)} is not accepted; expected true or false`]);
  const found = news.hostProblems;
  if (Array.isArray(found) && found.length) fail(kinds[0] ?? "interface", found.map(String));
  return failures;
}
