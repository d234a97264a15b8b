/**
 * GuestDevice preflight: turns validated inputs plus what the host said (facts,
 * the domain's XML, libvirt's networks and disks, the resolved block device)
 * into the one owned device, or every reason it cannot be attached. Pure.
 */
import type { ResolvedBlockDevice } from "../host/block-preflight";
import type { HostFacts } from "../host/facts";
import { attr, type DomainDocument } from "../libvirt/dom";
import type { DevicePart } from "../libvirt/device-xml";
import { readOwnedParts } from "../libvirt/parts-read";
import type { LibvirtInventory } from "../libvirt/virsh-devices";
import type { GuestDeviceInputs, InterfaceDeviceInput } from "../spec/guest-device";
import { planBlockPassthrough } from "./passthrough-block";
import { planPciAssignment } from "./passthrough-pci";
import { planVhostInterface } from "./vhost-net";

export interface GuestDeviceContext {
  facts: HostFacts;
  /** The domain's persistent XML. */
  domain: DomainDocument;
  inventory: LibvirtInventory;
  /** The host's answer for `disk.path` (disk devices only). */
  resolved?: ResolvedBlockDevice;
}

export type GuestDevicePlan = { ok: true; device: DevicePart; notes: string[] } | { ok: false; reasons: string[] };

// Reasons naming a field get the device's prefix ("interface.queues: ..."); host-level ones ("/dev/vhost-net is missing") stay as they are.
const prefix = (field: string, list: string[]) => list.map((r) => (r.startsWith("/") ? r : `${field}.${r}`));

/** The device key of the inputs: MAC, target dev or PCI address (lower-case). */
export function deviceKeyOf(inputs: Pick<GuestDeviceInputs, "interface" | "disk" | "hostdev">): { kind: DevicePart["kind"]; key: string } {
  if (inputs.interface) return { kind: "interface", key: inputs.interface.mac.toLowerCase() };
  if (inputs.disk) return { kind: "disk", key: inputs.disk.target };
  return { kind: "hostdev", key: inputs.hostdev!.address.toLowerCase() };
}

/** An SR-IOV VF as `<interface type='hostdev'>`: assignable (IOMMU group) and a network function. */
function planVfInterface(facts: HostFacts, i: InterfaceDeviceInput): GuestDevicePlan {
  const mac = i.mac.toLowerCase();
  const r = planPciAssignment(facts, { address: i.source, managed: true });
  if (!r.ok) return { ok: false, reasons: r.reasons.map((x) => x.replace(/^address /, "interface.source ")) };
  // <interface type='hostdev'> sets the VF's MAC and VLAN through its PF's net driver: a network function only.
  if (r.plan.classCode !== null && !r.plan.classCode.startsWith("02")) {
    return { ok: false, reasons: [`interface.source "${r.plan.address}" is not a network function (PCI class ${r.plan.classCode}); assign it with PassthroughDisk pciAddress instead`] };
  }
  const part = { type: "hostdev", source: { attributes: {}, pciAddress: r.plan.address }, vlan: i.vlan ?? null };
  return { ok: true, device: { kind: "interface", key: mac, part }, notes: r.plan.notes };
}

function planInterface(inputs: GuestDeviceInputs, ctx: GuestDeviceContext): GuestDevicePlan {
  const i = inputs.interface!;
  const mac = i.mac.toLowerCase();
  if (i.type === "hostdev") return planVfInterface(ctx.facts, i);
  const vcpus = readOwnedParts(ctx.domain).vcpu?.count ?? 1;
  const tcgDomain = attr(ctx.domain.domain, "type") === "qemu";
  const r = planVhostInterface(ctx.facts, { ...i, type: i.type, name: inputs.domain, guestVcpus: vcpus, mac }, { tcgDomain, arpFilter: ctx.facts.network.arpFilter === true });
  const reasons = r.ok ? [] : prefix("interface", r.reasons);
  if (i.type === "network" && !ctx.inventory.networks.includes(i.source)) {
    const have = ctx.inventory.networks.length ? ctx.inventory.networks.join(", ") : "none";
    reasons.push(`interface.source: libvirt network ${JSON.stringify(i.source)} does not exist on ${ctx.facts.hostname ?? "the host"}; it has ${have}`);
  }
  if (!r.ok || reasons.length) return { ok: false, reasons };
  // The device is owned whole: what the inputs leave out must be absent (a hand-added MTU is drift).
  const driver = { rx_queue_size: null, tx_queue_size: null, ...r.plan.part.driver };
  const part = { mtu: null, ...r.plan.part, driver, vlan: i.vlan ?? null };
  return { ok: true, device: { kind: "interface", key: mac, part }, notes: r.plan.notes };
}

/** Plans the device of `inputs` against the host; the caller checks the key is free in the domain. */
export function planGuestDevice(inputs: GuestDeviceInputs, ctx: GuestDeviceContext): GuestDevicePlan {
  if (inputs.interface) return planInterface(inputs, ctx);
  if (inputs.disk) {
    const d = inputs.disk;
    if (!ctx.resolved) throw new Error("planGuestDevice: a disk needs the resolved block device");
    const r = planBlockPassthrough(ctx.facts, d, { resolved: ctx.resolved, attachments: ctx.inventory.attachments, domain: inputs.domain });
    if (!r.ok) return { ok: false, reasons: prefix("disk", r.reasons) };
    const p = r.plan;
    return { ok: true, device: { kind: "disk", key: d.target, part: { device: p.device, source: p.source, bus: p.bus, cache: p.cache, io: p.io } }, notes: p.notes };
  }
  const h = inputs.hostdev!;
  const r = planPciAssignment(ctx.facts, { address: h.address, managed: h.managed ?? true });
  if (!r.ok) return { ok: false, reasons: prefix("hostdev", r.reasons) };
  return { ok: true, device: { kind: "hostdev", key: r.plan.address, part: { type: "pci", managed: r.plan.managed } }, notes: r.plan.notes };
}

/** What the program knows of the guest before its domain exists. */
export interface GuestHints {
  vcpus?: number;
  /** True for a TCG (type='qemu') domain; undefined when not known (the vhost device check then waits for the host read at up). */
  tcg?: boolean;
}

/**
 * The checks that need only the host's facts, for `pulumi preview` (the
 * resource repeats all of them, and the ones needing libvirt, before it changes anything).
 */
export function factsProblems(inputs: Pick<GuestDeviceInputs, "interface" | "hostdev">, facts: HostFacts, guest: GuestHints): string[] {
  const i = inputs.interface;
  if (i?.type === "hostdev") {
    const r = planVfInterface(facts, i);
    return r.ok ? [] : r.reasons;
  }
  if (i) {
    // Unknown vCPUs: only the 1-256 range is checked here.
    const r = planVhostInterface(facts, { ...i, type: i.type, name: "", guestVcpus: guest.vcpus ?? 256 }, { tcgDomain: guest.tcg ?? true, arpFilter: true });
    return r.ok ? [] : prefix("interface", r.reasons);
  }
  if (inputs.hostdev) {
    const r = planPciAssignment(facts, { address: inputs.hostdev.address, managed: inputs.hostdev.managed ?? true });
    return r.ok ? [] : prefix("hostdev", r.reasons);
  }
  return [];
}
