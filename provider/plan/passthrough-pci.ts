/**
 * PCI assignment preflight (`<hostdev mode='subsystem' type='pci'>`): may this
 * PCI function be given to a guest, and what else comes with its IOMMU group?
 *
 * Pure: reads HostFacts only. vfio assigns whole IOMMU groups, so every member
 * of the group must be something the host can spare: the group may not hold the
 * management NIC (the one carrying the SSH session the facts were read over) or
 * the controller of the root disk, nor a controller whose disks are in use.
 * PCI bridges in a group are fine (vfio leaves them with pcieport).
 */
import type { HostFacts, IommuGroupDevice, PciDevice } from "../host/facts";
import { blockUsage, managementPci, rootDisks } from "./passthrough-host";

/** "DDDD:BB:DD.F" in hex, e.g. "0000:5e:00.0". */
const PCI_ADDRESS = /^([0-9a-fA-F]{4}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])$/;

export interface PciAssignmentRequest {
  /** PCI address "DDDD:BB:DD.F" (hex), e.g. "0000:5e:00.0". */
  address: string;
  /** libvirt `managed`: libvirt binds vfio-pci at guest start and gives the device back at stop. Default true. */
  managed?: boolean;
}

/** What happens to another member of the group. */
export type GroupMemberHandling =
  /** A PCI bridge (class 0604): stays with the host. */
  | "bridge"
  /** Already bound to vfio-pci. */
  | "vfio-pci"
  /** No driver bound: vfio accepts the group as it is. */
  | "unbound"
  /** Bound to a host driver: pass it through to the same guest too, or bind it to vfio-pci. */
  | "pass-through-or-bind";

export interface PciGroupMember {
  address: string;
  classCode: string | null;
  vendorId: string | null;
  deviceId: string | null;
  driver: string | null;
  handling: GroupMemberHandling;
  /** One line for a preview, e.g. "0000:3b:00.1 (class 040300, 10de:10f8): already bound to vfio-pci". */
  description: string;
}

export interface PciAssignmentPlan {
  /** Normalised (lower-case) address. */
  address: string;
  iommuGroup: number;
  classCode: string | null;
  vendorId: string | null;
  deviceId: string | null;
  driver: string | null;
  managed: boolean;
  /** The other members of the IOMMU group, by address. */
  groupMembers: PciGroupMember[];
  notes: string[];
}

export type PciAssignmentResult = { ok: true; plan: PciAssignmentPlan } | { ok: false; reasons: string[] };

/** Problems with a PCI address string, without any I/O; empty when fine. */
export function checkPciAddress(address: unknown, field = "address"): string[] {
  const example = 'expected "DDDD:BB:DD.F" in hex (domain:bus:device.function), e.g. "0000:5e:00.0"';
  if (typeof address !== "string") return [`${field} must be a string; ${example}`];
  const shown = JSON.stringify(address.length > 80 ? `${address.slice(0, 77)}...` : address);
  const m = PCI_ADDRESS.exec(address);
  if (!m) return [`${field} ${shown} is not a PCI address; ${example}`];
  if (parseInt(m[3], 16) > 0x1f) return [`${field} ${shown}: device ${m[3]} is out of range (00-1f)`];
  return [];
}

const isBridge = (classCode: string | null) => classCode !== null && classCode.startsWith("0604");

function label(d: Pick<PciDevice, "address" | "classCode" | "vendorId" | "deviceId">): string {
  const ids = d.vendorId && d.deviceId ? `, ${d.vendorId}:${d.deviceId}` : "";
  return `${d.address} (class ${d.classCode ?? "unknown"}${ids})`;
}

function member(d: IommuGroupDevice): PciGroupMember {
  let handling: GroupMemberHandling;
  let what: string;
  if (isBridge(d.classCode)) {
    handling = "bridge";
    what = "PCI bridge, stays with the host";
  } else if (d.driver === "vfio-pci") {
    handling = "vfio-pci";
    what = "already bound to vfio-pci";
  } else if (d.driver === null) {
    handling = "unbound";
    what = "no driver bound (vfio accepts that; it must stay unbound or go to vfio-pci)";
  } else {
    handling = "pass-through-or-bind";
    what = `bound to ${d.driver}: pass it through to the same guest too, or bind it to vfio-pci`;
  }
  return { address: d.address, classCode: d.classCode, vendorId: d.vendorId, deviceId: d.deviceId, driver: d.driver, handling, description: `${label(d)}: ${what}` };
}

/** `intel_iommu=on` / `amd_iommu=on` advice from the CPU flags. */
function iommuAdvice(facts: HostFacts): string {
  const { vmx, svm } = facts.cpu.flags;
  const arg = vmx && !svm ? "intel_iommu: \"on\"" : svm && !vmx ? "amd_iommu: \"on\"" : "intel_iommu: \"on\" (Intel) or amd_iommu: \"on\" (AMD)";
  return `set TunedHost kernelArgs { ${arg} } (and enable VT-d/AMD-Vi in the firmware), then reboot`;
}

export function planPciAssignment(facts: HostFacts, request: PciAssignmentRequest): PciAssignmentResult {
  const problems = checkPciAddress(request.address);
  if (request.managed !== undefined && typeof request.managed !== "boolean") problems.push(`managed must be true or false, got ${JSON.stringify(request.managed)}`);
  if (problems.length) return { ok: false, reasons: problems };
  const address = request.address.toLowerCase();
  const shown = JSON.stringify(address);
  const on = facts.hostname ? ` on ${facts.hostname}` : "";
  const managed = request.managed ?? true;

  const dev = facts.pciDevices.find((d) => d.address === address);
  if (!dev) return { ok: false, reasons: [`address ${shown}: no such PCI function${on} (see /sys/bus/pci/devices)`] };
  if (facts.iommuGroups.length === 0) {
    return { ok: false, reasons: [`address ${shown}: the IOMMU is off${on} (/sys/kernel/iommu_groups is empty), so no device can be assigned; ${iommuAdvice(facts)}`] };
  }
  if (dev.iommuGroup === null) return { ok: false, reasons: [`address ${shown} is in no IOMMU group${on}, so vfio cannot assign it`] };
  const group = facts.iommuGroups.find((g) => g.id === dev.iommuGroup);
  if (!group) return { ok: false, reasons: [`address ${shown}: its IOMMU group ${dev.iommuGroup} is missing from /sys/kernel/iommu_groups${on}`] };

  const reasons: string[] = [];
  if (dev.classCode?.startsWith("06")) {
    reasons.push(`address ${shown} is a bridge (class ${dev.classCode}); assign the devices behind it, not the bridge`);
  }
  if (dev.sriovNumVfs !== null && dev.sriovNumVfs > 0) {
    reasons.push(`address ${shown} is an SR-IOV physical function with ${dev.sriovNumVfs} VF(s) enabled: vfio-pci refuses to bind a PF with VFs; set its VF count to 0 first, or assign a VF`);
  }

  const mgmt = managementPci(facts);
  const root = rootDisks(facts);
  const self = (a: string) => a === address;
  const holds = (a: string) => `address ${shown}: IOMMU group ${group.id} also holds ${a}`;
  for (const m of group.devices) {
    for (const f of mgmt.functions.filter((x) => x.address === m.address)) {
      const role = f.role === "nic" ? `the management NIC (${f.path})` : `the SR-IOV physical function of the management NIC ${f.nic} (${f.path}; its VFs go away with it)`;
      if (f.role === "nic") reasons.push(self(m.address) ? `address ${shown} (${f.nic}) is ${role}; assigning it would cut the host off` : `${holds(m.address)} (${f.nic}), ${role}; assigning the group would cut the host off`);
      else reasons.push(self(m.address) ? `address ${shown} is ${role}; assigning it would cut the host off` : `${holds(m.address)}, ${role}; assigning the group would cut the host off`);
    }
    for (const d of facts.blockDevices.filter((b) => b.pciAddress === m.address)) {
      const ctl = self(m.address) ? `address ${shown} is the controller of` : `${holds(m.address)}, the controller of`;
      if (root.disks.includes(d.name)) {
        reasons.push(`${ctl} the root disk ${d.name}: ${root.description}`);
        continue;
      }
      const e = { name: d.name, disk: d.name, isPartition: false, device: d, partition: null };
      const uses = blockUsage(facts, e).map((u) => `${u.name === d.name ? d.name : `partition ${u.name}`} ${u.text}`);
      if (uses.length) reasons.push(`${ctl} ${d.name}, which the host uses: ${uses.join("; ")}`);
    }
  }
  if (reasons.length) return { ok: false, reasons };

  const notes: string[] = [];
  if (mgmt.unknown) notes.push(`could not check the management NIC: ${mgmt.unknown}`);
  if (dev.driver === "vfio-pci") notes.push(`${address} is already bound to vfio-pci`);
  else if (managed) notes.push(`${address} is ${dev.driver ? `bound to ${dev.driver}` : "not bound to a driver"}; managed='yes' lets libvirt bind it to vfio-pci when the guest starts and give it back when it stops`);
  else notes.push(`managed='no': bind ${address} to vfio-pci before the guest starts (it is ${dev.driver ? `bound to ${dev.driver}` : "not bound to a driver"})`);
  const others = group.devices.filter((d) => d.address !== address).map(member);
  const toHandle = others.filter((o) => o.handling === "pass-through-or-bind");
  if (toHandle.length) {
    notes.push(`IOMMU group ${group.id} also holds ${toHandle.map((o) => o.address).join(", ")}: they are bound to host drivers, and vfio needs every non-bridge member of the group on vfio-pci (or on no driver): pass them through to the same guest, or bind them to vfio-pci`);
  }
  return {
    ok: true,
    plan: {
      address,
      iommuGroup: group.id,
      classCode: dev.classCode,
      vendorId: dev.vendorId,
      deviceId: dev.deviceId,
      driver: dev.driver,
      managed,
      groupMembers: others,
      notes,
    },
  };
}
