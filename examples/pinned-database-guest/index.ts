// A database guest the way the talk recommends: 1G pages from one NUMA node,
// vCPUs pinned one per core (siblings kept idle), emulator and iothreads on a
// core of their own, strict numatune, host-passthrough CPU, virtio disk with
// cache=none io=native, the guest OS told to libvirt, a multiqueue vhost NIC
// with jumbo frames, and a whole data disk passed through.
//   pulumi config set host hv01.example.net
//   pulumi config set hostKey "ssh-ed25519 AAAA..."
//   pulumi config set --secret privateKey "$(cat ~/.ssh/id_ed25519)"
import * as pulumi from "@pulumi/pulumi";
import { NumaPinnedGuest, PassthroughDisk, TunedHost, VhostNetwork } from "kvmtune";

const config = new pulumi.Config();

const hv = new TunedHost("hv01", {
  connection: { host: config.require("host"), privateKey: config.requireSecret("privateKey"), hostKey: config.require("hostKey") },
  preset: "virtual-host",
  // 16 x 1G on each node; the guest below takes 16 of them from one node.
  hugepages: { "1G": [16, 16] },
  isolateCpus: config.get("guestCpus") ?? "2-31,34-63",
  kernelArgs: { default_hugepagesz: "1G" },
  // 1G pools (and isolcpus) only exist after a reboot. With "when-pending" this TunedHost reboots the
  // host before the guest is defined, so the guest's planner counts its 16 x 1G per node on a fresh
  // host; with "never" it plans against the pools the host has now (none) and is refused at preview.
  reboot: "when-pending",
});

const db = new NumaPinnedGuest("db1", {
  host: hv,
  vcpus: 8,
  memoryMiB: 16384,
  hugepages: "1G",
  threadPolicy: "isolate",
  emulatorPolicy: "isolate",
  iothreads: 2,
  numaMode: "strict",
  osVariant: "rhel9.4",
  disks: [{ path: "/var/lib/libvirt/images/db1.qcow2", cache: "none", io: "native" }],
  start: true,
  autostart: true,
  // Commit this file with the change: reviewers see the placement in the pull request.
  placementSvgPath: "db1-placement.svg",
});

// vhost_net and arp_filter already come with the TunedHost's preset: the NIC only checks them.
const net = new VhostNetwork("db1-net", {
  guest: db,
  source: config.get("bridge") ?? "br0",
  mtu: 9000,
  manageHost: false,
});

// The data disk, whole: refused if it is mounted, swap, under LVM/md/dm, the root disk, or another guest's.
const data = new PassthroughDisk("db1-data", {
  guest: db,
  path: config.get("dataDisk") ?? "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4",
  target: "vdb",
});

export const pins = db.pinMap;
export const mac = net.mac;
export const dataSource = data.source;
export const hugepagesNeeded = db.hugepagesNeeded;
export const restartRequired = pulumi.all([db.restartRequired, net.restartRequired, data.restartRequired]).apply((r) => r.some(Boolean));
