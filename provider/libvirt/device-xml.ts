/**
 * One guest device owned by a GuestDevice resource, found by its key: an
 * interface by MAC, a block disk by target dev, a PCI host device by address.
 * Several resources can own devices of one domain this way without touching
 * each other's, and everything else in the XML stays as it is.
 */
import type { Element } from "@xmldom/xmldom";
import { attr, child, children, createChild, ensureChild, parseDomainXml, removeElement, setAttr, type DomainDocument } from "./dom";
import { applyDevices } from "./devices-apply";
import { diffOwnedParts } from "./compare";
import { ATTRS, DEVICES_ORDER, DISK_ORDER, DOMAIN_ORDER } from "./order";
import { diskKey, hostdevKey, macKey, readOwnedParts } from "./parts-read";
import { renderElementXml } from "./serialize";
import { own } from "./sync";
import type { HostdevPart, InterfacePart, PartDiff } from "./types";

export type GuestDeviceKind = "interface" | "disk" | "hostdev";

/** `<disk type='block'>` with a raw driver: what PassthroughDisk attaches. */
export interface BlockDiskPart {
  device: "disk" | "lun";
  /** `<source dev>`: a host block device path, by-id when there is one. */
  source: string;
  bus: "virtio" | "scsi";
  cache: "none" | "directsync" | "writethrough" | "writeback" | "unsafe";
  io: "native" | "io_uring" | "threads";
}

export type DevicePart =
  | { kind: "interface"; /** lower-case MAC */ key: string; part: InterfacePart }
  | { kind: "disk"; /** target dev, e.g. "vdb" */ key: string; part: BlockDiskPart }
  | { kind: "hostdev"; /** PCI address */ key: string; part: HostdevPart };

const TAG: Record<GuestDeviceKind, string> = { interface: "interface", disk: "disk", hostdev: "hostdev" };
const KEY: Record<GuestDeviceKind, (el: Element) => string | null | undefined> = { interface: macKey, disk: diskKey, hostdev: hostdevKey };

/** The devices of one kind with this key (more than one is an ambiguous domain). */
export function findDevices(doc: DomainDocument, kind: GuestDeviceKind, key: string): Element[] {
  const devices = child(doc.domain, "devices");
  return devices ? children(devices, TAG[kind]).filter((el) => KEY[kind](el) === key) : [];
}

function applyBlockDisk(doc: DomainDocument, key: string, want: BlockDiskPart): void {
  let disk = findDevices(doc, "disk", key)[0];
  if (!disk) {
    const devices = ensureChild(doc.domain, "devices", DOMAIN_ORDER);
    disk = createChild(devices, "disk", DEVICES_ORDER, [["type", "block"], ["device", want.device]]);
    createChild(disk, "target", DISK_ORDER, [["dev", key], ["bus", want.bus]]);
  }
  own(disk, "type", "block", ["type", "device"]);
  own(disk, "device", want.device, ["type", "device"]);
  const drv = child(disk, "driver") ?? createChild(disk, "driver", DISK_ORDER);
  own(drv, "name", "qemu", ATTRS.diskDriver);
  own(drv, "type", "raw", ATTRS.diskDriver);
  own(drv, "cache", want.cache, ATTRS.diskDriver);
  own(drv, "io", want.io, ATTRS.diskDriver);
  const src = child(disk, "source");
  if (!src || attr(src, "dev") !== want.source || src.attributes.length !== 1) {
    // A source of another type (file=, volume=) is rebuilt, not merged.
    if (src) removeElement(src);
    createChild(disk, "source", DISK_ORDER, [["dev", want.source]]);
  }
  const target = child(disk, "target")!;
  if (attr(target, "bus") !== want.bus) {
    setAttr(target, "bus", want.bus, ["dev", "bus"]);
    // The old bus's address cannot hold the new bus's disk; libvirt assigns a new one.
    const address = child(disk, "address");
    if (address) removeElement(address);
  }
}

/** Creates the device, or brings the one with this key to `d` in place (unowned children stay). */
export function applyDevicePart(doc: DomainDocument, d: DevicePart): void {
  if (d.kind === "disk") return applyBlockDisk(doc, d.key, d.part);
  applyDevices(doc.domain, d.kind === "interface" ? { interfaces: { [d.key]: d.part } } : { hostdevs: { [d.key]: d.part } });
}

/** Removes every device of this kind with this key. */
export function removeDevicePart(doc: DomainDocument, kind: GuestDeviceKind, key: string): void {
  for (const el of findDevices(doc, kind, key)) removeElement(el);
}

/** A new device element on its own, for `virsh attach-device`. */
export function renderDeviceXml(d: DevicePart): string {
  const doc = parseDomainXml("<domain type='kvm'><devices/></domain>");
  applyDevicePart(doc, d);
  return renderElementXml(doc, findDevices(doc, d.kind, d.key)[0]);
}

/** The device as the domain holds it (for `virsh detach-device`), or null. */
export function deviceElementXml(doc: DomainDocument, kind: GuestDeviceKind, key: string): string | null {
  const el = findDevices(doc, kind, key)[0];
  return el ? renderElementXml(doc, el) : null;
}

function readBlockDisk(el: Element): Partial<BlockDiskPart> & { type?: string } {
  const drv = child(el, "driver");
  const src = child(el, "source");
  const target = child(el, "target");
  const out: Partial<BlockDiskPart> & { type?: string; driverName?: string; format?: string } = {};
  const set = (k: string, v: string | undefined) => v !== undefined && ((out as Record<string, string>)[k] = v);
  set("type", attr(el, "type"));
  set("device", attr(el, "device") ?? "disk");
  set("source", src ? attr(src, "dev") ?? attr(src, "file") : undefined);
  set("bus", target ? attr(target, "bus") : undefined);
  set("cache", drv ? attr(drv, "cache") : undefined);
  set("io", drv ? attr(drv, "io") : undefined);
  set("format", drv ? attr(drv, "type") : undefined);
  return out;
}

/** The device with this key as the domain holds it, or null. */
export function readDevicePart(doc: DomainDocument, kind: GuestDeviceKind, key: string): DevicePart | null {
  const el = findDevices(doc, kind, key)[0];
  if (!el) return null;
  if (kind === "disk") return { kind, key, part: readBlockDisk(el) as BlockDiskPart };
  const parts = readOwnedParts(doc);
  return kind === "interface" ? { kind, key, part: parts.interfaces[key]! } : { kind, key, part: parts.hostdevs[key]! };
}

/** Every owned value of `desired` that the domain's device does not have; the device missing is one diff. */
export function diffDevicePart(desired: DevicePart, doc: DomainDocument): PartDiff[] {
  if (desired.kind !== "disk") {
    const want = desired.kind === "interface" ? { interfaces: { [desired.key]: desired.part } } : { hostdevs: { [desired.key]: desired.part } };
    return diffOwnedParts(want, readOwnedParts(doc));
  }
  const p = `devices.disk[${desired.key}]`;
  const el = findDevices(doc, "disk", desired.key)[0];
  if (!el) return [{ path: p, from: null, to: `block ${desired.part.source}` }];
  const have = readBlockDisk(el) as Record<string, string | undefined>;
  const want: Record<string, string> = { type: "block", format: "raw", ...desired.part };
  const diffs: PartDiff[] = [];
  for (const k of ["type", "device", "source", "bus", "format", "cache", "io"]) {
    if (have[k] !== want[k]) diffs.push({ path: k === "format" || k === "cache" || k === "io" ? `${p}.driver.${k === "format" ? "type" : k}` : `${p}.${k}`, from: have[k] ?? null, to: want[k] });
  }
  return diffs;
}
