// futureHostTopology: the host as this program's TunedHost will leave it (hugepage pools), and the
// planner's refusal when a TunedHost's 1G pools wait for a reboot it will not do.
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseHostFacts } from "../../provider/host/facts";
import { futureHostTopology, plannedHostFromSettings, spreadHostTotal, type PlannedHost } from "../../provider/plan/future-host";
import { HostLedger } from "../../provider/plan/ledger";
import { planPlacement } from "../../provider/plan/placement";
import { planTuningSettings } from "../../provider/spec/tuned-host";
import { syntheticTopology } from "../fixtures/topologies/build";

const GiB = 1024;
/** 2 nodes x 4 cores x 2 threads, 64 GiB each, no pools yet (a fresh host). */
const fresh = () => syntheticTopology({ hostname: "hv01", nodes: [{ cores: 4, memMiB: 64 * GiB }, { cores: 4, memMiB: 64 * GiB }] });
const pools = (t: ReturnType<typeof fresh>) => t.nodes.map((n) => n.hugepages.map((p) => `${p.sizeKiB}:${p.total}`).join(" "));
const planned = (hugepages: unknown, reboot: "never" | "when-pending" = "never"): PlannedHost =>
  plannedHostFromSettings("hv01", planTuningSettings({ hugepages }).settings, reboot);

describe("plannedHostFromSettings", () => {
  it("reads every TunedHost hugepages shape (through planTuningSettings) and raw settings keys, sorted by size then node", () => {
    assert.deepEqual(planned({ "2M": 1024 }).pools, [{ size: "2M", node: null, pages: 1024 }]);
    assert.deepEqual(planned({ "2M": [512, 256] }).pools, [{ size: "2M", node: 0, pages: 512 }, { size: "2M", node: 1, pages: 256 }]);
    assert.deepEqual(planned({ "1G": { node1: 8, "0": 4 }, "2M": [64] }, "when-pending"), {
      tunedHost: "hv01",
      reboot: "when-pending",
      pools: [{ size: "2M", node: 0, pages: 64 }, { size: "1G", node: 0, pages: 4 }, { size: "1G", node: 1, pages: 8 }],
      isolatedCpus: null,
    });
    const raw = planTuningSettings({ settings: { "hugepages:2M:node1": 32, "sysctl:vm.swappiness": 10, "hugepages:1G": "x" } }).settings;
    assert.deepEqual(plannedHostFromSettings("hv02", raw).pools, [{ size: "2M", node: 1, pages: 32 }]);
    assert.deepEqual(planned(undefined), { tunedHost: "hv01", reboot: "never", pools: [], isolatedCpus: null });
  });
});

describe("spreadHostTotal", () => {
  it("splits evenly: the floor on every node, the remainder one each to the lowest nodes", () => {
    assert.deepEqual([...spreadHostTotal(1025, [1, 0])], [[0, 513], [1, 512]]);
    assert.deepEqual([...spreadHostTotal(1000, [0, 1, 2])], [[0, 334], [1, 333], [2, 333]]);
    assert.deepEqual([...spreadHostTotal(2, [0, 1, 2, 3])], [[0, 1], [1, 1], [2, 0], [3, 0]]);
    assert.deepEqual([...spreadHostTotal(5, [])], []);
  });
});

describe("futureHostTopology", () => {
  it("without a plan (or without pools in it) is the host as it is", () => {
    const t = fresh();
    assert.equal(futureHostTopology(t, undefined).topology, t);
    assert.deepEqual(futureHostTopology(t, planned({})), { topology: t, notes: {} });
  });

  it("per-node 2M counts replace that node's pool; nodes without a count keep theirs; the input is not changed", () => {
    const t = syntheticTopology({ nodes: [{ cores: 2, memMiB: 8 * GiB, pools: { "2M": 100, "1G": 2 } }, { cores: 2, memMiB: 8 * GiB, pools: { "2M": 100 } }] });
    const before = JSON.stringify(t);
    assert.deepEqual(pools(futureHostTopology(t, planned({ "2M": [64, 64] })).topology), ["2048:64 1048576:2", "2048:64 1048576:0"]);
    assert.deepEqual(pools(futureHostTopology(t, planned({ "2M": { node1: 7 } })).topology), ["2048:100 1048576:2", "2048:7 1048576:0"]);
    assert.equal(JSON.stringify(t), before);
  });

  it("a 2M host total counts as an even split over the nodes with memory", () => {
    const t = syntheticTopology({ nodes: [{ cores: 2, memMiB: 8 * GiB }, { cores: 2, memMiB: 0 }, { cores: 2, memMiB: 8 * GiB }, { cores: 2, memMiB: 8 * GiB }] });
    assert.deepEqual(pools(futureHostTopology(t, planned({ "2M": 1000 })).topology), ["2048:334 1048576:0", "2048:0 1048576:0", "2048:333 1048576:0", "2048:333 1048576:0"]);
  });

  it("adds a pool a node does not list yet, from HostFacts as well as from a topology", () => {
    const facts = parseHostFacts(readFileSync(join(__dirname, "../fixtures/facts/hv01-2socket.txt"), "utf8"));
    for (const n of facts.numaNodes) n.hugepages = n.hugepages.filter((p) => p.sizeKiB !== 2048);
    const { topology } = futureHostTopology(facts, planned({ "2M": [10, 20] }));
    assert.deepEqual(topology.nodes.map((n) => n.hugepages), [
      [{ sizeKiB: 2048, total: 10 }, { sizeKiB: 1048576, total: 8, free: 4 }],
      [{ sizeKiB: 2048, total: 20 }, { sizeKiB: 1048576, total: 8, free: 8 }],
    ]);
  });

  it("counts 1G pools when the TunedHost reboots for them (reboot: when-pending)", () => {
    assert.deepEqual(futureHostTopology(fresh(), planned({ "1G": [16, 16] }, "when-pending")), {
      topology: { ...fresh(), nodes: fresh().nodes.map((n) => ({ ...n, hugepages: [{ sizeKiB: 2048, total: 0 }, { sizeKiB: 1048576, total: 16 }] })) },
      notes: {},
    });
  });

  it("with reboot: never keeps the 1G pools the host has now (the smaller of now and planned) and says why", () => {
    const never = futureHostTopology(fresh(), planned({ "1G": [16, 16] }));
    assert.deepEqual(pools(never.topology), ["2048:0 1048576:0", "2048:0 1048576:0"]);
    assert.deepEqual(never.notes, {
      1048576: `TunedHost "hv01" asks for 16 x 1G on nodes 0-1, but 1G pools are reserved at boot and it has reboot: "never" (set reboot: "when-pending", or reboot the host and run again)`,
    });
    // Already reserved by an earlier boot: counted; a smaller plan counts as the smaller pool.
    const booted = syntheticTopology({ nodes: [{ cores: 2, memMiB: 64 * GiB, pools: { "1G": 16 } }, { cores: 2, memMiB: 64 * GiB, pools: { "1G": 4 } }] });
    const later = futureHostTopology(booted, planned({ "1G": { node0: 8, node1: 12 }, "2M": [2, 2] }));
    assert.deepEqual(pools(later.topology), ["2048:2 1048576:8", "2048:2 1048576:4"]);
    assert.deepEqual(later.notes, {
      1048576: `TunedHost "hv01" asks for 12 x 1G on node1, but 1G pools are reserved at boot and it has reboot: "never" (set reboot: "when-pending", or reboot the host and run again)`,
    });
    assert.match(futureHostTopology(fresh(), planned({ "1G": [16, 8] })).notes[1048576], /asks for 16 x 1G on node0 and 8 x 1G on node1, but/);
    assert.match(futureHostTopology(fresh(), planned({ "1G": 32 })).notes[1048576], /^TunedHost "hv01" asks for 32 x 1G \(a host total\), but 1G pools/);
  });

  it("leaves a size the host does not offer alone (the planner names it)", () => {
    const t = syntheticTopology({ nodes: [{ cores: 2, memMiB: 8 * GiB }], pdpe1gb: false, sizesKiB: [2048] });
    assert.deepEqual(futureHostTopology(t, planned({ "1G": [4], "2M": [8] }, "when-pending")).topology.nodes[0].hugepages, [{ sizeKiB: 2048, total: 8 }]);
  });
});

describe("placement against the future host", () => {
  const guest = { name: "db1", vcpus: 4, memoryMiB: 16384, hugepages: "1G" as const, guestNumaCells: 1 };

  it("a 2M guest fits the pools a TunedHost will create on a host that has none", () => {
    const req = { name: "web", vcpus: 2, memoryMiB: 256, hugepages: "2M" as const, guestNumaCells: 1 };
    const now = planPlacement(fresh(), req);
    assert.deepEqual(now.ok ? [] : now.reasons, ["needs 128 free 2M hugepages within one NUMA node; nodes 0-1 have 0 of 0 free"]);
    const future = futureHostTopology(fresh(), planned({ "2M": [64, 128] }));
    const r = planPlacement(future.topology, req, [], { hugepagePoolNotes: future.notes });
    assert.ok(r.ok);
    assert.deepEqual(r.plan.hugepages, [{ node: 1, sizeKiB: 2048, pages: 128 }]);
  });

  it("a 1G guest on a TunedHost that never reboots is refused, saying why its pools do not count", () => {
    const future = futureHostTopology(fresh(), planned({ "1G": [16, 16] }));
    const ledger = new HostLedger(future.topology, { hugepagePoolNotes: future.notes });
    assert.deepEqual(ledger.place(guest), {
      ok: false,
      name: "db1",
      reasons: [
        `needs 16 free 1G hugepages within one NUMA node; nodes 0-1 have 0 of 0 free; TunedHost "hv01" asks for 16 x 1G on nodes 0-1, but 1G pools are reserved at boot and it has reboot: "never" (set reboot: "when-pending", or reboot the host and run again)`,
      ],
    });
    const reboots = futureHostTopology(fresh(), planned({ "1G": [16, 16] }, "when-pending"));
    const r = new HostLedger(reboots.topology, { hugepagePoolNotes: reboots.notes }).place(guest);
    assert.ok(r.ok && r.plan.hugepages.length === 1 && r.plan.hugepages[0].pages === 16);
    // A plan made elsewhere (e.g. kept in state) gets the same explanation.
    assert.deepEqual(ledger.conflicts(r.ok ? r.plan : assert.fail()), [
      `guest db1 needs 16 x 1G hugepages on node${r.plan.hugepages[0].node}; 0 of 0 left; TunedHost "hv01" asks for 16 x 1G on nodes 0-1, but 1G pools are reserved at boot and it has reboot: "never" (set reboot: "when-pending", or reboot the host and run again)`,
    ]);
  });

  it("HostLedger.rebase keeps every plan (no CPU given twice) and names those the new topology cannot hold", () => {
    const t = syntheticTopology({ hostname: "hv01", nodes: [{ cores: 4, memMiB: 64 * GiB, pools: { "2M": 512 } }, { cores: 4, memMiB: 64 * GiB, pools: { "2M": 512 } }] });
    const ledger = new HostLedger(t);
    const a = ledger.place({ name: "a", vcpus: 2, memoryMiB: 1024, hugepages: "2M", guestNumaCells: 1 });
    assert.ok(a.ok);
    const shrunk = futureHostTopology(t, planned({ "2M": [0, 0] }));
    const { ledger: next, conflicts } = ledger.rebase(shrunk.topology);
    assert.deepEqual(next.plans, ledger.plans);
    assert.deepEqual(conflicts, [`guest a needs 512 x 2M hugepages on node${a.plan.nodeset[0]}; 0 of 0 left`]);
    const b = next.place({ name: "b", vcpus: 2, memoryMiB: 1024 });
    assert.ok(b.ok);
    assert.deepEqual(b.plan.reservedCpus.filter((c) => a.plan.reservedCpus.includes(c)), []);
  });
});

describe("isolated CPUs of the TunedHost (housekeeping follows them)", () => {
  const isolating = (isolateCpus: string) => plannedHostFromSettings("hv01", planTuningSettings({ isolateCpus }).settings);

  it("isolateCpus replaces the host's isolated CPUs at once, reboot or not; without it the host's own stay", () => {
    assert.deepEqual(isolating("4-7,12-15").isolatedCpus, [4, 5, 6, 7, 12, 13, 14, 15]);
    assert.deepEqual(futureHostTopology(fresh(), isolating("4-7,12-15")).topology.isolated, [4, 5, 6, 7, 12, 13, 14, 15]);
    assert.deepEqual(futureHostTopology({ ...fresh(), isolated: [3] }, planned({ "2M": [8, 8] })).topology.isolated, [3]);
  });

  it("a guest gets only isolated CPUs by default; a refusal says why; an explicit housekeepingCpus overrides", () => {
    const t = futureHostTopology(fresh(), isolating("4-7,12-15")).topology;
    const r = planPlacement(t, { name: "a", vcpus: 4, memoryMiB: 1024 });
    assert.ok(r.ok);
    assert.deepEqual(r.plan.vcpuPins, [4, 12, 5, 13]);
    // Today's host (nothing isolated) keeps CPU 0 and its sibling 8 only.
    const now = planPlacement(fresh(), { name: "a", vcpus: 6, memoryMiB: 1024, guestNumaCells: 1 });
    assert.deepEqual(now.ok && now.plan.vcpuPins, [1, 9, 2, 10, 3, 11]);
    const big = planPlacement(t, { name: "b", vcpus: 10, memoryMiB: 1024 });
    assert.deepEqual(big.ok ? [] : big.reasons, [
      "needs 10 CPUs within one NUMA node; node0 has 0 free, node1 has 8 free",
      "needs 5 CPUs on each of 2 NUMA nodes; node0 has 0 free",
      `housekeepingCpus "auto": host hv01 isolates CPUs 4-7,12-15, so guests get only those; CPUs 0-3,8-11 stay for housekeeping (give housekeepingCpus to change that)`,
    ]);
    const own = planPlacement(t, { name: "b", vcpus: 10, memoryMiB: 1024, housekeepingCpus: "0,8" });
    assert.ok(own.ok);
  });
});
