/**
 * The libvirt domains on a host, from the facts script's `virsh` section: what
 * each one pins and how its memory is backed, so the planner can count guests
 * it did not make. XML goes through the same parser and readers as
 * LibvirtDomain (dom.ts, parts-read.ts); a domain that does not parse is named
 * in `problems`, never fatal to the facts read.
 */
import type { MemorySize, OwnedParts } from "../libvirt/types";
import { parseLibvirtCpuset, sizeInBytes } from "../libvirt/values";
import type { FactsDump } from "./facts-dump";

/** One guest NUMA cell and the host nodes `<memnode>` binds it to. */
export interface HostDomainCell {
  id: number;
  memoryKiB: number;
  /** memnode nodeset; null when the cell has no memnode. */
  nodeset: number[] | null;
}

/** A hugepage size backing some guest cells (`<memoryBacking><hugepages><page>`). */
export interface HostDomainPages {
  /** KiB; null for `<hugepages/>` without a page (the host's default size). */
  sizeKiB: number | null;
  /** Guest cells it backs; null = all. */
  cells: number[] | null;
}

/** A libvirt domain as found on the host (its persistent config, `virsh dumpxml --inactive`). */
export interface HostDomain {
  name: string;
  /** State from `virsh list --all`: "running", "paused", "shut off", ...; null when not in the list. */
  state: string | null;
  vcpus: number;
  /** Host CPUs its vCPUs are pinned to (`<vcpupin>`, else `<vcpu cpuset>`), sorted; [] when not pinned. */
  vcpuCpus: number[];
  /** `<emulatorpin>`; null when not pinned. */
  emulatorCpus: number[] | null;
  /** Every `<iothreadpin>` together, sorted. */
  iothreadCpus: number[];
  memoryKiB: number;
  /** `<numatune><memory>` mode ("strict" when only a nodeset is given) and nodeset; null without one. */
  numaMode: string | null;
  nodeset: number[] | null;
  /** `<cpu><numa>` cells with their memnodes; [] without guest NUMA. */
  cells: HostDomainCell[];
  /** null: normal pages. */
  hugepages: HostDomainPages[] | null;
}

/** The domains section of the facts. */
export interface HostDomainsFacts {
  /** virsh listed the domains; false when there is no virsh or it could not list them (domains is then empty). */
  listed: boolean;
  /** Sorted by name. */
  domains: HostDomain[];
  /** Domains that were not read (over the bound, failed or unparsable), one line each. */
  problems: string[];
}

const kib = (s: MemorySize) => Number(sizeInBytes(s.value, s.unit ?? "KiB") / 1024n);
const cpuset = (text: string | undefined) => (text ? parseLibvirtCpuset(text) : []);
const sorted = (xs: Iterable<number>) => [...new Set(xs)].sort((a, b) => a - b);

/** Reads the domains section; no virsh means no domains, not a problem. */
export function readHostDomains(dump: FactsDump): HostDomainsFacts {
  const list = dump.command("virsh-list");
  if (list === undefined) {
    const unlisted = dump.variable("domains-unlisted") !== undefined;
    return { listed: false, domains: [], problems: unlisted ? ["virsh could not list the domains (is libvirtd running, and the facts read as root?)"] : [] };
  }
  const domains: HostDomain[] = [];
  const problems: string[] = [];
  for (const [key, body] of dump.commandsStartingWith("domain-xml ")) {
    const xml = body.split("\n").map((l) => (l.startsWith("|") ? l.slice(1) : l)).join("\n");
    try {
      domains.push(parseHostDomain(xml, list));
    } catch (err) {
      problems.push(`domain ${key.slice("domain-xml ".length)} of virsh list: ${(err as Error).message}`);
    }
  }
  const left = Number(dump.variable("domains-left-out") ?? 0);
  if (left > 0) problems.push(`${left} domain${left === 1 ? " was" : "s were"} not read (more than 128, over 30 s, or virsh failed)`);
  domains.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { listed: true, domains, problems };
}

/** One domain from its XML, its state from `virsh -q list --all` rows (" 3   web7   running"). */
export function parseHostDomain(xml: string, virshList = ""): HostDomain {
  // The XML parser (and @xmldom/xmldom) loads only when a host has domains to parse: a TunedHost's facts rarely do.
  const { parseDomainXml } = require("../libvirt/dom") as typeof import("../libvirt/dom");
  const { readOwnedParts } = require("../libvirt/parts-read") as typeof import("../libvirt/parts-read");
  const doc = parseDomainXml(xml);
  const nameEl = doc.domain.getElementsByTagName("name")[0];
  const name = nameEl?.textContent?.trim() ?? "";
  if (!name) throw new Error("domain XML has no <name>");
  const parts: OwnedParts = readOwnedParts(doc);
  const esc = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const row = new RegExp(`^\\s*\\S+\\s+${esc}\\s+(\\S.*?)\\s*$`, "m").exec(virshList);
  const vcpus = parts.vcpu?.count ?? 1;
  const pins = parts.cputune?.vcpupin ?? [];
  // vCPUs without a <vcpupin> run on <vcpu cpuset> (or anywhere, then they hold nothing).
  const unpinned = new Set(pins.map((p) => p.vcpu)).size < vcpus;
  const vcpuCpus = sorted([...pins.flatMap((p) => cpuset(p.cpuset)), ...(unpinned ? cpuset(parts.vcpu?.cpuset ?? undefined) : [])]);
  const nt = parts.numatune;
  const memnodes = new Map((nt?.memnode ?? []).map((m) => [m.cellid, m.nodeset ? parseLibvirtCpuset(m.nodeset) : null]));
  const hp = parts.memoryBacking?.hugepages;
  return {
    name,
    state: row ? row[1] : null,
    vcpus,
    vcpuCpus,
    emulatorCpus: parts.cputune?.emulatorpin ? cpuset(parts.cputune.emulatorpin.cpuset) : null,
    iothreadCpus: sorted((parts.cputune?.iothreadpin ?? []).flatMap((p) => cpuset(p.cpuset))),
    memoryKiB: parts.memory ? kib(parts.memory) : 0,
    numaMode: nt?.memory ? nt.memory.mode ?? (nt.memory.nodeset ? "strict" : null) : null,
    nodeset: nt?.memory?.nodeset ? parseLibvirtCpuset(nt.memory.nodeset) : null,
    cells: (parts.cpu?.numa ?? []).map((c) => ({ id: c.id, memoryKiB: kib({ value: c.memory, unit: c.unit }), nodeset: memnodes.get(c.id) ?? null })),
    hugepages: hp === null || hp === undefined ? null : hp.length === 0 ? [{ sizeKiB: null, cells: null }] : hp.map((p) => ({ sizeKiB: kib({ value: p.size, unit: p.unit }), cells: p.nodeset ? parseLibvirtCpuset(p.nodeset) : null })),
  };
}

/** /etc/machine-id: 32 hex digits; null when absent or malformed. */
export function readMachineId(dump: FactsDump): string | null {
  const id = dump.file("/etc/machine-id")?.trim().toLowerCase();
  return id && /^[0-9a-f]{32}$/.test(id) ? id : null;
}
