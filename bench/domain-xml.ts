// Domain XML benchmark: prints figures, asserts nothing.
//   node -r ts-node/register/transpile-only bench/domain-xml.ts [-- --domains 1000 --rounds 5]
// One round trip is what LibvirtDomain does per guest: parse the host's XML, read
// the owned parts, diff them with the desired ones, apply, render. The domain is a
// tuned production-like guest (test/fixtures/domain-golden/foreign.expected.xml).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  applyOwnedParts, diffOwnedParts, parseDomainXml, readOwnedParts, renderDomainXml, type OwnedParts,
} from "../provider/libvirt";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const xml = readFileSync(join(__dirname, "../test/fixtures/domain-golden/foreign.expected.xml"), "utf8");
const desired: Partial<OwnedParts> = {
  vcpu: { count: 4, cpuset: "8-11" },
  cputune: {
    vcpupin: [0, 1, 2, 3].map((v) => ({ vcpu: v, cpuset: String(8 + v) })),
    emulatorpin: { cpuset: "0-1" },
    iothreadpin: [{ iothread: 1, cpuset: "2" }, { iothread: 2, cpuset: "3" }],
  },
  numatune: { memory: { mode: "strict", nodeset: "0" } },
  memoryBacking: { hugepages: [{ size: 1, unit: "GiB" }], locked: true },
  cpu: { mode: "host-passthrough", topology: { sockets: 1, cores: 4, threads: 1 } },
  disks: { vdb: { driver: { cache: "none", io: "native" } } },
  interfaces: { "52:54:00:a1:00:01": { driver: { name: "vhost", queues: 4 }, mtu: 9000 } },
};

const phases = { parse: 0, read: 0, diff: 0, apply: 0, render: 0 };

function roundTrip(): void {
  let t = performance.now();
  const lap = (p: keyof typeof phases) => {
    const now = performance.now();
    phases[p] += now - t;
    t = now;
  };
  const doc = parseDomainXml(xml);
  lap("parse");
  const actual = readOwnedParts(doc);
  lap("read");
  if (diffOwnedParts(desired, actual).length === 0) throw new Error("the bench domain should need changes");
  lap("diff");
  applyOwnedParts(doc, desired);
  lap("apply");
  if (renderDomainXml(doc).length === 0) throw new Error("empty rendering");
  lap("render");
}

const domains = arg("domains", 1000);
const rounds = arg("rounds", 5);
console.log(`domain XML: ${xml.length} bytes, ${xml.split("\n").length} lines; ${domains} round trips per run`);
const totals: number[] = [];
for (let r = 0; r <= rounds; r++) {
  for (const k of Object.keys(phases) as (keyof typeof phases)[]) phases[k] = 0;
  const t0 = performance.now();
  for (let i = 0; i < domains; i++) roundTrip();
  const ms = performance.now() - t0;
  if (r === 0) {
    console.log(`warm-up run: ${ms.toFixed(0)} ms`);
    continue;
  }
  totals.push(ms);
  const split = Object.entries(phases).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(", ");
  console.log(`run ${r}: ${ms.toFixed(0)} ms for ${domains} (${((ms / domains) * 1000).toFixed(0)} µs each; ${split} ms)`);
}
totals.sort((a, b) => a - b);
console.log(`best ${totals[0].toFixed(0)} ms, median ${totals[Math.floor(totals.length / 2)].toFixed(0)} ms per ${domains} round trips`);
