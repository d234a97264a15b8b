// What a whole test host looks like, for before/after comparisons: the boot
// configuration files kvmtune may write (by content hash), and the runtime
// values of every setting the reboot tests prove.
import { SRIOV_PF, type DebianHost } from "./debian-host";

/** Directories and files whose every byte must be as before after `destroy`. */
export const BOOT_CONFIG_PATHS = [
  "/etc/sysctl.d", "/etc/tmpfiles.d", "/etc/udev/rules.d", "/etc/modules-load.d", "/etc/modprobe.d",
  "/etc/default/grub.d", "/etc/systemd/network", "/etc/fstab", "/boot/grub/grub.cfg",
];

/** `sha256  path` per file under BOOT_CONFIG_PATHS, sorted; a missing path is listed as such. */
export async function snapshotFiles(host: DebianHost): Promise<string> {
  const paths = BOOT_CONFIG_PATHS.join(" ");
  return host.sh(`for p in ${paths}; do [ -e "$p" ] || echo "missing $p"; done; find ${paths} \\( -type f -o -type l \\) 2>/dev/null | LC_ALL=C sort | xargs -r sha256sum`);
}

export interface RuntimeValues {
  cmdline: string;
  isolated: string;
  swappiness: string;
  arpFilter: string;
  thpEnabled: string;
  thpDefrag: string;
  /** nr_hugepages per node: [node0, node1]. */
  pages2M: string[];
  pages1G: string[];
  hugetlbfsMounts: string[];
  scheduler: string;
  readAheadKb: string;
  nrRequests: string;
  vhostNetLoaded: boolean;
  vhostMaxMemRegions: string;
  dataNicMtu: string;
  ksmRun: string;
  /** VFs of the SR-IOV NVMe PF, "none" on a host without it. */
  sriovNumVfs: string;
}

/** Reads every proven setting in one SSH command. `nic` is the data NIC's name, `dev` the data disk. */
export async function readRuntime(host: DebianHost, nic: string, dev = "vdb"): Promise<RuntimeValues> {
  const n = "/sys/devices/system/node";
  const out = await host.sh([
    "cat /proc/cmdline /sys/devices/system/cpu/isolated /proc/sys/vm/swappiness /proc/sys/net/ipv4/conf/all/arp_filter",
    "cat /sys/kernel/mm/transparent_hugepage/enabled /sys/kernel/mm/transparent_hugepage/defrag",
    `cat ${n}/node0/hugepages/hugepages-2048kB/nr_hugepages ${n}/node1/hugepages/hugepages-2048kB/nr_hugepages`,
    `cat ${n}/node0/hugepages/hugepages-1048576kB/nr_hugepages ${n}/node1/hugepages/hugepages-1048576kB/nr_hugepages`,
    `echo "$(awk '$3 == "hugetlbfs" { print $2 ":" $4 }' /proc/mounts | LC_ALL=C sort | tr '\\n' ' ')"`,
    `cat /sys/block/${dev}/queue/scheduler /sys/block/${dev}/queue/read_ahead_kb /sys/block/${dev}/queue/nr_requests`,
    "if [ -d /sys/module/vhost_net ]; then echo loaded; else echo absent; fi",
    "cat /sys/module/vhost/parameters/max_mem_regions 2>/dev/null || echo none",
    `cat /sys/class/net/${nic}/mtu /sys/kernel/mm/ksm/run`,
    `cat /sys/bus/pci/devices/${SRIOV_PF}/sriov_numvfs 2>/dev/null || echo none`,
  ].join("; "));
  const l = out.split("\n");
  return {
    cmdline: l[0], isolated: l[1], swappiness: l[2], arpFilter: l[3], thpEnabled: l[4], thpDefrag: l[5],
    pages2M: [l[6], l[7]], pages1G: [l[8], l[9]], hugetlbfsMounts: l[10].trim().split(" ").filter(Boolean),
    scheduler: l[11], readAheadKb: l[12], nrRequests: l[13], vhostNetLoaded: l[14] === "loaded", vhostMaxMemRegions: l[15],
    dataNicMtu: l[16], ksmRun: l[17], sriovNumVfs: l[18],
  };
}

/** The kernel's name for the NIC with this MAC (udev renames it: enp0s3 and the like). */
export async function nicByMac(host: DebianHost, mac: string): Promise<string> {
  const name = (await host.sh(`for d in /sys/class/net/*; do [ "$(cat $d/address)" = "${mac}" ] && basename $d; done; true`)).trim();
  if (!/^[a-z0-9]+$/.test(name)) throw new Error(`no single NIC with MAC ${mac} on ${host.name}: ${JSON.stringify(name)}`);
  return name;
}
