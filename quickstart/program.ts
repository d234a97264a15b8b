import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "../components/connection";
import { TunedHost } from "../components/tuned-host";

/**
 * The quickstart: the talk's host tunings on one KVM host. The same program
 * runs against the throwaway sandbox (`npm run demo`) and against a real host
 * given in stack config (`pulumi up`).
 */
export function quickstartProgram(connection: pulumi.Input<ConnectionArgs>, disk: string) {
  const host = new TunedHost("hv01", {
    connection,
    // tuned's virtual-host profile: THP always, low swappiness, early writeback, arp_filter, vhost_net.
    preset: "virtual-host",
    // Static 2M pages on each NUMA node for hugepage-backed guests (mounted at /dev/hugepages2M).
    hugepages: { "2M": [16, 16] },
    // The talk's "deadline" is mq-deadline on blk-mq kernels; say it the old way to see the note.
    schedulers: { [disk]: "deadline" },
    readaheadKb: { [disk]: 1024 },
    // Guest CPUs away from housekeeping: needs a reboot, so it shows as pending.
    isolateCpus: "2-3",
  });
  return {
    host: host.facts,
    settings: host.settings,
    pendingReboot: host.pendingReboot,
    pendingRebootKeys: host.pendingRebootKeys,
    notes: host.notes,
  };
}
