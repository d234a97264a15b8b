import { bracketed, fileKnob, folded, intValue, plainValue } from "./common";
import type { KnobKind, ValidationContext } from "./types";

/** Kernel block device names, or shell-style globs of them (`nvme*`, `sd?`): no slashes or dots, so never a path. */
export const BLOCK_DEVICE = /^[a-z][a-z0-9_*?-]{0,31}$/;

const isGlob = (dev: string) => /[*?]/.test(dev);

/** Device names a glob matches, in the order the host lists them. */
export function matchDevices(glob: string, names: readonly string[]): string[] {
  const re = new RegExp(`^${glob.replace(/[*]/g, "[^/]*").replace(/[?]/g, "[^/]")}$`);
  return names.filter((n) => re.test(n));
}

/** The value of a glob knob: one value when every device agrees, else `mixed(dev=value,...)` (restorable per device). */
function globValue(files: ReadonlyMap<string, string | undefined>, glob: string, attr: string, parse: (c: string | undefined) => string | undefined): string | undefined {
  const per: [string, string][] = [];
  for (const [path, content] of files) {
    const m = /^\/sys\/block\/([^/]+)\/queue\/([a-z_]+)$/.exec(path);
    if (!m || m[2] !== attr || content === undefined || matchDevices(glob, [m[1]]).length === 0) continue;
    const v = parse(content);
    if (v !== undefined) per.push([m[1], v]);
  }
  if (per.length === 0) return undefined;
  const values = new Set(per.map(([, v]) => v));
  return values.size === 1 ? per[0][1] : `mixed(${per.sort().map(([d, v]) => `${d}=${v}`).join(",")})`;
}

/** The talk's legacy (single-queue) schedulers and their blk-mq successors. */
export const LEGACY_SCHEDULERS: Record<string, string> = { noop: "none", deadline: "mq-deadline", cfq: "bfq" };
const SCHEDULERS = ["none", "mq-deadline", "bfq", "kyber"];
/** Modules that provide a scheduler, when it is not built in. */
export const SCHEDULER_MODULES: Record<string, string> = { bfq: "bfq", kyber: "kyber-iosched", "mq-deadline": "mq-deadline" };

type BlockAttr = "scheduler" | "read_ahead_kb" | "nr_requests";

/** `block:<dev>:scheduler|read_ahead_kb|nr_requests`; `<dev>` may be a glob such as `nvme*`. */
export const blockKind: KnobKind = {
  name: "block",
  grammar: "block:<device>:<scheduler|read_ahead_kb|nr_requests>",
  resolve(key) {
    if (!key.startsWith("block:")) return undefined;
    const m = /^block:([^:]*):([^:]*)$/.exec(key);
    if (!m) return { problem: `malformed key; expected block:<device>:<scheduler|read_ahead_kb|nr_requests>, e.g. block:sda:scheduler` };
    if (!BLOCK_DEVICE.test(m[1])) {
      return { problem: `${JSON.stringify(m[1])} is not a block device name; expected a kernel name such as sda, vda or nvme0n1 (no '/' or '..')` };
    }
    const [, dev, attr] = m;
    if (attr !== "scheduler" && attr !== "read_ahead_kb" && attr !== "nr_requests") {
      return { problem: `unknown block setting ${JSON.stringify(attr)}; expected scheduler, read_ahead_kb or nr_requests` };
    }
    const path = `/sys/block/${dev}/queue/${attr}`;
    const parse = attr === "scheduler" ? bracketed : folded;
    const knob = fileKnob({
      key,
      path,
      parse,
      normalise: (v) => normaliseBlock(attr, v),
      notes: (v) => (attr === "scheduler" && LEGACY_SCHEDULERS[v] ? [`scheduler ${v} is the legacy name; using ${LEGACY_SCHEDULERS[v]}`] : []),
      validate(value, { facts, desired }) {
        const names = facts.blockDevices.map((d) => d.name);
        if (isGlob(dev)) {
          const hits = matchDevices(dev, names);
          if (hits.length === 0) return [`${JSON.stringify(dev)} matches no block device on this host; it has ${names.join(", ") || "none"}`];
          return hits.flatMap((name) => checkDevice(name, attr, value, facts, desired));
        }
        return checkDevice(dev, attr, value, facts, desired);
      },
      persistence: "udev-block",
    });
    if (!isGlob(dev)) return knob;
    // A glob owns every matching device: read and written through the glob, restored per device.
    return {
      ...knob,
      current: (files) => globValue(files, dev, attr, parse),
      restore: (original) => {
        if (original === undefined) return [];
        const mixed = /^mixed\((.*)\)$/.exec(original);
        if (!mixed) return [{ op: "write", path, value: original }];
        return mixed[1].split(",").map((pair) => {
          const [d, v] = pair.split("=");
          return { op: "write" as const, path: `/sys/block/${d}/queue/${attr}`, value: v };
        });
      },
    };
  },
};

function checkDevice(dev: string, attr: BlockAttr, value: string, facts: ValidationContext["facts"], desired: ValidationContext["desired"]): string[] {
  const device = facts.blockDevices.find((d) => d.name === dev);
  if (!device) return [`block device ${JSON.stringify(dev)} does not exist on this host; it has ${facts.blockDevices.map((d) => d.name).join(", ") || "none"}`];
  if (attr !== "scheduler" || device.schedulers.includes(value)) return [];
  const mod = SCHEDULER_MODULES[value];
  if (mod && desired.get(`module:${mod}`) === "loaded") return [];
  const hint = mod ? ` (load it with modules: ["${mod}"] if the kernel has it as a module)` : "";
  if (device.schedulers.length === 0) return [`scheduler ${JSON.stringify(value)} cannot be set on ${dev}: it has no I/O scheduler (no queue/scheduler choices)`];
  return [`scheduler ${JSON.stringify(value)} is not offered by ${dev}; it offers ${device.schedulers.join(", ")}${hint}`];
}

function normaliseBlock(attr: BlockAttr, value: string): { value: string } | { problem: string } {
  if (attr === "read_ahead_kb") return intValue(value, 0, 65536, " KiB");
  if (attr === "nr_requests") return intValue(value, 4, 65536);
  const v = plainValue(value, "a scheduler");
  if ("problem" in v) return v;
  const mapped = LEGACY_SCHEDULERS[v.value] ?? v.value;
  if (!SCHEDULERS.includes(mapped)) {
    return { problem: `${JSON.stringify(value)} is not accepted; expected one of ${SCHEDULERS.join(", ")} (legacy noop, deadline, cfq map to none, mq-deadline, bfq)` };
  }
  return { value: mapped };
}
