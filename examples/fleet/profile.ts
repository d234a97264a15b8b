// The company's KVM host profile: one function every team calls, so a change to
// the standard is one pull request and shows up in every stack's preview.
import * as pulumi from "@pulumi/pulumi";
import { TunedFleet, type ConnectionArgs, type TunedHostArgs } from "kvmtune";

export interface CompanyHost {
  /** Stack-unique name; also names the host's persistence files. */
  name: string;
  connection: pulumi.Input<ConnectionArgs>;
  /** NVMe namespaces holding guest images. */
  dataDisks: string[];
  /** 1G pages to reserve per NUMA node for database guests. */
  gigPagesPerNode?: number[];
  /** CPUs handed to guests (the rest stay for housekeeping). */
  guestCpus: string;
}

/** The standard: tuned's virtual-host profile, plus what our hardware team signed off. */
export function companyHostArgs(h: CompanyHost, extra: Partial<TunedHostArgs> = {}): TunedHostArgs {
  return {
    connection: h.connection,
    preset: "virtual-host",
    hugepages: h.gigPagesPerNode?.length ? { "1G": h.gigPagesPerNode } : undefined,
    schedulers: Object.fromEntries(h.dataDisks.map((d) => [d, "none"])),
    readaheadKb: Object.fromEntries(h.dataDisks.map((d) => [d, 4096])),
    modules: ["vhost_net", "vfio-pci"],
    isolateCpus: h.guestCpus,
    kernelArgs: { intel_iommu: "on", iommu: "pt" },
    ksm: "stop",
    ...extra,
  };
}

/**
 * A rack with the standard, in stages: `canaries` hosts first, then batches of `batchSize`, each batch only
 * after the one before applied and read back (a failing host stops the rollout there).
 */
export function companyRack(name: string, hosts: CompanyHost[], rollout: { canaries?: number; batchSize?: number } = {}): TunedFleet {
  return new TunedFleet(name, { hosts: Object.fromEntries(hosts.map((h) => [h.name, companyHostArgs(h)])), ...rollout });
}
