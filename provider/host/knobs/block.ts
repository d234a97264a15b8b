import { bracketed, fileKnob, intValue, plainValue } from "./common";
import type { KnobKind } from "./types";

/** Kernel block device names: no slashes, no dots, so never a path. */
export const BLOCK_DEVICE = /^[a-z][a-z0-9_-]{0,31}$/;

/** The talk's legacy (single-queue) schedulers and their blk-mq successors. */
export const LEGACY_SCHEDULERS: Record<string, string> = { noop: "none", deadline: "mq-deadline", cfq: "bfq" };
const SCHEDULERS = ["none", "mq-deadline", "bfq", "kyber"];
/** Modules that provide a scheduler, when it is not built in. */
export const SCHEDULER_MODULES: Record<string, string> = { bfq: "bfq", kyber: "kyber-iosched", "mq-deadline": "mq-deadline" };

type BlockAttr = "scheduler" | "read_ahead_kb" | "nr_requests";

/** `block:<dev>:scheduler|read_ahead_kb|nr_requests`. Globs are expanded against host facts before this. */
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
    return fileKnob({
      key,
      path,
      parse: attr === "scheduler" ? bracketed : undefined,
      normalise: (v) => normaliseBlock(attr, v),
      notes: (v) => (attr === "scheduler" && LEGACY_SCHEDULERS[v] ? [`scheduler ${v} is the legacy name; using ${LEGACY_SCHEDULERS[v]}`] : []),
      validate(value, { facts, desired }) {
        const device = facts.blockDevices.find((d) => d.name === dev);
        if (!device) return [`block device ${JSON.stringify(dev)} does not exist on this host; it has ${facts.blockDevices.map((d) => d.name).join(", ") || "none"}`];
        if (attr !== "scheduler") return [];
        if (device.schedulers.includes(value)) return [];
        const mod = SCHEDULER_MODULES[value];
        if (mod && desired.get(`module:${mod}`) === "loaded") return [];
        const hint = mod ? ` (load it with modules: ["${mod}"] if the kernel has it as a module)` : "";
        if (device.schedulers.length === 0) return [`scheduler ${JSON.stringify(value)} cannot be set on ${dev}: it has no I/O scheduler (no queue/scheduler choices)`];
        return [`scheduler ${JSON.stringify(value)} is not offered by ${dev}; it offers ${device.schedulers.join(", ")}${hint}`];
      },
      persistence: "udev-block",
    });
  },
};

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
