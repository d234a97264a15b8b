/**
 * Applying the owned device parts: disk driver attributes (by target dev),
 * interfaces (by MAC) and host devices (by source). Devices are found by key;
 * every other device and every unowned child of an owned one is left alone.
 */
import type { Element } from "@xmldom/xmldom";
import { isPciAddress } from "../host/sysfs-parse";
import { attr, child, children, createChild, ensureChild, insertChild, makeElement, removeElement, setAttr, type DomainDocument } from "./dom";
import { ATTRS, DEVICES_ORDER, DOMAIN_ORDER, HOSTDEV_ORDER, INTERFACE_ORDER } from "./order";
import { diskKey, hostdevKey, macKey, sourcePciAddress } from "./parts-read";
import { own } from "./sync";
import type { DiskDriver, HostdevPart, InterfaceDriver, InterfacePart, InterfaceSource, OwnedParts } from "./types";
import { normalizeMac, pciAddressAttributes } from "./values";

function findAll(domain: Element, tag: string, key: (el: Element) => string | null | undefined, wanted: string): Element[] {
  const devices = child(domain, "devices");
  return devices ? children(devices, tag).filter((el) => key(el) === wanted) : [];
}


/** Problems only the document can reveal: unknown disks, ambiguous keys, devices that cannot be created. */
export function deviceProblems(doc: DomainDocument, parts: Partial<OwnedParts>): string[] {
  const problems: string[] = [];
  for (const dev of Object.keys(parts.disks ?? {})) {
    const n = findAll(doc.domain, "disk", diskKey, dev).length;
    if (n !== 1) problems.push(`devices.disk[${dev}]: ${n === 0 ? "no disk has this target dev" : "several disks have this target dev"}`);
  }
  for (const [mac, p] of Object.entries(parts.interfaces ?? {})) {
    const found = findAll(doc.domain, "interface", macKey, normalizeMac(mac));
    const n = found.length;
    if (n === 1 && p?.type !== undefined && p.type !== attr(found[0], "type") && p.source === undefined) {
      problems.push(`devices.interface[${mac}]: changing the type to '${p.type}' needs its source too`);
    }
    if (n > 1) problems.push(`devices.interface[${mac}]: several interfaces have this MAC`);
    if (n === 0 && p && !p.type) problems.push(`devices.interface[${mac}]: a new interface needs a type`);
    if (n === 0 && p?.type === "hostdev" && !p.source?.pciAddress) problems.push(`devices.interface[${mac}]: a new hostdev interface needs source.pciAddress`);
  }
  for (const [key, p] of Object.entries(parts.hostdevs ?? {})) {
    const n = findAll(doc.domain, "hostdev", hostdevKey, key).length;
    if (n > 1) problems.push(`devices.hostdev[${key}]: several host devices have this source`);
    if (n === 0 && p && !isPciAddress(key)) problems.push(`devices.hostdev[${key}]: only PCI host devices (keyed by address) can be created`);
    if (n === 0 && p && p.type !== undefined && p.type !== "pci") problems.push(`devices.hostdev[${key}]: only type 'pci' can be created`);
  }
  return problems;
}

function applyDiskDriver(disk: Element, want: DiskDriver | null): void {
  const names = ["name", "type", "cache", "io", "discard", "iothread", "queues"] as const;
  let drv = child(disk, "driver");
  if (want === null) {
    if (!drv) return;
    for (const n of names) setAttr(drv, n, null);
    if (drv.attributes.length === 0 && children(drv).length === 0) removeElement(drv);
    return;
  }
  if (!names.some((n) => want[n] !== undefined && want[n] !== null) && !drv) return;
  // libvirt prints <driver> first in a disk.
  drv ??= insertChild(disk, makeElement(disk, "driver"), children(disk)[0] ?? null);
  for (const n of names) own(drv, n, want[n], ATTRS.diskDriver);
}

function sameSource(src: Element, want: InterfaceSource): boolean {
  const have: Record<string, string> = {};
  for (let i = 0; i < src.attributes.length; i++) have[src.attributes.item(i)!.name] = src.attributes.item(i)!.value;
  const a = Object.keys(have).sort();
  const b = Object.keys(want.attributes).sort();
  return a.join("\0") === b.join("\0") && a.every((k) => have[k] === want.attributes[k]) &&
    (sourcePciAddress(src) ?? undefined) === want.pciAddress;
}

function applySource(iface: Element, want: InterfaceSource | null): void {
  const src = child(iface, "source");
  if (src && want && sameSource(src, want)) return;
  // The source is owned whole: a changed one is rebuilt.
  if (src) removeElement(src);
  if (want === null) return;
  const el = createChild(iface, "source", INTERFACE_ORDER, Object.entries(want.attributes));
  if (want.pciAddress) createChild(el, "address", [], [["type", "pci"], ...pciAddressAttributes(want.pciAddress)]);
}

function applyNetDriver(iface: Element, want: InterfaceDriver | null): void {
  const names = ["name", "queues", "rx_queue_size", "tx_queue_size"] as const;
  let drv = child(iface, "driver");
  if (want === null) {
    if (!drv) return;
    for (const n of names) setAttr(drv, n, null);
    if (drv.attributes.length === 0 && children(drv).length === 0) removeElement(drv);
    return;
  }
  // queues='1' is libvirt's default and never in its dump: writing it would redefine the domain on every update.
  const value = (n: (typeof names)[number]) => (n === "queues" && want.queues === 1 ? null : want[n]);
  if (!drv && !names.some((n) => value(n) != null)) return;
  drv ??= createChild(iface, "driver", INTERFACE_ORDER);
  for (const n of names) own(drv, n, value(n), ATTRS.netDriver);
  // An empty <driver/> is dropped by libvirt too.
  if (drv.attributes.length === 0 && children(drv).length === 0) removeElement(drv);
}

/** An optional single-attribute child such as <model type> or <mtu size>. */
function applyLeaf(parent: Element, tag: string, name: string, value: string | number | null | undefined): void {
  if (value === undefined) return;
  const el = child(parent, tag);
  if (value === null) {
    if (el) removeElement(el);
  } else own(el ?? createChild(parent, tag, INTERFACE_ORDER), name, value, [name]);
}

function applyInterface(domain: Element, mac: string, want: InterfacePart | null): void {
  let iface = findAll(domain, "interface", macKey, normalizeMac(mac))[0];
  if (want === null) {
    if (iface) removeElement(iface);
    return;
  }
  if (!iface) {
    const devices = ensureChild(domain, "devices", DOMAIN_ORDER);
    // A VF given as a hostdev interface is bound to vfio-pci by libvirt (managed).
    iface = createChild(devices, "interface", DEVICES_ORDER, want.type === "hostdev" ? [["type", want.type], ["managed", "yes"]] : [["type", want.type!]]);
    createChild(iface, "mac", INTERFACE_ORDER, [["address", normalizeMac(mac)]]);
  }
  own(iface, "type", want.type, ATTRS.interface);
  if (want.source !== undefined) applySource(iface, want.source);
  applyLeaf(iface, "model", "type", want.model);
  if (want.driver !== undefined) applyNetDriver(iface, want.driver);
  applyLeaf(iface, "mtu", "size", want.mtu);
  if (want.vlan !== undefined) {
    const old = child(iface, "vlan");
    const tags = old ? children(old, "tag") : [];
    const same = want.vlan === null ? !old : tags.length === 1 && attr(tags[0], "id") === String(want.vlan);
    if (!same) {
      if (old) removeElement(old);
      if (want.vlan !== null) createChild(createChild(iface, "vlan", INTERFACE_ORDER), "tag", [], [["id", String(want.vlan)]]);
    }
  }
}

function applyHostdev(domain: Element, key: string, want: HostdevPart | null): void {
  let hd = findAll(domain, "hostdev", hostdevKey, key)[0];
  if (want === null) {
    if (hd) removeElement(hd);
    return;
  }
  if (!hd) {
    const devices = ensureChild(domain, "devices", DOMAIN_ORDER);
    hd = createChild(devices, "hostdev", DEVICES_ORDER, [["mode", "subsystem"], ["type", "pci"]]);
    const src = createChild(hd, "source", HOSTDEV_ORDER);
    createChild(src, "address", [], pciAddressAttributes(key));
  }
  own(hd, "managed", want.managed === undefined || want.managed === null ? want.managed : want.managed ? "yes" : "no", ATTRS.hostdev);
}

/** Applies `parts.disks`, `parts.interfaces` and `parts.hostdevs` (already validated). */
export function applyDevices(domain: Element, parts: Partial<OwnedParts>): void {
  for (const [dev, p] of Object.entries(parts.disks ?? {})) {
    if (p.driver !== undefined) applyDiskDriver(findAll(domain, "disk", diskKey, dev)[0], p.driver);
  }
  for (const [mac, p] of Object.entries(parts.interfaces ?? {})) applyInterface(domain, mac, p);
  for (const [key, p] of Object.entries(parts.hostdevs ?? {})) applyHostdev(domain, key, p);
}
