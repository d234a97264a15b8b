// Placement planner benchmark: prints figures, asserts nothing.
//   npm run bench:plan [-- --guests 500 --hosts 64 --runs 7]
// Hosts: 2 sockets x 16 cores x 2 threads, 2 nodes of 256 GiB with 64 x 1G and
// 16384 x 2M pages each. Goal: 500 guests in < 100 ms.
import { HostLedger, parsePlacementRequest, type PlacementRequest } from "../provider/plan";
import type { HostTopology } from "../provider/plan/topology";
import { syntheticTopology } from "../test/fixtures/topologies/build";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const GUESTS = arg("guests", 500);
const HOSTS = arg("hosts", 64);
const RUNS = arg("runs", 7);

const host = (i: number): HostTopology =>
  syntheticTopology({
    hostname: `hv${String(i).padStart(2, "0")}`,
    nodes: [0, 1].map(() => ({ cores: 16, threads: 2, memMiB: 256 * 1024, pools: { "1G": 64, "2M": 16384 } })),
  });

// A fixed pseudo-random mix (seeded, so runs compare): sizes, page sizes and policies vary.
function guests(n: number): PlacementRequest[] {
  let a = 42;
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  return Array.from({ length: n }, (_, i) => {
    const vcpus = pick([2, 2, 4, 4, 4, 6, 8, 8, 16]);
    return {
      name: `g${i}`,
      vcpus,
      memoryMiB: vcpus * 2048,
      hugepages: pick(["1G", "2M", "none"] as const),
      threadPolicy: pick(["prefer", "prefer", "require", "isolate"] as const),
      emulatorPolicy: rand() < 0.2 ? "isolate" : "share",
      iothreads: pick([0, 1]),
      numaMode: pick(["strict", "strict", "preferred", "interleave"] as const),
    };
  });
}

function stats(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  return `min=${s[0].toFixed(2)} median=${s[Math.floor(s.length / 2)].toFixed(2)} max=${s[s.length - 1].toFixed(2)} ms`;
}

interface Run {
  ms: number;
  placed: number;
  tried: number;
}

/** Round robin: guest i goes to host i % HOSTS (one plan call per guest). */
function roundRobin(hosts: HostTopology[], guests: PlacementRequest[]): Run {
  const ledgers = hosts.map((h) => new HostLedger(h));
  const t0 = performance.now();
  let placed = 0;
  guests.forEach((g, i) => (placed += ledgers[i % ledgers.length].place(g).ok ? 1 : 0));
  return { ms: performance.now() - t0, placed, tried: guests.length };
}

/** First fit: each guest tries hosts in order until one takes it; a stress figure (many failing plan calls), not the goal. */
function firstFit(hosts: HostTopology[], guests: PlacementRequest[]): Run {
  const ledgers = hosts.map((h) => new HostLedger(h));
  const t0 = performance.now();
  let placed = 0;
  let tried = 0;
  for (const g of guests) {
    for (const l of ledgers) {
      tried++;
      if (l.place(g).ok) {
        placed++;
        break;
      }
    }
  }
  return { ms: performance.now() - t0, placed, tried };
}

function main(): void {
  let t0 = performance.now();
  const hosts = Array.from({ length: HOSTS }, (_, i) => host(i));
  const topoMs = performance.now() - t0;
  const requests = guests(GUESTS);
  t0 = performance.now();
  for (const g of requests) parsePlacementRequest(g);
  const parseMs = performance.now() - t0;

  console.log(`# placement planner: ${GUESTS} guests, ${HOSTS} hosts (2 x 16 cores x 2 threads, 2 x 256 GiB), ${RUNS} runs after 1 warm-up`);
  console.log(`building ${HOSTS} topologies: ${topoMs.toFixed(2)} ms; validating ${GUESTS} requests alone: ${parseMs.toFixed(2)} ms`);
  for (const [label, fn] of [
    ["round robin", roundRobin],
    ["first fit", firstFit],
  ] as const) {
    fn(hosts, requests); // warm-up (JIT)
    const runs = Array.from({ length: RUNS }, () => fn(hosts, requests));
    const r = runs[0];
    const med = [...runs.map((x) => x.ms)].sort((a, b) => a - b)[Math.floor(RUNS / 2)];
    console.log(`\n## ${label}: ${r.placed}/${GUESTS} placed, ${r.tried} plan calls`);
    console.log(`total: ${stats(runs.map((x) => x.ms))}${label === "round robin" ? " (goal < 100 ms)" : ""}`);
    console.log(`per guest: ${((med * 1000) / GUESTS).toFixed(1)} µs; per plan call: ${((med * 1000) / r.tried).toFixed(1)} µs`);
  }
}

main();
