import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "../components/connection";
import { NumaPinnedGuest } from "../components/numa-pinned-guest";
import { TunedHost } from "../components/tuned-host";

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
}

/**
 * The quickstart: the talk's host tunings and one pinned guest. The same
 * program runs against the throwaway sandbox (`npm run demo`) and against a
 * real host given in stack config (`pulumi up`).
 */
export function quickstartProgram(t: QuickstartTarget) {
  const host = new TunedHost("hv01", {
    connection: t.connection,
    // tuned's virtual-host profile: THP always, low swappiness, early writeback, arp_filter, vhost_net.
    preset: "virtual-host",
    // Static 2M pages on each NUMA node for hugepage-backed guests (mounted at /dev/hugepages2M).
    hugepages: { "2M": [16, 16] },
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
  return {
    host: host.facts,
    settings: host.settings,
    pendingReboot: host.pendingReboot,
    pendingRebootKeys: host.pendingRebootKeys,
    notes: host.notes,
    guestPins: guest.pinMap,
  };
}
