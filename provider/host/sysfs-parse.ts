/** Small pure parsers for sysfs/procfs text. No I/O. */

import { quoteText } from "../spec/issues";

/** Highest CPU number accepted in a cpulist; far above the kernel's NR_CPUS limit (8192). */
const MAX_CPU = 65535;

/** What is wrong with one cpulist, as `scanCpuList` finds it. */
type CpuListFault =
  | { kind: "empty-element"; index: number; count: number }
  | { kind: "bad-element"; part: string }
  | { kind: "above-max"; cpu: number }
  | { kind: "reversed"; part: string; lo: number; hi: number };

/** The CPUs of a cpulist (sorted, de-duplicated), or its first fault. */
function scanCpuList(text: string): { cpus: number[] } | { fault: CpuListFault } {
  const trimmed = text.trim();
  if (trimmed === "") return { cpus: [] };
  const out = new Set<number>();
  const parts = trimmed.split(",");
  for (const [index, part] of parts.entries()) {
    if (part === "") return { fault: { kind: "empty-element", index, count: parts.length } };
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return { fault: { kind: "bad-element", part } };
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi > MAX_CPU || lo > MAX_CPU) return { fault: { kind: "above-max", cpu: Math.max(lo, hi) } };
    if (hi < lo) return { fault: { kind: "reversed", part, lo, hi } };
    for (let c = lo; c <= hi; c++) out.add(c);
  }
  return { cpus: [...out].sort((a, b) => a - b) };
}

/**
 * Expands a kernel cpulist ("0-3,8,10-11", see Documentation/admin-guide/cputopology)
 * into sorted, de-duplicated CPU numbers. An empty or blank string is the empty set
 * (sysfs prints an empty line for an empty mask). Anything else malformed throws
 * (terse: this reads what the kernel and libvirt print; `cpuListProblem` words it for users).
 */
export function parseCpuList(text: string): number[] {
  const r = scanCpuList(text);
  if ("cpus" in r) return r.cpus;
  const f = r.fault;
  const why =
    f.kind === "empty-element" ? `bad element ""` : f.kind === "bad-element" ? `bad element ${quoteText(f.part, 60)}` : f.kind === "above-max" ? `CPU ${f.cpu} is above ${MAX_CPU}` : `range "${f.part}" is descending`;
  throw new Error(`invalid cpulist ${quoteText(text, 200)}: ${why}`);
}

/**
 * What is wrong with a cpulist a user wrote, in words that say what to write
 * instead (without repeating the list itself); undefined when it is a
 * non-empty, well-formed cpulist. Accepted: CPU numbers and low-high ranges,
 * separated by commas, such as 2-7,10-15.
 */
export function cpuListProblem(text: string): string | undefined {
  if (text.trim() === "") return "the CPU list is empty";
  const r = scanCpuList(text);
  if ("cpus" in r) return undefined;
  const f = r.fault;
  switch (f.kind) {
    case "empty-element":
      return f.index === 0 ? "it starts with a comma" : f.index === f.count - 1 ? "it ends with a comma" : "it has an empty element (two commas in a row)";
    case "bad-element":
      return `${quoteText(f.part, 60)} is neither a CPU number nor a range low-high`;
    case "above-max":
      return `CPU ${f.cpu} is above ${MAX_CPU}, the highest CPU number kvmtune accepts`;
    case "reversed":
      return `range "${f.part}" is reversed; write it low-high, as ${f.hi}-${f.lo}`;
  }
}

/** Formats CPU numbers as a compact cpulist ("0-3,8,10-11"); inverse of `parseCpuList`. */
export function formatCpuList(cpus: readonly number[]): string {
  for (const c of cpus) {
    if (!Number.isSafeInteger(c) || c < 0 || c > MAX_CPU) {
      throw new Error(`invalid CPU number ${String(c)}: expected an integer 0..${MAX_CPU}`);
    }
  }
  const sorted = [...new Set(cpus)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}

/** A sysfs multiple-choice value: every offered choice, and the bracketed active one. */
export interface BracketChoice {
  /** All choices in kernel order, without brackets. */
  offered: string[];
  /** The bracketed choice, or null when none is bracketed (e.g. a queue without elevator support prints just "none"). */
  active: string | null;
}

/**
 * Parses a sysfs choice list such as THP `enabled` ("always [madvise] never") or a
 * queue `scheduler` ("none [mq-deadline] kyber bfq"). Throws on malformed brackets
 * or more than one active choice.
 */
export function parseBracketChoice(text: string): BracketChoice {
  const offered: string[] = [];
  let active: string | null = null;
  for (const token of text.trim().split(/\s+/).filter((t) => t !== "")) {
    const m = /^\[([^[\]]+)\]$/.exec(token);
    const name = m ? m[1] : token;
    if (/[[\]]/.test(name)) throw new Error(`invalid choice list "${text}": malformed token "${token}"`);
    if (m) {
      if (active !== null) throw new Error(`invalid choice list "${text}": more than one active choice`);
      active = name;
    }
    offered.push(name);
  }
  return { offered, active };
}

/** Parses a decimal integer that is the whole (trimmed) text; null otherwise (absent, empty, garbage). */
export function parseIntStrict(text: string | undefined): number | null {
  if (text === undefined) return null;
  const t = text.trim();
  if (!/^-?\d+$/.test(t)) return null;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : null;
}

/** Parses "0"/"1" sysfs flags; null for anything else. */
export function parseFlag(text: string | undefined): boolean | null {
  const n = parseIntStrict(text);
  return n === 0 ? false : n === 1 ? true : null;
}

/**
 * Parses meminfo-style "Key: value [kB]" lines into numbers. A `prefix` is stripped
 * first (the per-node files repeat "Node N " on every line).
 */
export function parseMeminfo(text: string, prefix = ""): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const l = line.startsWith(prefix) ? line.slice(prefix.length) : line;
    const m = /^([^:\s]+):\s+(\d+)(?: kB)?\s*$/.exec(l);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

/** Decodes the octal escapes (\040 for space, \011, \012, \134) that /proc/mounts and /proc/swaps use. */
export function decodeOctalEscapes(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** One /proc/mounts line. */
export interface MountEntry {
  /** Source as the kernel shows it, e.g. "/dev/nvme0n1p2", "/dev/mapper/vg0-root", "tmpfs". */
  source: string;
  mountPoint: string;
  fsType: string;
  options: string[];
}

export function parseProcMounts(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4) continue;
    out.push({
      source: decodeOctalEscapes(f[0]),
      mountPoint: decodeOctalEscapes(f[1]),
      fsType: f[2],
      options: f[3].split(","),
    });
  }
  return out;
}

/** One /proc/swaps line (sizes in KiB). */
export interface SwapEntry {
  path: string;
  type: string;
  sizeKiB: number;
  usedKiB: number;
  priority: number;
}

export function parseProcSwaps(text: string): SwapEntry[] {
  const out: SwapEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5 || f[0] === "Filename") continue;
    const [size, used, prio] = [parseIntStrict(f[2]), parseIntStrict(f[3]), parseIntStrict(f[4])];
    if (size === null || used === null || prio === null) continue;
    out.push({ path: decodeOctalEscapes(f[0]), type: f[1], sizeKiB: size, usedKiB: used, priority: prio });
  }
  return out;
}

/** One address from `ip -o addr show` (iproute2 or busybox). */
export interface IpAddrEntry {
  ifname: string;
  family: "inet" | "inet6";
  /** Address with prefix length, e.g. "192.0.2.2/24" (a bare peer-style local address gets /32 or /128). */
  cidr: string;
}

export function parseIpAddrOneline(text: string): IpAddrEntry[] {
  const out: IpAddrEntry[] = [];
  for (const line of text.split("\n")) {
    const m = /^\d+:\s+([^\s@]+)(?:@\S+)?\s+(inet6?)\s+(\S+)/.exec(line);
    if (!m) continue;
    const family = m[2] as "inet" | "inet6";
    const cidr = m[3].includes("/") ? m[3] : `${m[3]}/${family === "inet" ? 32 : 128}`;
    out.push({ ifname: m[1], family, cidr });
  }
  return out;
}

/** Symlinks from `ls -l DIR` output (GNU or busybox): name -> target. */
export function parseLsSymlinks(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (!line.startsWith("l")) continue;
    const m = / (\S+) -> (\S+)$/.exec(line);
    if (m) out.set(m[1], m[2]);
  }
  return out;
}

const PCI_ADDRESS = /^[0-9a-f]{4,}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

/** True for a PCI address in sysfs form, "0000:5e:00.0". */
export function isPciAddress(text: string): boolean {
  return PCI_ADDRESS.test(text);
}

/**
 * The PCI function a device path (physical sysfs path) hangs off: the last PCI
 * address component, unless a USB bus lies between it and the device (a USB NIC
 * is not its host controller).
 */
export function pciAddressOfPath(path: string): string | null {
  const parts = path.split("/");
  for (let i = parts.length - 1; i >= 0; i--) {
    if (isPciAddress(parts[i])) {
      return parts.slice(i + 1).some((p) => /^usb\d+$/.test(p)) ? null : parts[i];
    }
  }
  return null;
}

/** "0x8086\n" -> "8086" (PCI ids and class as lspci -n prints them); null when absent or not hex. */
export function parseHexId(text: string | undefined): string | null {
  if (text === undefined) return null;
  const m = /^0x([0-9a-fA-F]+)$/.exec(text.trim());
  return m ? m[1].toLowerCase() : null;
}

/** Trimmed text, or null when absent or blank (sysfs pads SCSI model/vendor strings). */
export function textOrNull(text: string | undefined): string | null {
  if (text === undefined) return null;
  const t = text.trim();
  return t === "" ? null : t;
}

/** Last path component. */
export function basename(path: string): string {
  const parts = path.split("/").filter((p) => p !== "");
  return parts.length === 0 ? "" : parts[parts.length - 1];
}
