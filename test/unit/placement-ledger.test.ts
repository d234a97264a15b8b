// topologyFromFacts, HostLedger conflicts and planHugepageBudget.
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseHostFacts } from "../../provider/host/facts";
import { HostLedger, planHugepageBudget, planPlacement, topologyFromFacts, type PlacementPlan } from "../../provider/plan";
import { hv01, hv01AsCaptured } from "../fixtures/topologies/named";

const facts = (name: string) => parseHostFacts(readFileSync(join(__dirname, "../fixtures/facts", name), "utf8"));

function placed(ledger: HostLedger, req: Parameters<HostLedger["place"]>[0]): PlacementPlan {
  const r = ledger.place(req);
  assert.ok(r.ok, r.ok ? "" : r.reasons.join("\n"));
  return r.plan;
}

describe("topologyFromFacts", () => {
  it("hv01: online siblings only, node memory in MiB, pool totals, sizes, pdpe1gb, isolcpus", () => {
    const t = topologyFromFacts(facts("hv01-2socket.txt"));
    const sib = (id: number) => (id === 7 ? [7] : [id % 8, (id % 8) + 8]);
    assert.deepEqual(
      t.cpus,
      Array.from({ length: 16 }, (_, id) => (id === 15 ? { id, online: false, node: 1, siblings: [] } : { id, online: true, node: Math.floor((id % 8) / 4), siblings: sib(id) })),
    );
    assert.deepEqual(t.nodes, [
      {
        id: 0,
        memTotalMiB: 128808,
        distances: [{ node: 0, distance: 10 }, { node: 1, distance: 21 }],
        // Pools with what is free now: pages in use are not planned again.
        hugepages: [{ sizeKiB: 2048, total: 1024, free: 512 }, { sizeKiB: 1048576, total: 8, free: 4 }],
      },
      {
        id: 1,
        memTotalMiB: 129020,
        distances: [{ node: 0, distance: 21 }, { node: 1, distance: 10 }],
        hugepages: [{ sizeKiB: 2048, total: 1024, free: 1024 }, { sizeKiB: 1048576, total: 8, free: 8 }],
      },
    ]);
    assert.deepEqual([t.hostname, t.hugepageSizesKiB, t.pdpe1gb, t.isolated], ["hv01", [2048, 1048576], true, [2, 3, 10, 11]]);
  });

  it("a host without NUMA sysfs is one node", () => {
    assert.deepEqual(topologyFromFacts(facts("tiny-no-numa.txt")), {
      hostname: "tiny",
      cpus: [0, 1, 2, 3].map((id) => ({ id, online: true, node: 0, siblings: [id] })),
      nodes: [{ id: 0, memTotalMiB: 1968, distances: [{ node: 0, distance: 10 }], hugepages: [{ sizeKiB: 2048, total: 64, free: 64 }] }],
      hugepageSizesKiB: [2048],
      pdpe1gb: false,
      isolated: [],
      domains: [],
      libvirtVersion: null,
    });
  });

  it("planPlacement and HostLedger take HostFacts directly, with the same result", () => {
    const req = { name: "db1", vcpus: 6, memoryMiB: 4096, hugepages: "2M" as const };
    assert.deepEqual(planPlacement(facts("hv01-2socket.txt"), req), planPlacement(hv01AsCaptured(), req));
    assert.deepEqual(new HostLedger(facts("hv01-2socket.txt")).place(req), planPlacement(hv01AsCaptured(), req));
  });

  it("plans hugepages against the pages free now, and a refusal states the free count", () => {
    // node0 has 512 of 1024 2M pages free: a 1.5 GiB guest only fits node1.
    const r = planPlacement(hv01AsCaptured(), { name: "db1", vcpus: 2, memoryMiB: 1536, hugepages: "2M", guestNumaCells: 1, housekeepingCpus: "0,8" });
    assert.ok(r.ok);
    assert.deepEqual(r.plan.hugepages, [{ node: 1, sizeKiB: 2048, pages: 768 }]);
    const big = planPlacement(hv01AsCaptured(), { name: "db2", vcpus: 2, memoryMiB: 2560, hugepages: "2M", guestNumaCells: 1, housekeepingCpus: "0,8" });
    assert.ok(!big.ok);
    assert.deepEqual(big.reasons, ["needs 1280 free 2M hugepages within one NUMA node; node0 has 512 of 1024 free, node1 has 1024 of 1024 free"]);
  });
});

describe("HostLedger", () => {
  it("reports conflicts of a plan made elsewhere by guest name, and records it only without conflicts", () => {
    const ledger = new HostLedger(hv01());
    const db1 = placed(ledger, { name: "db1", vcpus: 4, memoryMiB: 8192, hugepages: "1G", threadPolicy: "isolate" });
    assert.deepEqual([db1.vcpuPins, db1.idleSiblings], [[4, 5, 6, 7], [12, 13, 14]]);
    const db2: PlacementPlan = { ...db1, name: "db2", vcpuPins: [4, 5, 13, 1], reservedCpus: [1, 4, 5, 13], idleSiblings: [], emulatorCpus: [1] };
    assert.deepEqual(ledger.add(db2), [
      "guest db2 wants CPUs 4-5 already pinned to guest db1",
      "guest db2 wants CPU 13 already reserved (kept idle) for guest db1",
      "guest db2 needs 8 x 1G hugepages on node1; 0 of 8 left",
    ]);
    assert.deepEqual(ledger.add({ ...db1, reservedCpus: [15, 16] }), [
      "guest db1 is already placed on host hv01",
      "guest db1 wants CPU 16, which does not exist on host hv01",
      "guest db1 wants CPU 15, which is offline on host hv01",
      "guest db1 needs 8 x 1G hugepages on node1; 0 of 8 left",
    ]);
    assert.deepEqual(ledger.plans.map((p) => p.name), ["db1"]);
  });

  it("records plans kept as JSON (state) and plans around them; remove frees their CPUs", () => {
    const first = new HostLedger(hv01());
    const db1 = placed(first, { name: "db1", vcpus: 6, memoryMiB: 4096 });
    const second = new HostLedger(hv01());
    assert.deepEqual(second.add(JSON.parse(JSON.stringify(db1)) as PlacementPlan), []);
    assert.deepEqual(second.add(JSON.parse(JSON.stringify(db1)) as PlacementPlan)[0], "guest db1 is already placed on host hv01");
    const web = placed(second, { name: "web", vcpus: 6, memoryMiB: 4096 });
    assert.deepEqual([db1.vcpuPins, web.vcpuPins], [[1, 9, 2, 10, 3, 11], [4, 12, 5, 13, 6, 14]]);
    assert.equal(second.remove("db1"), true);
    assert.equal(second.remove("db1"), false);
    assert.deepEqual(placed(second, { name: "db3", vcpus: 6, memoryMiB: 4096 }).vcpuPins, [1, 9, 2, 10, 3, 11]);
  });

  it("checks strict normal memory per node when adding", () => {
    const ledger = new HostLedger(hv01());
    const a = placed(ledger, { name: "a", vcpus: 1, memoryMiB: 100000, nodes: [0] });
    assert.deepEqual(ledger.add({ ...a, name: "b", vcpuPins: [3], reservedCpus: [3], emulatorCpus: [3] }), ["guest b needs 100000 MiB of memory on node0; 18568 MiB left"]);
  });
});

describe("planHugepageBudget", () => {
  it("pages needed per node and size against the pools, shaped for TunedHost", () => {
    const ledger = new HostLedger(hv01());
    placed(ledger, { name: "db1", vcpus: 2, memoryMiB: 6144, hugepages: "1G" });
    const db2 = placed(ledger, { name: "db2", vcpus: 2, memoryMiB: 4096, hugepages: "2M" });
    assert.deepEqual([db2.nodeset, db2.vcpuPins], [[0, 1], [2, 7]]);
    assert.deepEqual(ledger.hugepageBudget(), {
      entries: [
        { node: 0, sizeKiB: 2048, size: "2M", needed: 1024, otherDomains: 0, poolTotal: 1024, spare: 0, maxPages: 60308 },
        { node: 1, sizeKiB: 2048, size: "2M", needed: 1024, otherDomains: 0, poolTotal: 1024, spare: 0, maxPages: 60414 },
        { node: 0, sizeKiB: 1048576, size: "1G", needed: 6, otherDomains: 0, poolTotal: 8, spare: 2, maxPages: 123 },
        { node: 1, sizeKiB: 1048576, size: "1G", needed: 0, otherDomains: 0, poolTotal: 8, spare: 8, maxPages: 123 },
      ],
      pools: { "2M": { node0: 1024, node1: 1024 }, "1G": { node0: 6 } },
      shortfalls: [],
    });
    assert.deepEqual(planHugepageBudget(hv01(), []), { entries: [], pools: {}, shortfalls: [] });
  });

  it("hugepagePools 'grow' plans past the pools, within node memory, and the budget names the shortfall", () => {
    const ledger = new HostLedger(hv01(), { hugepagePools: "grow" });
    placed(ledger, { name: "big", vcpus: 2, memoryMiB: 20480, hugepages: "1G", nodes: [0] });
    const budget = ledger.hugepageBudget();
    assert.deepEqual(budget.shortfalls, ["node0: 20 x 1G hugepages needed, pool has 8 (12 short)"]);
    assert.deepEqual(budget.pools, { "1G": { node0: 20 } });
    const r = ledger.place({ name: "huge", vcpus: 2, memoryMiB: 240 * 1024, hugepages: "1G" });
    assert.deepEqual(r.ok ? [] : r.reasons, [
      "needs 240 free 1G hugepages within one NUMA node; node0 has room for 103, node1 has room for 123",
      "needs 120 free 1G hugepages on each of 2 NUMA nodes; node0 has room for 103",
    ]);
    const over = planHugepageBudget(hv01(), [{ ...ledger.plans[0], hugepages: [{ node: 0, sizeKiB: 1048576, pages: 200 }, { node: 5, sizeKiB: 1048576, pages: 1 }] }]);
    assert.deepEqual(over.shortfalls, [
      "node0: 200 x 1G hugepages needed, pool has 8 (192 short; its memory can hold at most 123)",
      "node5: 1 x 1G hugepages needed, but the host has no node5",
    ]);
  });
});
