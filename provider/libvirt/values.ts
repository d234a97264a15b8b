/**
 * Value grammar of libvirt domain XML that the owned parts use: cpusets with `^`
 * exclusions, scaled sizes with units, PCI addresses, MACs. Pure; no DOM.
 */
import { formatCpuList, isPciAddress, parseCpuList } from "../host/sysfs-parse";

/** basictypes.rng `cpuset`: items are N, N-M or ^N, comma separated, no blanks. */
const CPUSET = /^(\d+(-\d+)?|\^\d+)(,(\d+(-\d+)?|\^\d+))*$/;

/**
 * Expands a libvirt cpuset ("0-7,^3") into sorted CPU numbers. Items apply left to
 * right like libvirt's virBitmapParse, so "^3,0-7" still contains 3. Throws when
 * the text is not in the schema's grammar.
 */
export function parseLibvirtCpuset(text: string): number[] {
  if (!CPUSET.test(text)) throw new Error(`invalid cpuset "${text}": expected e.g. "0-3,8,^2"`);
  const set = new Set<number>();
  for (const item of text.split(",")) {
    if (item.startsWith("^")) set.delete(Number(item.slice(1)));
    else for (const c of parseCpuList(item)) set.add(c);
  }
  return [...set].sort((a, b) => a - b);
}

/** True for text in the schema's cpuset grammar that names at least one CPU. */
export function isCpuset(text: string): boolean {
  try {
    return parseLibvirtCpuset(text).length > 0;
  } catch {
    return false;
  }
}

/** The compact form of a cpuset ("0,1,2,3,^2" -> "0-1,3"); the input unchanged when it does not parse. */
export function normalizeCpuset(text: string): string {
  try {
    return formatCpuList(parseLibvirtCpuset(text));
  } catch {
    return text;
  }
}

/** Same CPUs, whatever the spelling; unparsable text only equals itself. */
export function cpusetEquals(a: string, b: string): boolean {
  return a === b || normalizeCpuset(a) === normalizeCpuset(b);
}

/** basictypes.rng `unit`. */
const UNIT = /^(?:[bB](?:[yY][tT][eE][sS]?)?|[kKmMgGtTpPeE](?:[iI]?[bB])?)$/;

export function isUnit(text: string): boolean {
  return UNIT.test(text);
}

/**
 * Bytes in `value` `unit` with libvirt's virScaleInteger rules: "b"/"bytes" are 1,
 * a bare prefix or "XiB" is a power of 1024, "XB" a power of 1000, case-insensitive.
 * `unit` defaults to KiB, libvirt's default for memory, NUMA cells and hugepages.
 */
export function sizeInBytes(value: number, unit = "KiB"): bigint {
  if (!UNIT.test(unit)) throw new Error(`invalid unit "${unit}"`);
  const u = unit.toLowerCase();
  if (u.startsWith("b")) return BigInt(value);
  const power = BigInt("kmgtpe".indexOf(u[0]) + 1);
  const base = u.length === 2 && u[1] === "b" ? 1000n : 1024n;
  return BigInt(value) * base ** power;
}

/** Equal sizes in any units; a bad unit only equals the same spelling. */
export function sizeEquals(a: number, aUnit: string | undefined, b: number, bUnit: string | undefined): boolean {
  try {
    return sizeInBytes(a, aUnit) === sizeInBytes(b, bUnit);
  } catch {
    return a === b && (aUnit ?? "KiB") === (bUnit ?? "KiB");
  }
}

/** "4194304 KiB" (the unit libvirt assumes when none is given). */
export function formatSize(value: number, unit: string | undefined): string {
  return `${value} ${unit ?? "KiB"}`;
}

/** basictypes.rng `uniMacAddr`: unicast MAC. */
const MAC = /^[a-fA-F0-9][02468aAcCeE](:[a-fA-F0-9]{2}){5}$/;

export function isUnicastMac(text: string): boolean {
  return MAC.test(text);
}

/** MACs are keys; libvirt prints them lower-case. */
export function normalizeMac(text: string): string {
  return text.toLowerCase();
}

/** The attributes of a `<address type='pci'>` for "0000:5e:00.0", in libvirt's spelling. */
export function pciAddressAttributes(address: string): [string, string][] {
  if (!isPciAddress(address)) throw new Error(`invalid PCI address "${address}": expected e.g. 0000:5e:00.0`);
  const m = /^([0-9a-f]+):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/.exec(address)!;
  return [
    ["domain", `0x${m[1]}`],
    ["bus", `0x${m[2]}`],
    ["slot", `0x${m[3]}`],
    ["function", `0x${m[4]}`],
  ];
}

/** Parses a PCI address attribute ("0x5e" or decimal "94", pciaddress in basictypes.rng). */
function pciNumber(text: string | undefined): number | null {
  if (text === undefined) return 0; // libvirt treats a missing part as 0
  if (/^0x[0-9a-fA-F]+$/.test(text)) return parseInt(text.slice(2), 16);
  if (/^\d+$/.test(text)) return Number(text);
  return null;
}

/** "0000:5e:00.0" from the domain/bus/slot/function attributes; null when they do not parse. */
export function formatPciAddress(get: (name: string) => string | undefined): string | null {
  const [d, b, s, f] = ["domain", "bus", "slot", "function"].map((n) => pciNumber(get(n)));
  if (d === null || b === null || s === null || f === null || b > 0xff || s > 0x1f || f > 7) return null;
  const hex = (n: number, w: number) => n.toString(16).padStart(w, "0");
  return `${hex(d, 4)}:${hex(b, 2)}:${hex(s, 2)}.${f}`;
}

/** Decimal integer that is the whole text, else null (schema counts and ids are decimal). */
export function parseDecimal(text: string | undefined | null): number | null {
  if (text === undefined || text === null) return null;
  const t = text.trim();
  if (!/^\d+$/.test(t)) return null;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : null;
}
