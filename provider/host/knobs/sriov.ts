import { isPciAddress } from "../sysfs-parse";
import { intValue } from "./common";
import { IFNAME } from "./devices";
import type { KnobKind, RemoteOp, ValidationContext } from "./types";


/** The PF's PCI address and its SR-IOV counts, from a NIC name or a PCI address. */
function findPf(pf: string, facts: ValidationContext["facts"]): { address: string; total: number | null; current: number | null } | string {
  if (isPciAddress(pf)) {
    const dev = facts.pciDevices.find((d) => d.address === pf);
    if (!dev) return `PCI device ${pf} does not exist on this host`;
    return { address: dev.address, total: dev.sriovTotalVfs, current: dev.sriovNumVfs };
  }
  const nic = facts.network.nics.find((n) => n.name === pf);
  if (!nic) return `interface ${JSON.stringify(pf)} does not exist on this host; it has ${facts.network.nics.map((n) => n.name).join(", ")}`;
  if (!nic.pciAddress) return `interface ${pf} is not a PCI function, so it has no SR-IOV`;
  return { address: nic.pciAddress, total: nic.sriovTotalVfs, current: nic.sriovNumVfs };
}

/** Writes that move a VF count: the kernel refuses N -> M (EBUSY) unless it passes through 0. */
function moveOps(path: string, to: string, from: string | undefined): RemoteOp[] {
  if (from !== undefined && from !== "0" && from !== to && to !== "0") return [{ op: "write", path, value: "0" }, { op: "write", path, value: to }];
  return [{ op: "write", path, value: to }];
}

/**
 * `sriov:<pf>:numvfs`: virtual functions of a physical function, named by NIC
 * or PCI address. 0 -> N is live; a non-zero change recreates every VF.
 */
export const sriovKind: KnobKind = {
  name: "sriov",
  grammar: "sriov:<nic or PCI address>:numvfs",
  resolve(key) {
    if (!key.startsWith("sriov:")) return undefined;
    const m = /^sriov:(.+):numvfs$/.exec(key);
    const pf = m?.[1] ?? "";
    if (!m || !(isPciAddress(pf) || (IFNAME.test(pf) && pf !== "." && pf !== ".."))) {
      return { problem: `${JSON.stringify(m ? pf : key.slice(6))} is not a physical function; expected sriov:<interface>:numvfs or sriov:<dddd:bb:dd.f>:numvfs (lower-case hex PCI address)` };
    }
    const path = isPciAddress(pf) ? `/sys/bus/pci/devices/${pf}/sriov_numvfs` : `/sys/class/net/${pf}/device/sriov_numvfs`;
    return {
      key,
      disruption: "live",
      reads: [path],
      current: (files) => files.get(path)?.trim(),
      normalise: (v) => intValue(v, 0, 4096, " VFs"),
      validate(value, { facts, allowVfRecreate }) {
        const found = findPf(pf, facts);
        if (typeof found === "string") return [found];
        if (!found.total) return [`${pf} has no SR-IOV (no sriov_totalvfs); choose a physical function that offers VFs`];
        const want = Number(value);
        if (want > found.total) return [`${want} VFs exceeds what ${pf} offers (sriov_totalvfs = ${found.total})`];
        const now = found.current ?? 0;
        if (now === 0 || now === want || want === 0) return [];
        const problems: string[] = [];
        if (!allowVfRecreate) problems.push(`changing ${pf} from ${now} to ${want} VFs destroys and recreates every VF (the kernel refuses a direct change); set allowVfRecreate: true to allow it`);
        const inUse = facts.pciDevices.filter((d) => d.physfn === found.address && d.driver === "vfio-pci").map((d) => d.address);
        if (inUse.length) problems.push(`VF(s) ${inUse.join(", ")} of ${pf} are bound to vfio-pci (assigned to guests); detach them before changing the VF count`);
        return problems;
      },
      apply: (value, current) => moveOps(path, value, current),
      restore: (original, current) => (original === undefined ? [] : moveOps(path, original, current)),
      persistence: "udev-sriov",
    };
  },
};
