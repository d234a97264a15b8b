import * as pulumi from "@pulumi/pulumi";
import { stableMac } from "../provider/plan/vhost-net";
import { GuestDevice } from "../provider/resources/guest-device";
import type { InterfaceDeviceInput } from "../provider/spec/guest-device";
import { InputError } from "../provider/spec/issues";
import type { HostFacts } from "../provider/host/facts";
import { GuestDeviceComponent, hostProblems, resolveGuest, type GuestTarget } from "./guest-target";
import { labelTunedHost, stackIdentity } from "./host-ownership";
import { hostIdentityName } from "./stable-name";
import { TunedHost } from "./tuned-host";

/**
 * Arguments of a VhostNetwork: one guest NIC, either virtio-net with the
 * in-kernel vhost backend (never userspace virtio), or an SR-IOV VF.
 */
export interface VhostNetworkArgs {
  /** The guest: a NumaPinnedGuest, or `{ connection, domain }` for an existing libvirt domain. */
  guest: GuestTarget;
  /** "vhost" (default): virtio-net + vhost_net on a bridge, libvirt network or macvtap; "sriov": a VF of an SR-IOV NIC given to the guest. */
  mode?: "vhost" | "sriov";
  /** vhost mode: "bridge" (default, a Linux bridge), "network" (a libvirt network) or "direct" (macvtap on a host NIC, bridge mode). */
  type?: "bridge" | "network" | "direct";
  /** vhost mode: the bridge, libvirt network or host NIC name (at most 15 characters). May be another resource's output. */
  source?: pulumi.Input<string>;
  /** Guest MAC, lower-case. Default: 52:54:00 + 3 bytes of SHA-256 of the resource name (the old name after a rename with `aliases`), so a replaced or renamed resource keeps its MAC. */
  mac?: string;
  /** vhost mode: virtio queue pairs. Default min(guest vCPUs, 8); at most the guest's vCPUs and 256. Enable them in the guest with `ethtool -L eth0 combined N`. */
  queues?: number;
  /** vhost mode: guest MTU (68-65535), at most the bridge's; libvirt tells the guest through virtio (host_mtu). */
  mtu?: number;
  /** vhost mode: virtio ring sizes, 256, 512 or 1024 (bigger rings absorb bursts). */
  rxQueueSize?: number;
  txQueueSize?: number;
  /**
   * sriov mode: the VF's PCI address, e.g. "0000:3b:02.1" (an `<interface type='hostdev'>`, bound to vfio-pci by libvirt).
   * May be another resource's output; when it is not known at preview, it is checked at up, before any change.
   */
  vf?: pulumi.Input<string>;
  /** sriov mode: VLAN tag the host NIC puts on the VF's traffic (0-4095). */
  vlan?: number;
  /**
   * Tune the host side with a TunedHost child: vhost mode loads and persists vhost_net;
   * `arpFilter`, `bridgeMtu` and (sriov) `pf`/`numVfs` are applied there too. Default true;
   * set false when another TunedHost already owns these settings (kvmtune refuses two owners of one setting).
   */
  manageHost?: boolean;
  /** Set net.ipv4.conf.all.arp_filter=1 (several host NICs on one subnet, as the talk advises). */
  arpFilter?: boolean;
  /** Raise the bridge's MTU (vhost mode, type "bridge") to this; the guest MTU must not exceed it. */
  bridgeMtu?: number;
  /** sriov mode: the physical function, as a NIC name ("ens1f0") or PCI address, whose VF count is set to `numVfs`. */
  pf?: pulumi.Input<string>;
  /** sriov mode: VFs on `pf` (read-back checked; at most sriov_totalvfs). */
  numVfs?: number;
  /** sriov mode: allow changing a non-zero VF count (written 0, then N), only while no VF is in use. */
  allowVfRecreate?: boolean;
  /** Hot-plug into the running guest as well (default true); when libvirt refuses, the change waits for a restart (see restartRequired). */
  live?: boolean;
  /** Check against these facts instead of reading the host in the program (offline, tests). */
  facts?: pulumi.Input<HostFacts>;
}

const FIELDS = ["guest", "mode", "type", "source", "mac", "queues", "mtu", "rxQueueSize", "txQueueSize", "vf", "vlan", "manageHost", "arpFilter", "bridgeMtu", "pf", "numVfs", "allowVfRecreate", "live", "facts"];
const VHOST_ONLY = ["type", "source", "queues", "mtu", "rxQueueSize", "txQueueSize", "bridgeMtu"] as const;
const SRIOV_ONLY = ["vf", "vlan", "pf", "numVfs", "allowVfRecreate"] as const;

function argProblems(a: VhostNetworkArgs): string[] {
  const out = Object.keys(a).filter((k) => !FIELDS.includes(k)).map((k) => `${k}: unknown field; accepted fields: ${FIELDS.join(", ")}`);
  const mode = a.mode ?? "vhost";
  if (mode !== "vhost" && mode !== "sriov") return [...out, `mode: ${JSON.stringify(a.mode)} is not accepted; expected "vhost" or "sriov"`];
  for (const k of mode === "vhost" ? SRIOV_ONLY : VHOST_ONLY) if (a[k] !== undefined) out.push(`${k}: only used in ${mode === "vhost" ? "sriov" : "vhost"} mode`);
  if (mode === "vhost" && a.source === undefined) out.push("source: required in vhost mode (the bridge, libvirt network or host NIC)");
  if (mode === "sriov" && a.vf === undefined) out.push('vf: required in sriov mode (the VF\'s PCI address, e.g. "0000:3b:02.1")');
  if ((a.pf === undefined) !== (a.numVfs === undefined)) out.push("pf and numVfs: give both (the PF and its VF count) or neither");
  if (a.bridgeMtu !== undefined && (a.type ?? "bridge") !== "bridge") out.push('bridgeMtu: only for type "bridge"');
  return out;
}

/** A guest NIC with vhost (or an SR-IOV VF), its host side, and drift checks. */
export class VhostNetwork extends GuestDeviceComponent {
  /** The guest MAC (the device's key). */
  readonly mac: string;
  /** The TunedHost for the host side, when `manageHost` is not false. */
  readonly host?: TunedHost;

  constructor(name: string, args: VhostNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("kvmtune:index:VhostNetwork", name, {}, opts);
    const problems = argProblems(args);
    if (problems.length) throw new InputError(`VhostNetwork "${name}" args`, problems);
    const sriov = args.mode === "sriov";
    const g = resolveGuest(args.guest, args.facts);
    const { connection, domain, dependsOn } = g;
    // Renamed with `aliases`: the MAC, the journal owner and the host side's identity keep the old name.
    const identity = hostIdentityName(name, opts);
    this.mac = args.mac ?? stableMac(identity);
    if (args.manageHost !== false) {
      labelTunedHost(`${name}-host`, `VhostNetwork "${name}" (its host side; set manageHost: false to leave these settings to the other owner)`);
      this.host = new TunedHost(`${name}-host`, {
        connection,
        facts: g.facts as pulumi.Output<HostFacts>, // the facts this device is checked against: no second read (undefined: TunedHost reads and warns)
        ...(sriov ? {} : { modules: ["vhost_net"] }),
        ...(args.arpFilter !== undefined ? { arpFilter: args.arpFilter } : {}),
        ...(args.bridgeMtu !== undefined ? { mtu: pulumi.output(args.source!).apply((s) => ({ [s]: args.bridgeMtu! })) } : {}),
        ...(args.pf !== undefined ? { sriov: pulumi.output(args.pf).apply((pf) => ({ [pf]: args.numVfs! })), allowVfRecreate: args.allowVfRecreate ?? false } : {}),
      }, {
        parent: this,
        customTimeouts: opts?.customTimeouts,
        retainOnDelete: opts?.retainOnDelete,
        // Pulumi aliases `<name>-host` from this component's aliases by itself; the TunedHost needs the old name
        // in its own options too, to keep its persistence files and journal owner.
        ...(identity !== name ? { aliases: [{ name: `${identity}-host` }] } : {}),
      });
      dependsOn.push(this.host);
    }
    // source and vf may be other resources' outputs: the interface is one, resolved where it is used.
    const iface: pulumi.Output<InterfaceDeviceInput> = pulumi.output(sriov ? args.vf! : args.source!).apply((source) => sriov
      ? { type: "hostdev" as const, source, mac: this.mac, ...(args.vlan !== undefined ? { vlan: args.vlan } : {}) }
      : {
          type: args.type ?? "bridge", source, mac: this.mac,
          ...Object.fromEntries((["queues", "mtu", "rxQueueSize", "txQueueSize"] as const).filter((k) => args[k] !== undefined).map((k) => [k, args[k]])),
        });
    // The host's facts rule out a missing bridge, an MTU above it, a bad VF or (for a known KVM guest) no /dev/vhost-net
    // already in preview. A bridge MTU this component raises itself is compared at up, after its TunedHost.
    const found = hostProblems(g, iface.apply((i) => ({ interface: args.bridgeMtu !== undefined ? { ...i, mtu: undefined } : i })));
    const device = new GuestDevice(`${name}-nic`, { connection, domain, interface: iface, hostProblems: found, owner: { stack: stackIdentity(), resource: `${identity}-nic` }, timeouts: opts?.customTimeouts, ...(args.live !== undefined ? { live: args.live } : {}) }, { parent: this, dependsOn, retainOnDelete: opts?.retainOnDelete });
    this.expose(device, { mac: this.mac });
  }
}
