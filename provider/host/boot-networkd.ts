/**
 * MTUs that systemd .link and .network files set at boot (systemd.link(5),
 * systemd.network(5)). Files merge by name (/etc over /run over /usr/lib) and
 * the first matching file by name is the one applied. A .link file is applied
 * by udev when it sets the link up (80-net-setup-link.rules), in the same event
 * as kvmtune's rule, so it only may win; a .network file is applied later by
 * systemd-networkd, when that is enabled.
 */
import type { BootSources } from "./facts-boot";
import { NETWORK_DIRS } from "./facts-boot";
import type { Nic } from "./facts";
import { globMatch, mergeByName, type Found } from "./boot-files";

/** [Match] keys systemd 252 knows per file kind; a file with none of them is ignored ("No valid settings found in the [Match] section"). */
const COMMON = ["MACAddress", "PermanentMACAddress", "Path", "Driver", "Type", "Kind", "Property", "Host", "Virtualization", "KernelCommandLine", "KernelVersion", "Credential", "Architecture", "Firmware"];
const MATCH_KEYS: Record<"link" | "network", string[]> = { link: [...COMMON, "OriginalName"], network: [...COMMON, "Name", "WLANInterfaceType", "SSID", "BSSID"] };

/** `[Match]` lists (space-separated, an empty assignment resets) and the last `[Link] MTUBytes`. */
function parseNetworkFile(lines: string[]): { match: Map<string, string[]>; mtu?: string } {
  const match = new Map<string, string[]>();
  let section = "";
  let mtu: string | undefined;
  for (const raw of lines) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    if (line.startsWith("[")) {
      section = line;
      continue;
    }
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    const [key, value] = [line.slice(0, eq).trim(), line.slice(eq + 1).trim()];
    if (section === "[Match]") match.set(key, value === "" ? [] : [...(match.get(key) ?? []), ...value.split(/\s+/)]);
    else if (section === "[Link]" && key === "MTUBytes") mtu = value;
  }
  return { match, mtu };
}

/** Whether the file's [Match] takes this interface; conditions kvmtune cannot evaluate count as met. */
function matches(kind: "link" | "network", match: Map<string, string[]>, ifname: string, nic: Nic | undefined): boolean {
  const keys = [...match.keys()].filter((k) => MATCH_KEYS[kind].includes(k));
  if (keys.length === 0) return false;
  const globs = (list: string[], subject: string) => {
    const invert = list[0]?.startsWith("!") ?? false;
    const hit = list.map((g, i) => (i === 0 && invert ? g.slice(1) : g)).some((g) => globMatch(g, subject));
    return invert ? !hit : hit;
  };
  return keys.every((k) => {
    const list = match.get(k)!;
    if (list.length === 0) return true;
    // OriginalName is the kernel's name before renaming; kvmtune only knows the name it sets an MTU on.
    if (k === "Name" || k === "OriginalName") return globs(list, ifname);
    if ((k === "MACAddress" || k === "PermanentMACAddress") && nic?.mac) return list.some((m) => m.toLowerCase() === nic.mac!.toLowerCase());
    if (k === "Driver" && nic?.driver) return globs(list, nic.driver);
    return true;
  });
}

/** MTUBytes with systemd's 1024-based K/M/G suffixes, in bytes. */
function mtuBytes(v: string): string {
  const m = /^(\d+)\s*([KMG]?)$/i.exec(v.trim());
  return m ? String(Number(m[1]) * 1024 ** " KMG".indexOf((m[2] || " ").toUpperCase())) : v;
}

/** The .link and .network files that set an MTU on `ifname` at boot (the first matching of each kind, by name). */
export function planNetworkdMtu(ifname: string, nic: Nic | undefined, sources: BootSources): { link?: Found; network?: Found } {
  const out: { link?: Found; network?: Found } = {};
  for (const f of mergeByName(sources.networkFiles, NETWORK_DIRS)) {
    const kind = f.path.endsWith(".link") ? "link" : "network";
    if (out[kind] || (kind === "network" && !sources.networkdEnabled)) continue;
    const { match, mtu } = parseNetworkFile(f.lines);
    // Only files that set an MTU are in the facts (with the names in /etc and /run): an earlier matching
    // file elsewhere that sets none would take the interface first, and is not seen.
    if (mtu === undefined || !matches(kind, match, ifname, nic)) continue;
    out[kind] = kind === "link" ? { source: f.path, value: mtu, effective: mtuBytes(mtu), maybe: true } : { source: f.path, value: mtu, effective: mtuBytes(mtu), note: " (systemd-networkd applies it)" };
  }
  return out;
}
