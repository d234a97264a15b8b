/**
 * The NUMA node of each host device a guest names for placement (`numaDevices`):
 * a PCI function (`0000:41:00.0`), a network interface (a PF or VF netdev) or a
 * block device (`nvme0n1`, `/dev/nvme0n1`, a partition, a `/dev/disk/by-id` link),
 * from the host's facts. Pure; no I/O.
 */
import type { HostFacts } from "../host/facts";
import { showValue } from "../spec/issues";
import type { DeviceNode } from "./request";

const PCI = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i;

/** Resolved devices, and one problem per name the host does not have (field `numaDevices[i]`). */
export function resolveDeviceNodes(facts: HostFacts, devices: readonly string[]): { nodes: DeviceNode[]; problems: string[] } {
  const nodes: DeviceNode[] = [];
  const problems: string[] = [];
  const host = facts.hostname ? `host ${facts.hostname}` : "the host";
  devices.forEach((name, i) => {
    // A name from another resource's output is checked only here, so it may be anything.
    const node = typeof name === "string" ? nodeOf(facts, name) : undefined;
    if (node === undefined) {
      const shown = typeof name === "string" ? JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name) : showValue(name);
      problems.push(`numaDevices[${i}]: ${shown} is not a PCI function, network interface or block device of ${host}; expected e.g. "0000:41:00.0", "enp65s0f0" or "/dev/nvme0n1"`);
    } else nodes.push({ device: name, node });
  });
  return { nodes, problems };
}

/** The device's node, null when the host does not know it, undefined when there is no such device. */
function nodeOf(facts: HostFacts, name: string): number | null | undefined {
  if (PCI.test(name)) {
    const fn = facts.pciDevices.find((d) => d.address === name.toLowerCase());
    return fn ? fn.numaNode : undefined;
  }
  const nic = facts.network.nics.find((n) => n.name === name);
  if (nic) return nic.numaNode;
  const bare = name.startsWith("/dev/") && !name.startsWith("/dev/disk/") ? name.slice("/dev/".length) : name;
  const disk = facts.blockDevices.find((b) => b.name === bare || b.byId.includes(name) || b.partitions.some((p) => p.name === bare || p.byId.includes(name)));
  return disk ? disk.numaNode : undefined;
}
