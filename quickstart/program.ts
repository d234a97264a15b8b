import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "../components/connection";
import { NumaPinnedGuest } from "../components/numa-pinned-guest";
import { PassthroughDisk } from "../components/passthrough-disk";
import { TunedHost } from "../components/tuned-host";
import { VhostNetwork } from "../components/vhost-network";

export interface QuickstartTarget {
  /** The KVM host to tune. */
  connection: pulumi.Input<ConnectionArgs>;
  /** Its data disk (scheduler and readahead). */
  disk: string;
  /** Where libvirt runs, if not on the tuned host itself (the sandbox keeps them apart). */
  guestHost?: pulumi.Input<ConnectionArgs>;
  /** "kvm" on real hosts; "qemu" (TCG) on the sandbox. */
  domainType?: "kvm" | "qemu";
  /** Where to write the placement map. */
  placementSvgPath?: string;
  /** A bridge on the guest's host: the guest gets a multiqueue vhost NIC on it. */
  guestBridge?: string;
  /** A free block device on the guest's host, given whole to the guest as vdb. */
  guestDataDisk?: string;
}

/**
 * The quickstart: the talk's host tunings and one pinned guest, optionally with
 * a vhost NIC and a passthrough data disk. The same
 * program runs against the throwaway sandbox (`npm run demo`) and against a
 * real host given in stack config (`pulumi up`).
 */
export function quickstartProgram(t: QuickstartTarget) {
  const host = new TunedHost("hv01", {
    connection: t.connection,
    // tuned's virtual-host profile: THP always, low swappiness, early writeback, arp_filter, vhost_net.
    preset: "virtual-host",
    // Static 2M pages on each NUMA node for hugepage-backed guests (mounted at /dev/hugepages2M).
    // Few: the sandbox's nodes have 128 MiB each, and 16 per node once came back 15 (a real short allocation).
    hugepages: { "2M": [8, 8] },
    // The talk's "deadline" is mq-deadline on blk-mq kernels; say it the old way to see the note.
    schedulers: { [t.disk]: "deadline" },
    readaheadKb: { [t.disk]: 1024 },
    // Guest CPUs away from housekeeping: needs a reboot, so it shows as pending.
    isolateCpus: "2-3",
  });
  const guest = new NumaPinnedGuest("web1", {
    host: t.guestHost ?? host,
    vcpus: 2,
    memoryMiB: 64,
    housekeepingCpus: "",
    domainType: t.domainType,
    cpuMode: t.domainType === "qemu" ? "maximum" : "host-passthrough",
    osVariant: "debian12",
    start: true,
    placementSvgPath: t.placementSvgPath,
  });
  // vhost_net comes with the preset on the tuned host; the NIC only checks it.
  const nic = t.guestBridge === undefined ? undefined : new VhostNetwork("web1-net", { guest, source: t.guestBridge, manageHost: false });
  const data = t.guestDataDisk === undefined ? undefined : new PassthroughDisk("web1-data", { guest, path: t.guestDataDisk, target: "vdb" });
  return {
    ...(nic ? { guestNic: pulumi.output({ mac: nic.mac, xml: nic.xml, live: nic.attachedLive }) } : {}),
    ...(data ? { guestDisk: pulumi.output({ source: data.source, live: data.attachedLive }) } : {}),
    host: host.facts,
    settings: host.settings,
    pendingReboot: host.pendingReboot,
    pendingRebootKeys: host.pendingRebootKeys,
    notes: host.notes,
    guestPins: guest.pinMap,
  };
}
