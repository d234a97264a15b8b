// Property tests: random hosts and guests from a seeded PRNG; every plan must keep the rules.
import { strict as assert } from "node:assert";
import { HostLedger, parsePlacementRequest, planPlacement, type PlacementOptions, type PlacementPlan, type PlacementRequest, type PlacementSpec } from "../../provider/plan";
import { preallocNeedsEmulatorOnEveryNode, type HostTopology } from "../../provider/plan/topology";
import { syntheticTopology, type SyntheticNode } from "../fixtures/topologies/build";

/** mulberry32: tiny, fast, good enough for test inputs. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)];
  const subset = <T>(xs: readonly T[], p: number) => xs.filter(() => next() < p);
  return { next, int, pick, subset };
}
type Rng = ReturnType<typeof prng>;

function randomHost(r: Rng): HostTopology {
  const threads = r.pick([1, 2, 2, 2]);
  const nodes: SyntheticNode[] = Array.from({ length: r.pick([1, 2, 2, 2, 4, 8]) }, () => {
    const memMiB = r.int(2, 64) * 1024;
    return { cores: r.int(1, 10), threads, memMiB, pools: { "2M": r.int(0, memMiB / 8), "1G": r.int(0, Math.floor(memMiB / 4096)) } };
  });
  const n = nodes.length;
  const d = Array.from({ length: n }, () => Array.from({ length: n }, () => 0));
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) d[i][j] = d[j][i] = i === j ? 10 : r.int(11, 40);
  const cpuCount = nodes.reduce((s, x) => s + x.cores, 0) * threads;
  const ids = Array.from({ length: cpuCount }, (_, i) => i);
  const libvirtVersion = r.pick(["9.0.0", "9.3.0", null]);
  return { ...syntheticTopology({
    nodes,
    distances: d,
    offline: r.subset(ids.slice(1), 0.1),
    pdpe1gb: r.next() < 0.85,
    sizesKiB: r.next() < 0.9 ? [2048, 1048576] : [2048],
    // Half the hosts isolate nothing ("auto" housekeeping is then the first core), half isolate a random set.
    isolated: r.next() < 0.5 ? [] : r.subset(ids, 0.7),
  }), libvirtVersion };
}

function randomRequest(r: Rng, t: HostTopology, name: string): PlacementRequest {
  const vcpus = r.pick([1, 2, 2, 3, 4, 4, 6, 8, 12]);
  const hugepages = r.pick(["none", "2M", "1G"] as const);
  const pageMiB = hugepages === "1G" ? 1024 : hugepages === "2M" ? 2 : 1;
  const memoryMiB = pageMiB * (hugepages === "1G" ? r.int(1, 8) : r.int(1, 8192 / pageMiB) * (hugepages === "none" ? 2 : 1));
  const req: PlacementRequest = {
    name,
    vcpus,
    memoryMiB,
    hugepages,
    threadPolicy: r.pick(["prefer", "isolate", "require"] as const),
    emulatorPolicy: r.pick(["share", "isolate"] as const),
    iothreads: r.int(0, 2),
    numaMode: r.pick(["strict", "restrictive", "preferred", "interleave"] as const),
  };
  const cells = r.pick([1, 2, 4]);
  // A "restrictive" guest stays on one node: more cells are an input error (tested in placement-errors).
  if (r.next() < 0.3 && vcpus % cells === 0 && memoryMiB / pageMiB >= cells && !(cells > 1 && req.numaMode === "restrictive")) req.guestNumaCells = cells;
  const hk = r.next();
  if (hk < 0.2) req.housekeepingCpus = "";
  else if (hk < 0.3) req.housekeepingCpus = "non-isolated";
  else if (hk < 0.4) req.housekeepingCpus = r.subset(t.cpus.map((c) => c.id), 0.2).join(",");
  if (r.next() < 0.2) req.nodes = r.subset([...t.nodes.map((x) => x.id), ...(r.next() < 0.2 ? [9] : [])], 0.6);
  if (req.nodes?.length === 0) delete req.nodes;
  if (r.next() < 0.15) {
    req.deviceNodes = r.subset(t.nodes.map((x) => x.id), 0.4).map((node, i) => ({ device: `dev${i}`, node: r.next() < 0.1 ? null : node }));
    req.deviceAffinity = r.pick(["required", "preferred", "none"] as const);
  }
  if (r.next() < 0.1) {
    req.emulatorPolicy = "isolate";
    req.emulatorCpus = String(r.int(0, t.cpus.length));
  }
  return req;
}

const sorted = (xs: Iterable<number>) => [...new Set(xs)].sort((a, b) => a - b);

/** Every rule a plan must keep, given the plans placed before it. */
function checkPlan(t: HostTopology, spec: PlacementSpec, p: PlacementPlan, before: readonly PlacementPlan[], options: PlacementOptions): void {
  const cpu = new Map(t.cpus.map((c) => [c.id, c]));
  const smt = Math.max(...t.cpus.map((c) => c.siblings.length));
  // "auto" is the non-isolated CPUs on a host that isolates some, else the first online core.
  const nonIsolated = t.cpus.filter((c) => c.online && !t.isolated.includes(c.id)).map((c) => c.id);
  const firstCore = cpu.get(t.cpus.find((c) => c.online)!.id)!.siblings;
  const hk = new Set(spec.housekeepingCpus === "auto" ? (t.isolated.length ? nonIsolated : firstCore) : spec.housekeepingCpus === "non-isolated" ? nonIsolated : spec.housekeepingCpus);
  const taken = new Set(before.flatMap((b) => b.reservedCpus));
  const explicit = new Set(spec.emulatorCpus ?? []);

  assert.equal(p.vcpuPins.length, spec.vcpus);
  assert.equal(new Set(p.vcpuPins).size, spec.vcpus, "vCPU CPUs distinct");
  for (const c of [...p.vcpuPins, ...p.reservedCpus, ...p.emulatorCpus]) assert.ok(cpu.get(c)?.online, `CPU ${c} online`);
  for (const c of [...p.vcpuPins, ...p.idleSiblings]) assert.ok(!hk.has(c) && !explicit.has(c), `CPU ${c} not housekeeping`);
  for (const c of p.reservedCpus) assert.ok(!taken.has(c), `CPU ${c} not taken by an earlier guest`);
  assert.deepEqual(p.reservedCpus, sorted(p.reservedCpus));
  for (const c of [...p.vcpuPins, ...p.idleSiblings]) assert.ok(p.reservedCpus.includes(c));

  // Cells: equal, contiguous, on distinct allowed nodes; memory sums up.
  const k = p.cells.length;
  if (typeof spec.guestNumaCells === "number") assert.equal(k, spec.guestNumaCells);
  assert.deepEqual(p.nodeset, sorted(p.cells.map((c) => c.hostNode)));
  assert.equal(p.nodeset.length, k);
  for (const n of p.nodeset) assert.ok(spec.nodes ? spec.nodes.includes(n) : t.nodes.some((x) => x.id === n));
  p.cells.forEach((c, i) => {
    assert.equal(c.id, i);
    assert.deepEqual(c.vcpus, Array.from({ length: spec.vcpus / k }, (_, j) => i * (spec.vcpus / k) + j));
    for (const v of c.vcpus) assert.equal(cpu.get(p.vcpuPins[v])!.node, c.hostNode, "vCPU on its cell's node");
  });
  assert.equal(p.cells.reduce((s, c) => s + c.memoryMiB, 0), spec.memoryMiB);

  // Guest topology mirrors the pins.
  const { sockets, cores, threads } = p.topology;
  assert.equal(sockets * cores * threads, spec.vcpus);
  assert.equal(sockets, k);
  for (let v = 0; v < spec.vcpus; v += threads) {
    const core = cpu.get(p.vcpuPins[v])!.siblings;
    for (let j = 1; j < threads; j++) assert.ok(core.includes(p.vcpuPins[v + j]), "guest threads are host siblings");
  }

  // Thread policies.
  const vset = new Set(p.vcpuPins);
  if (spec.threadPolicy === "require") {
    for (const c of p.vcpuPins) assert.ok(cpu.get(c)!.siblings.length === smt && cpu.get(c)!.siblings.every((s) => vset.has(s)), "whole cores");
  } else if (spec.threadPolicy === "isolate") {
    assert.equal(new Set(p.vcpuPins.map((c) => cpu.get(c)!.siblings[0])).size, spec.vcpus, "one vCPU per core");
    assert.deepEqual(p.idleSiblings, sorted(p.vcpuPins.flatMap((c) => cpu.get(c)!.siblings.filter((s) => s !== c))));
  } else {
    assert.deepEqual(p.idleSiblings, []);
    // Packed: per cell, at most one core where the guest left a thread that was free.
    const emuCores = new Set([...explicit].flatMap((e) => cpu.get(e)?.siblings ?? []));
    const free = (c: number) => !hk.has(c) && !taken.has(c) && !explicit.has(c) && !emuCores.has(c);
    for (const cell of p.cells) {
      const coresUsed = new Set(cell.vcpus.map((v) => cpu.get(p.vcpuPins[v])!.siblings[0]));
      const partial = [...coresUsed].filter((c0) => cpu.get(c0)!.siblings.some((s) => free(s) && !vset.has(s)));
      assert.ok(partial.length <= 1, `cell ${cell.id} splits ${partial.length} cores`);
    }
  }

  // Devices: "required" puts a cell on every known device node the guest may use.
  if (spec.deviceAffinity === "required") {
    for (const d of spec.deviceNodes) if (d.node !== null && (!spec.nodes || spec.nodes.includes(d.node))) assert.ok(p.nodeset.includes(d.node), `a cell on ${d.device}'s node${d.node}`);
  }

  if (spec.numaMode === "restrictive") assert.equal(p.nodeset.length, 1, "a restrictive guest on one node");

  // libvirt before 9.3 preallocates hugepages from the emulator's CPUs: one on every memory node.
  if (p.hugepageSizeKiB !== null && preallocNeedsEmulatorOnEveryNode(t)) {
    for (const n of p.nodeset) assert.ok(p.emulatorCpus.some((c) => cpu.get(c)?.node === n), `an emulator CPU on node${n} (libvirt ${t.libvirtVersion})`);
  }

  // Emulator and iothreads.
  for (const e of spec.emulatorCpus ?? []) for (const sib of cpu.get(e)?.siblings ?? []) assert.ok(!p.vcpuPins.includes(sib), `vCPU on CPU ${sib}, a thread of emulator CPU ${e}'s core`);
  if (spec.emulatorCpus) assert.deepEqual(p.emulatorCpus, spec.emulatorCpus);
  else if (spec.emulatorPolicy === "share") assert.deepEqual(p.emulatorCpus, sorted(p.vcpuPins));
  else {
    // One whole core; one per node where libvirt needs the emulator on every memory node.
    const coresOf = sorted(p.emulatorCpus.flatMap((c) => cpu.get(c)!.siblings));
    assert.deepEqual(p.emulatorCpus, coresOf, "whole cores");
    const emuNodes = new Set(p.emulatorCpus.map((c) => cpu.get(c)!.node));
    const everyNode = p.hugepageSizeKiB !== null && preallocNeedsEmulatorOnEveryNode(t);
    assert.equal(new Set(p.emulatorCpus.map((c) => cpu.get(c)!.siblings[0])).size, everyNode ? p.nodeset.length : 1, "one core (per node)");
    assert.equal(emuNodes.size, everyNode ? p.nodeset.length : 1);
    for (const c of p.emulatorCpus) assert.ok(!vset.has(c) && !hk.has(c) && p.reservedCpus.includes(c) && p.nodeset.includes(cpu.get(c)!.node!));
  }
  assert.deepEqual(p.iothreadPins, Array.from({ length: spec.iothreads }, (_, i) => ({ iothread: i + 1, cpus: p.emulatorCpus })));

  // Memory and hugepages per node never exceed what the host has, counting every plan so far.
  const all = [...before, p];
  const page = p.hugepageSizeKiB;
  if (page !== null) assert.equal(p.hugepages.reduce((s, h) => s + (h.pages * h.sizeKiB) / 1024, 0), spec.memoryMiB);
  for (const node of t.nodes) {
    const pages = (size: number) => all.flatMap((x) => x.hugepages).filter((h) => h.node === node.id && h.sizeKiB === size).reduce((s, h) => s + h.pages, 0);
    const poolsMiB = node.hugepages.reduce((s, pool) => s + (Math.max(pool.total, pages(pool.sizeKiB)) * pool.sizeKiB) / 1024, 0);
    if (options.hugepagePools !== "grow") for (const pool of node.hugepages) assert.ok(pages(pool.sizeKiB) <= pool.total, `node${node.id} pool ${pool.sizeKiB}`);
    const normal = all.filter((x) => x.hugepageSizeKiB === null && x.numaMode !== "preferred").flatMap((x) => x.cells).filter((c) => c.hostNode === node.id);
    if (options.hugepagePools === "grow" || normal.length) assert.ok(poolsMiB + normal.reduce((s, c) => s + c.memoryMiB, 0) <= node.memTotalMiB, `node${node.id} memory`);
  }
}

describe("placement properties (seeded random hosts and guests)", () => {
  it("every plan keeps the rules; same input, same plans; ledgers accept their own plans", function () {
    this.timeout(60_000);
    const r = prng(20240611);
    let cases = 0;
    let fitted = 0;
    const fittedBy = new Map<string, number>();
    for (let h = 0; h < 300; h++) {
      const t = randomHost(r);
      const options: PlacementOptions = { hugepagePools: r.next() < 0.3 ? "grow" : "existing" };
      const ledger = new HostLedger(t, options);
      const requests = Array.from({ length: r.int(1, 10) }, (_, i) => randomRequest(r, t, `g${i}`));
      const results = requests.map((req) => {
        const before = [...ledger.plans];
        const res = ledger.place(req);
        cases++;
        if (res.ok) {
          fitted++;
          const spec = parsePlacementRequest(req);
          const key = `${spec.threadPolicy}/${spec.emulatorPolicy}/${res.plan.cells.length > 1 ? "span" : "one"}`;
          fittedBy.set(key, (fittedBy.get(key) ?? 0) + 1);
          checkPlan(t, spec, res.plan, before, options);
          // "auto" spans nodes only when no single node fits (devices on several nodes may ask for more).
          const pulled = spec.deviceAffinity !== "none" && spec.deviceNodes.some((d) => d.node !== null);
          if (spec.guestNumaCells === "auto" && res.plan.cells.length > 1 && !pulled) assert.equal(planPlacement(t, { ...req, guestNumaCells: 1 }, before, options).ok, false);
        } else {
          assert.ok(res.reasons.length > 0 && res.reasons.every((x) => x.length > 0), `host ${h} ${req.name}: reasons`);
        }
        return res;
      });
      const again = new HostLedger(t, options);
      assert.deepEqual(requests.map((req) => again.place(req)), results, "deterministic");
      const replay = new HostLedger(t, options);
      for (const p of ledger.plans) assert.deepEqual(replay.add(JSON.parse(JSON.stringify(p)) as PlacementPlan), []);
    }
    console.log(`      ${cases} guests on 300 hosts, ${fitted} placed`);
    // Full hosts are part of the test; still, most of the checks need plenty of placed guests.
    assert.ok(cases >= 1000 && fitted >= 500, `${fitted} of ${cases} fitted`);
    for (const policy of ["prefer", "isolate", "require"]) for (const emu of ["share", "isolate"]) for (const where of ["one", "span"]) assert.ok((fittedBy.get(`${policy}/${emu}/${where}`) ?? 0) > 0, `${policy}/${emu}/${where} covered`);
  });
});

describe("placement properties beside other programs' domains (seeded)", () => {
  it("no guest gets a CPU a foreign domain's vCPUs, emulator or iothreads are pinned to, nor hugepages beyond what is free", function () {
    this.timeout(60_000);
    const r = prng(20261204);
    let placed = 0;
    for (let h = 0; h < 200; h++) {
      const base = randomHost(r);
      const online = base.cpus.filter((c) => c.online).map((c) => c.id);
      const nodes = base.nodes.map((n) => n.id);
      // Some pages of each pool are in use by running domains; shut-off ones claim more at their next start.
      for (const n of base.nodes) for (const p of n.hugepages) p.free = r.int(0, p.total);
      const domains = Array.from({ length: r.int(1, 4) }, (_, i) => ({
        name: `foreign${i}`,
        active: r.next() < 0.6,
        vcpuCpus: r.subset(online, 0.15),
        helperCpus: r.subset(online, 0.05),
        hugepages: r.next() < 0.5 ? [] : [{ node: r.pick(nodes), sizeKiB: 2048, pages: r.int(0, 64) }],
        normalMiB: [],
      }));
      const t: HostTopology = { ...base, domains };
      const taken = new Set(domains.flatMap((d) => [...d.vcpuCpus, ...d.helperCpus]));
      const ledger = new HostLedger(t);
      for (let i = 0; i < r.int(1, 8); i++) {
        const res = ledger.place(randomRequest(r, t, `g${i}`));
        if (!res.ok) continue;
        placed++;
        assert.deepEqual(res.plan.vcpuPins.filter((c) => taken.has(c)), [], `host ${h} g${i}: vCPUs on a foreign domain's CPUs`);
        assert.deepEqual(res.plan.reservedCpus.filter((c) => domains.some((d) => d.vcpuCpus.includes(c))), [], `host ${h} g${i}: reserved a foreign vCPU's CPU`);
      }
      // Pages planned per node and size never exceed the free pages less the shut-off domains' claims.
      for (const n of t.nodes) {
        for (const pool of n.hugepages) {
          const planned = ledger.plans.flatMap((p) => p.hugepages).filter((x) => x.node === n.id && x.sizeKiB === pool.sizeKiB).reduce((s, x) => s + x.pages, 0);
          const claimed = domains.filter((d) => !d.active).flatMap((d) => d.hugepages).filter((x) => x.node === n.id && x.sizeKiB === pool.sizeKiB).reduce((s, x) => s + x.pages, 0);
          assert.ok(planned <= Math.max(0, (pool.free ?? pool.total) - claimed), `host ${h} node${n.id} ${pool.sizeKiB} KiB: ${planned} planned, ${pool.free} free, ${claimed} claimed`);
        }
      }
    }
    console.log(`      ${placed} guests placed beside foreign domains on 200 hosts`);
    assert.ok(placed >= 100, `${placed} placed`);
  });
});
