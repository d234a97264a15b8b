import { createHash } from "node:crypto";
import type { HostFacts } from "../host/facts";
import type { InterfacePart } from "../libvirt/types";

/** A virtio-net interface with the vhost backend, as VhostNetwork asks for it. */
export interface VhostInterfaceRequest {
  /** Resource name: the stable MAC is derived from it unless `mac` is given. */
  name: string;
  /** vCPUs of the guest: the queue default and upper bound. */
  guestVcpus: number;
  /** "bridge" (a host bridge), "network" (a libvirt network) or "direct" (macvtap on a host NIC). */
  type: "bridge" | "network" | "direct";
  /** Bridge, libvirt network or host NIC name. */
  source: string;
  /** Multiqueue virtio-net: default min(vCPUs, 8); at most vCPUs and 256. */
  queues?: number;
  /** Guest MTU; must not exceed the bridge's. */
  mtu?: number;
  /** Lower-case unicast MAC; default 52:54:00 + 3 bytes of the name's SHA-256. */
  mac?: string;
  rxQueueSize?: number;
  txQueueSize?: number;
}

export interface VhostInterfacePlan {
  mac: string;
  part: InterfacePart;
  notes: string[];
}

/** Queues beyond this rarely help (one per vCPU, up to 8, is the usual advice); users can go to 256. */
export const DEFAULT_QUEUE_CAP = 8;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;

/** 52:54:00 (QEMU's prefix) + 3 bytes from the name, so a replaced resource keeps its MAC. */
export function stableMac(name: string): string {
  const h = createHash("sha256").update(name).digest();
  return `52:54:00:${[h[0], h[1], h[2]].map((b) => b.toString(16).padStart(2, "0")).join(":")}`;
}

/** Host NICs (not bridges' own ports) with IPv4 addresses in one subnet: the talk's case for arp_filter. */
function sharedSubnets(facts: HostFacts): string[] {
  const bySubnet = new Map<string, string[]>();
  for (const nic of facts.network.nics) {
    if (nic.name === "lo") continue;
    for (const cidr of nic.ipv4) {
      const [ip, len] = cidr.split("/");
      const bits = Number(len);
      const n = ip.split(".").reduce((a, o) => (a << 8) + Number(o), 0) >>> 0;
      const net = bits === 0 ? 0 : (n & (~0 << (32 - bits))) >>> 0;
      const key = `${[24, 16, 8, 0].map((s) => (net >>> s) & 255).join(".")}/${bits}`;
      bySubnet.set(key, [...(bySubnet.get(key) ?? []), nic.name]);
    }
  }
  return [...bySubnet].filter(([, nics]) => nics.length > 1).map(([subnet, nics]) => `${nics.join(", ")} share ${subnet}`);
}

/** Why `mac` is not a usable guest MAC (empty when it is). */
export function macProblems(mac: unknown, field = "mac"): string[] {
  if (typeof mac !== "string" || !MAC.test(mac)) return [`${field}: ${JSON.stringify(mac)} is not accepted; expected six lower-case hex pairs such as 52:54:00:12:34:56`];
  if (parseInt(mac.slice(0, 2), 16) & 1) return [`${field}: ${JSON.stringify(mac)} is a multicast address; expected a unicast MAC (even first octet)`];
  return [];
}

/** Problems with the request itself, before any host is read (MAC, queue range, MTU range, queue sizes, source name). */
export function vhostRequestProblems(r: Omit<VhostInterfaceRequest, "name" | "guestVcpus"> & { mac?: unknown; queues?: unknown; mtu?: unknown; source: unknown }): string[] {
  const reasons: string[] = [];
  if (r.queues !== undefined && (!Number.isInteger(r.queues) || (r.queues as number) < 1 || (r.queues as number) > 256)) reasons.push(`queues: ${JSON.stringify(r.queues)} is not accepted; expected a whole number from 1 to 256`);
  if (r.mac !== undefined) reasons.push(...macProblems(r.mac));
  if (!mtuInRange(r.mtu)) reasons.push(`mtu: ${JSON.stringify(r.mtu)} is not accepted; expected 68 to 65535`);
  for (const [field, size] of [["rxQueueSize", r.rxQueueSize], ["txQueueSize", r.txQueueSize]] as const) {
    if (size !== undefined && ![256, 512, 1024].includes(size)) reasons.push(`${field}: ${JSON.stringify(size)} is not accepted; expected 256, 512 or 1024`);
  }
  if (typeof r.source !== "string" || !NAME.test(r.source)) reasons.push(`source: ${JSON.stringify(r.source)} is not accepted; expected an interface or network name (letters, digits, '_', '.', '-'; at most 15)`);
  return reasons;
}

const mtuInRange = (mtu: unknown) => mtu === undefined || (Number.isInteger(mtu) && (mtu as number) >= 68 && (mtu as number) <= 65535);

/**
 * Checks a vhost interface against the host and returns the owned `<interface>`
 * part, or every reason it cannot work. Never falls back to userspace virtio:
 * a missing /dev/vhost-net is a refusal unless `tcgDomain` (libvirt runs
 * virtio-net in userspace for type='qemu' domains whatever the driver says; a note says so).
 */
export function planVhostInterface(facts: HostFacts, r: VhostInterfaceRequest, opts: { vhostModuleManaged?: boolean; arpFilter?: boolean; tcgDomain?: boolean } = {}): { ok: true; plan: VhostInterfacePlan } | { ok: false; reasons: string[] } {
  const reasons: string[] = [];
  const notes: string[] = [];
  if (opts.tcgDomain) {
    notes.push(`the domain is type 'qemu' (TCG, no KVM): libvirt and QEMU run its virtio-net in userspace, so <driver name='vhost'> only takes effect once the domain is type 'kvm'`);
  } else if (facts.virt.vhostNetDevice !== true && !opts.vhostModuleManaged) {
    reasons.push(`/dev/vhost-net is missing on ${facts.hostname ?? "the host"}; load vhost_net (TunedHost modules: ["vhost_net"]). kvmtune never falls back to userspace virtio`);
  }
  if (!Number.isInteger(r.guestVcpus) || r.guestVcpus < 1) reasons.push(`guestVcpus: ${JSON.stringify(r.guestVcpus)} is not accepted; expected a whole number of vCPUs (1 or more)`);
  const queues = r.queues ?? Math.min(Math.max(1, r.guestVcpus), DEFAULT_QUEUE_CAP);
  const mac = r.mac ?? stableMac(r.name);
  const own = vhostRequestProblems({ ...r, mac });
  if (Number.isInteger(queues) && queues >= 1 && queues <= 256 && queues > r.guestVcpus) reasons.push(`queues: ${queues} is more than the guest's ${r.guestVcpus} vCPUs; expected at most ${r.guestVcpus} (one queue per vCPU)`);
  reasons.push(...own);
  const mtuOk = mtuInRange(r.mtu);
  if (own.some((x) => x.startsWith("source:"))) {
    // named above
  } else if (r.type !== "network") {
    const nic = facts.network.nics.find((n) => n.name === r.source);
    if (!nic) reasons.push(`source: ${r.type} ${JSON.stringify(r.source)} does not exist on this host; it has ${facts.network.nics.map((n) => n.name).join(", ")}`);
    else if (r.type === "bridge" && !nic.isBridge) reasons.push(`source: ${r.source} is not a bridge${nic.bridge ? ` (it is a port of ${nic.bridge})` : ""}; use type "direct" for a NIC, or name its bridge`);
    else if (mtuOk && r.mtu !== undefined && nic.mtu !== null && r.mtu > nic.mtu) reasons.push(`mtu: ${r.mtu} is more than ${r.source}'s MTU ${nic.mtu}; raise it on the host first (TunedHost mtu: { ${r.source}: ${r.mtu} })`);
  }
  if (!opts.arpFilter) for (const s of sharedSubnets(facts)) notes.push(`${s}: set arpFilter: true on the TunedHost so each NIC answers ARP only for its own address`);
  if (reasons.length) return { ok: false, reasons };
  const driver = { name: "vhost" as const, queues, ...(r.rxQueueSize ? { rx_queue_size: r.rxQueueSize } : {}), ...(r.txQueueSize ? { tx_queue_size: r.txQueueSize } : {}) };
  const attribute: Record<string, string> = r.type === "direct" ? { dev: r.source, mode: "bridge" } : r.type === "bridge" ? { bridge: r.source } : { network: r.source };
  const part: InterfacePart = { type: r.type, source: { attributes: attribute }, model: "virtio", driver, ...(r.mtu !== undefined ? { mtu: r.mtu } : {}) };
  return { ok: true, plan: { mac, part, notes } };
}
