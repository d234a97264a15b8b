/**
 * Checks desired owned parts against the value rules of domaincommon.rng /
 * cputypes.rng / basictypes.rng before anything is applied, and reports every
 * problem at once. Parts often come from JSON (Pulumi state), so types are
 * checked at run time too.
 */
import { isPciAddress } from "../host/sysfs-parse";
import type { OwnedParts } from "./types";
import { isCpuset, isUnicastMac, isUnit } from "./values";

type Check = (path: string, v: unknown) => void;

export const NUMA_MODES = ["strict", "preferred", "interleave", "restrictive"] as const;
/** interface types in domaincommon.rng. */
const INTERFACE_TYPES = [
  "bridge", "ethernet", "vhostuser", "network", "direct", "user", "internal", "mcast", "client",
  "udp", "server", "hostdev", "vdpa", "null", "vds",
];
/** XML Name, ASCII subset: attribute names given as data must be names, nothing else. */
const XML_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** Returns every problem in `parts`; empty when it can be applied. */
export function validateParts(parts: Partial<OwnedParts>): string[] {
  const problems: string[] = [];
  const bad = (path: string, v: unknown, want: string) => problems.push(`${path}: ${JSON.stringify(v)} is not ${want}`);
  const int = (min: number, max = Number.MAX_SAFE_INTEGER): Check => (p, v) => {
    if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) bad(p, v, `an integer ${min}..${max}`);
  };
  const oneOf = (values: readonly string[]): Check => (p, v) => {
    if (!values.includes(v as string)) bad(p, v, `one of ${values.join(", ")}`);
  };
  const pattern = (re: RegExp, what: string): Check => (p, v) => {
    if (typeof v !== "string" || !re.test(v)) bad(p, v, what);
  };
  const cpuset: Check = (p, v) => {
    if (typeof v !== "string" || !isCpuset(v)) bad(p, v, 'a cpuset such as "0-3,8,^2"');
  };
  const unit: Check = (p, v) => {
    if (typeof v !== "string" || !isUnit(v)) bad(p, v, 'a unit such as "KiB", "MiB", "GiB"');
  };
  const bool: Check = (p, v) => {
    if (typeof v !== "boolean") bad(p, v, "true or false");
  };
  const text = pattern(/\S/, "a non-empty string");
  /** Checks fields that are present and not null (null = remove, always allowed unless required). */
  const fields = (path: string, obj: unknown, spec: Record<string, Check>, required: string[] = []) => {
    if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return bad(path, obj, "an object");
    const o = obj as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!(k in spec)) problems.push(`${path}.${k}: unknown field`);
    for (const [k, check] of Object.entries(spec)) {
      if (o[k] === undefined || o[k] === null) {
        if (required.includes(k)) problems.push(`${path}.${k}: required`);
      } else check(`${path}.${k}`, o[k]);
    }
  };
  const list = (path: string, v: unknown, key: string, each: (p: string, item: unknown) => void) => {
    if (!Array.isArray(v)) return bad(path, v, "a list");
    const seen = new Set<unknown>();
    v.forEach((item, i) => {
      each(`${path}[${i}]`, item);
      const k = (item as Record<string, unknown> | null)?.[key];
      if (seen.has(k)) problems.push(`${path}[${i}]: duplicate ${key} ${JSON.stringify(k)}`);
      seen.add(k);
    });
  };
  const part = (name: keyof OwnedParts, each: (v: unknown) => void) => {
    const v = parts[name];
    if (v !== undefined && v !== null) each(v);
  };
  const size = (p: string, v: unknown) => fields(p, v, { value: int(0), unit }, ["value"]);

  part("memory", (v) => size("memory", v));
  part("currentMemory", (v) => size("currentMemory", v));
  part("vcpu", (v) => {
    fields("vcpu", v, { count: int(1, 65535), placement: oneOf(["static", "auto"]), cpuset, current: int(1, 65535) }, ["count"]);
    const { count, current } = v as { count?: unknown; current?: unknown };
    if (typeof current === "number" && typeof count === "number" && current > count) problems.push(`vcpu.current: ${current} is more than vcpu.count ${count}`);
  });
  part("iothreads", (v) => fields("iothreads", v, { count: int(0, 4294967295) }, ["count"]));
  part("cputune", (v) =>
    fields("cputune", v, {
      vcpupin: (p, l) => list(p, l, "vcpu", (q, i) => fields(q, i, { vcpu: int(0, 65535), cpuset }, ["vcpu", "cpuset"])),
      emulatorpin: (p, e) => fields(p, e, { cpuset }, ["cpuset"]),
      iothreadpin: (p, l) => list(p, l, "iothread", (q, i) => fields(q, i, { iothread: int(1, 4294967295), cpuset }, ["iothread", "cpuset"])),
    }),
  );
  part("numatune", (v) =>
    fields("numatune", v, {
      memory: (p, m) => {
        fields(p, m, { mode: oneOf(NUMA_MODES), nodeset: cpuset, placement: oneOf(["static", "auto"]) });
        const mm = m as Record<string, unknown>;
        if (mm.placement === "auto" && typeof mm.nodeset === "string") problems.push(`${p}: placement 'auto' excludes a nodeset`);
      },
      memnode: (p, l) => list(p, l, "cellid", (q, i) => fields(q, i, { cellid: int(0, 4294967295), mode: oneOf(NUMA_MODES), nodeset: cpuset }, ["cellid", "mode", "nodeset"])),
    }),
  );
  part("memoryBacking", (v) =>
    fields("memoryBacking", v, {
      hugepages: (p, l) => list(p, l, "nodeset", (q, i) => fields(q, i, { size: int(1), unit, nodeset: cpuset }, ["size"])),
      locked: bool,
      nosharepages: bool,
    }),
  );
  part("cpu", (v) =>
    fields("cpu", v, {
      mode: oneOf(["host-passthrough", "host-model", "custom", "maximum"]),
      match: oneOf(["minimum", "exact", "strict"]),
      check: oneOf(["none", "partial", "full"]),
      topology: (p, t) => fields(p, t, { sockets: int(1), dies: int(1), cores: int(1), threads: int(1) }, ["sockets", "cores", "threads"]),
      numa: (p, l) =>
        list(p, l, "id", (q, c) =>
          fields(q, c, {
            id: int(0, 4294967295),
            cpus: cpuset,
            memory: int(0),
            unit,
            memAccess: oneOf(["shared", "private"]),
            distances: (r, d) => list(r, d, "id", (s, x) => fields(s, x, { id: int(0, 4294967295), value: int(10, 255) }, ["id", "value"])),
          }, ["id", "memory"]),
        ),
    }),
  );
  if (parts.os === null) problems.push("os: cannot be removed (every domain has one)");
  part("os", (v) => fields("os", v, { type: text, arch: pattern(/^[a-z0-9_]+$/, "an architecture name"), machine: text }));
  part("osinfo", (v) => text("osinfo", v));
  const keyed = (name: "disks" | "interfaces" | "hostdevs", each: (p: string, key: string, v: unknown) => void) =>
    part(name, (m) => {
      if (typeof m !== "object" || Array.isArray(m)) return bad(name, m, "a map");
      for (const [k, v] of Object.entries(m as object)) each(`devices.${name.slice(0, -1)}[${k}]`, k, v);
    });
  const positive = int(1, 4294967295);
  keyed("disks", (p, _k, v) => {
    if (v === null) return problems.push(`${p}: disks are not removed here`);
    fields(p, v, {
      driver: (q, d) =>
        fields(q, d, {
          name: pattern(/^[a-zA-Z0-9_+-]+$/, "a driver name"),
          type: pattern(/^[a-z0-9_-]+$/, "an image format"),
          cache: oneOf(["default", "none", "writeback", "writethrough", "directsync", "unsafe"]),
          io: oneOf(["threads", "native", "io_uring"]),
          discard: oneOf(["unmap", "ignore"]),
          iothread: int(0, 4294967295),
          queues: positive,
        }),
    });
  });
  keyed("interfaces", (p, k, v) => {
    if (!isUnicastMac(k)) problems.push(`${p}: key is not a unicast MAC address`);
    if (v === null) return;
    fields(p, v, {
      type: oneOf(INTERFACE_TYPES),
      source: (q, s) =>
        fields(q, s, {
          attributes: (r, a) => {
            if (typeof a !== "object" || a === null || Array.isArray(a)) return bad(r, a, "a map of attributes");
            for (const [n, x] of Object.entries(a)) {
              if (!XML_NAME.test(n)) problems.push(`${r}: ${JSON.stringify(n)} is not an attribute name`);
              if (typeof x !== "string") bad(`${r}.${n}`, x, "a string");
            }
          },
          pciAddress: (r, a) => { if (typeof a !== "string" || !isPciAddress(a)) bad(r, a, "a PCI address such as 0000:5e:10.2"); },
        }, ["attributes"]),
      model: pattern(/^[a-zA-Z0-9_-]+$/, "a model name"),
      driver: (q, d) => fields(q, d, { name: oneOf(["vhost", "qemu"]), queues: positive, rx_queue_size: positive, tx_queue_size: positive }),
      mtu: int(1, 65535),
      vlan: int(0, 4095),
    });
  });
  keyed("hostdevs", (p, _k, v) => {
    if (v !== null) fields(p, v, { type: pattern(/^[a-z_]+$/, "a hostdev type"), managed: bool });
  });
  for (const k of Object.keys(parts)) {
    if (!["memory", "currentMemory", "vcpu", "iothreads", "cputune", "numatune", "memoryBacking", "cpu", "os", "osinfo", "disks", "interfaces", "hostdevs"].includes(k)) {
      problems.push(`${k}: unknown part`);
    }
  }
  return problems;
}
