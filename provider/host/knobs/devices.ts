import { fileKnob, intValue, plainValue } from "./common";
import { PAGE_SIZES, pageSizeName } from "./memory";
import { mountPointProblem } from "./mount-point";
import type { KnobKind } from "./types";

/** Interface names the kernel accepts (dev_valid_name): at most 15 bytes, no '/', ':' or spaces. */
export const IFNAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;

/** `mtu:<ifname>`: refuses the interface that carries the SSH session unless allowed. */
export const mtuKind: KnobKind = {
  name: "mtu",
  grammar: "mtu:<interface>",
  resolve(key) {
    if (!key.startsWith("mtu:")) return undefined;
    const ifname = key.slice(4);
    if (!IFNAME.test(ifname) || ifname === "." || ifname === "..") return { problem: `${JSON.stringify(ifname)} is not an interface name; expected up to 15 letters, digits, '_', '.', '-'` };
    return fileKnob({
      key,
      path: `/sys/class/net/${ifname}/mtu`,
      normalise: (v) => intValue(v, 68, 65535),
      validate(value, { facts, allowManagementInterface }) {
        const nic = facts.network.nics.find((n) => n.name === ifname);
        if (!nic) return [`interface ${JSON.stringify(ifname)} does not exist on this host; it has ${facts.network.nics.map((n) => n.name).join(", ")}`];
        if (facts.network.ssh?.interface === ifname && !allowManagementInterface && String(nic.mtu) !== value) {
          return [`${ifname} carries kvmtune's SSH session (${facts.network.ssh.serverAddress}); a wrong MTU would cut the host off. Set allowManagementInterface: true to change it anyway`];
        }
        return [];
      },
      persistence: "udev-net",
    });
  },
};

/** `cpufreq:governor`: the same governor on every CPU that has cpufreq. */
export const governorKind: KnobKind = {
  name: "cpufreq",
  grammar: "cpufreq:governor",
  resolve(key) {
    if (!key.startsWith("cpufreq:")) return undefined;
    if (key !== "cpufreq:governor") return { problem: `unknown cpufreq setting; expected cpufreq:governor` };
    const glob = "/sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_governor";
    const available = "/sys/devices/system/cpu/cpu0/cpufreq/scaling_available_governors";
    const perCpu = (files: ReadonlyMap<string, string | undefined>) => [...files].filter(([p, c]) => /^\/sys\/devices\/system\/cpu\/cpu\d+\/cpufreq\/scaling_governor$/.test(p) && c !== undefined).map(([, c]) => c!.trim());
    return {
      key,
      disruption: "live",
      reads: [glob, available],
      current(files) {
        const values = [...new Set(perCpu(files))];
        if (values.length === 0) return undefined;
        return values.length === 1 ? values[0] : `mixed(${values.sort().join(",")})`;
      },
      normalise: (v) => {
        const r = plainValue(String(v), "a governor name");
        return "problem" in r || /^[a-z0-9_]{1,32}$/.test(r.value) ? r : { problem: `${JSON.stringify(v)} is not accepted; expected a governor name such as performance` };
      },
      validate: () => [],
      apply: (value) => [{ op: "write", path: glob, value }],
      restore: (original) => (original === undefined || original.startsWith("mixed(") ? [] : [{ op: "write", path: glob, value: original }]),
      persistence: "tmpfiles",
    };
  },
};

/**
 * `hugetlbfs:<2M|1G>` = mount point: a hugetlbfs mount for that page size (libvirt's hugepage backing uses it).
 * The mount point must be canonical and on mount-point.ts's list (/dev/hugepages*, /run/hugepages, /mnt/..., ...).
 */
export const hugetlbfsKind: KnobKind = {
  name: "hugetlbfs",
  grammar: "hugetlbfs:<2M|1G>",
  resolve(key) {
    if (!key.startsWith("hugetlbfs:")) return undefined;
    const size = key.slice("hugetlbfs:".length);
    if (!(size in PAGE_SIZES)) return { problem: `${JSON.stringify(size)} is not a page size; expected 2M or 1G` };
    return {
      key,
      disruption: "live",
      optional: true,
      reads: ["/proc/mounts"],
      // Another mount of the same size may exist (systemd mounts /dev/hugepages): ours when
      // hinted, else the most recent one.
      current(files, hint) {
        const dirs: string[] = [];
        for (const line of (files.get("/proc/mounts") ?? "").split("\n")) {
          const f = line.split(" ");
          if (f[2] !== "hugetlbfs") continue;
          const opt = f[3]?.split(",").find((o) => o.startsWith("pagesize="));
          const kib = opt ? parseSize(opt.slice(9)) : undefined;
          if (kib === PAGE_SIZES[size]) dirs.push(f[1].replace(/\\040/g, " "));
        }
        return hint !== undefined && dirs.includes(hint) ? hint : dirs[dirs.length - 1];
      },
      // Refused here, statically: HostTuning's check (preview) fails and nothing reaches the host.
      normalise(value) {
        const problem = mountPointProblem(String(value));
        return problem === undefined ? { value: String(value) } : { problem };
      },
      validate(value, { facts }) {
        // Normalise has refused it already; kept for callers that plan without normalising.
        const problem = mountPointProblem(value);
        if (problem !== undefined) return [problem];
        const pools = facts.memory.hugepages.map((p) => p.sizeKiB);
        if (!pools.includes(PAGE_SIZES[size])) {
          return [`this host has no ${size} hugepage pool to mount; it offers ${pools.map(pageSizeName).join(", ") || "none"}${size === "1G" && !facts.cpu.flags.pdpe1gb ? " (1G pages need the CPU flag pdpe1gb)" : ""}`];
        }
        return [];
      },
      apply: (value) => [{ op: "mount-hugetlbfs", dir: value, pageSize: size }],
      // Unmounts ours (a mount that was there before, the original, is never unmounted); mounts the original again if it is gone.
      restore: (original, current) =>
        current === original ? [] : current !== undefined ? [{ op: "umount", dir: current }] : [{ op: "mount-hugetlbfs", dir: original!, pageSize: size }],
      persistence: "fstab",
    };
  },
};

/** Parses a hugetlbfs pagesize option (2M, 1024M, 1G, 2048k) into KiB. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+)([kKmMgG]?)$/.exec(text);
  if (!m) return undefined;
  const mult = { "": 1 / 1024, k: 1, m: 1024, g: 1048576 }[m[2].toLowerCase() as "" | "k" | "m" | "g"];
  return Number(m[1]) * mult;
}

