// One KVM host, tuned declaratively. Stack config:
//   pulumi config set host hv01.example.net
//   pulumi config set hostKey "ssh-ed25519 AAAA..."          # pinned: ssh-keyscan -t ed25519 hv01
//   pulumi config set --secret privateKey "$(cat ~/.ssh/id_ed25519)"
//   pulumi config set dataDisk nvme0n1
import * as pulumi from "@pulumi/pulumi";
import { TunedHost } from "kvmtune";

const config = new pulumi.Config();

const hv = new TunedHost("hv01", {
  connection: {
    host: config.require("host"),
    user: config.get("user") ?? "root",
    privateKey: config.requireSecret("privateKey"),
    hostKey: config.require("hostKey"),
  },
  preset: "virtual-host",
  thp: { enabled: "always", defrag: "madvise" },
  // 1G pages for the database guests, 16 per node; also persisted on the kernel command line.
  hugepages: { "1G": { node0: 16, node1: 16 } },
  schedulers: { [config.get("dataDisk") ?? "nvme0n1"]: "none" },
  readaheadKb: { [config.get("dataDisk") ?? "nvme0n1"]: 4096 },
  modules: ["vhost_net", "vfio-pci"],
  moduleOptions: { kvm_intel: { nested: 0 } },
  isolateCpus: "2-31,34-63",
  kernelArgs: { intel_iommu: "on", iommu: "pt", default_hugepagesz: "1G" },
  ksm: "stop",
  governor: "performance",
});

export const pendingReboot = hv.pendingReboot;
export const pendingRebootKeys = hv.pendingRebootKeys;
export const applied = hv.settings;
export const facts = hv.facts;
