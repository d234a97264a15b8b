// N hosts from stack config, one profile, rolled out in stages: a canary host
// first, then batches (config batchSize, default all the rest at once).
//   pulumi config set --path 'hosts[0].name' hv01
//   pulumi config set --path 'hosts[0].address' 10.0.0.11
//   pulumi config set --path 'hosts[0].hostKey' "ssh-ed25519 AAAA..."
//   pulumi config set --secret privateKey "$(cat ~/.ssh/fleet_ed25519)"
//   pulumi config set batchSize 5            (optional)
import * as pulumi from "@pulumi/pulumi";
import { companyRack } from "./profile";

interface HostEntry {
  name: string;
  address: string;
  /** SSH port (22). */
  port?: number;
  /** Automation user ("kvmtune", with passwordless sudo). */
  user?: string;
  hostKey: string;
  dataDisks?: string[];
  guestCpus?: string;
  /** 1G pages per NUMA node ([16, 16]); [] for none. */
  gigPagesPerNode?: number[];
}

const config = new pulumi.Config();
const privateKey = config.requireSecret("privateKey");
const hosts = config.requireObject<HostEntry[]>("hosts");

const rack = companyRack(
  "rack",
  hosts.map((h) => ({
    name: h.name,
    connection: { host: h.address, port: h.port ?? 22, user: h.user ?? "kvmtune", privateKey, hostKey: h.hostKey },
    dataDisks: h.dataDisks ?? ["nvme0n1"],
    gigPagesPerNode: h.gigPagesPerNode ?? [16, 16],
    guestCpus: h.guestCpus ?? "2-31,34-63",
  })),
  { canaries: 1, batchSize: config.getNumber("batchSize") },
);

export const batches = rack.batches;
export const pendingReboot = pulumi.all(hosts.map((h) => rack.hosts[h.name].pendingReboot)).apply((p) => hosts.filter((_, i) => p[i]).map((h) => h.name));
