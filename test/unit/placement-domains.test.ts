// The planner sees the whole host: libvirt domains of other programs (from the
// facts read) hold their CPUs and hugepages. Fixture hv02: hv01's hardware with
// web7 running (vCPUs on 2-3, emulator on 0-1, 512 x 2M on node0) and old9 shut
// off (<vcpu cpuset='12-13'>, 4 x 1G on node1).
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseHostFacts } from "../../provider/host/facts";
import { planHugepageBudget } from "../../provider/plan/hugepages";
import { HostLedger } from "../../provider/plan/ledger";
import { planPlacement } from "../../provider/plan/placement";
import { topologyFromFacts } from "../../provider/plan/topology";
import type { PlacementResult } from "../../provider/plan/placement-types";
import { withoutIsolation } from "../fixtures/topologies/named";

// Its isolcpus (2-3,10-11) would leave guests 4 CPUs; these tests are about the domains.
const hv02 = () => withoutIsolation(parseHostFacts(readFileSync(join(__dirname, "../fixtures/facts/hv02-domains.txt"), "utf8")));
const plan = (r: PlacementResult) => (r.ok ? { pins: r.plan.vcpuPins, hugepages: r.plan.hugepages } : r.reasons);

describe("placement beside other programs' domains", () => {
  it("facts name every domain with its pins, numatune and hugepage backing, and the host's machine-id", () => {
    const f = hv02();
    assert.equal(f.machineId, "5f0c0de2a0b14c6e9d0f1b2c3d4e5f02");
    assert.deepEqual(f.libvirtDomains?.domains.map((d) => [d.name, d.state, d.vcpuCpus, d.emulatorCpus, d.nodeset, (d.hugepages ?? []).map((h) => h.sizeKiB)]), [
      ["old9", "shut off", [12, 13], null, [1], [1048576]],
      ["web7", "running", [2, 3], [0, 1], [0], [2048]],
    ]);
  });

  it("never gives their CPUs to a guest, and the refusal names who holds them", () => {
    assert.deepEqual(plan(planPlacement(hv02(), { name: "a", vcpus: 4, memoryMiB: 1024, nodes: [0] })), [
      "needs 4 CPUs within one NUMA node; node0 has 3 free (CPUs 0-3 held by domain web7, not in this program)",
    ]);
    assert.deepEqual(plan(planPlacement(hv02(), { name: "b", vcpus: 2, memoryMiB: 1024, nodes: [0] })), { pins: [9, 10], hugepages: [] });
  });

  it("plans hugepages against free pages less a shut-off domain's claim; a running domain's are already out of the free count", () => {
    // node0: web7 runs on 512 of 1024 2M pages; the other 512 are free.
    assert.deepEqual(plan(planPlacement(hv02(), { name: "b", vcpus: 2, memoryMiB: 1024, hugepages: "2M", nodes: [0] })), { pins: [9, 10], hugepages: [{ node: 0, sizeKiB: 2048, pages: 512 }] });
    // node1: 8 x 1G free, old9 (shut off) will want 4 of them at its next start.
    assert.deepEqual(plan(planPlacement(hv02(), { name: "c", vcpus: 2, memoryMiB: 8192, hugepages: "1G", nodes: [1] })), ["needs 8 free 1G hugepages within one NUMA node; node1 has 4 of 8 free"]);
  });

  it("a domain with the guest's own name is that guest: its plan replaces it instead of avoiding it", () => {
    // Re-planning old9 on every run must not collide with old9 itself (its CPUs and 1G pages are its own),
    // and it stays on its own CPUs 12-13 while they fit.
    assert.deepEqual(plan(planPlacement(hv02(), { name: "old9", vcpus: 2, memoryMiB: 8192, hugepages: "1G", nodes: [1] })), { pins: [12, 13], hugepages: [{ node: 1, sizeKiB: 1048576, pages: 8 }] });
  });

  it("the hugepage budget sizes pools for the plans and the other domains' pages together", () => {
    const ledger = new HostLedger(hv02());
    assert.ok(ledger.place({ name: "b", vcpus: 2, memoryMiB: 1024, hugepages: "2M", nodes: [0] }).ok);
    assert.ok(ledger.place({ name: "c", vcpus: 2, memoryMiB: 4096, hugepages: "1G", nodes: [1] }).ok);
    const budget = ledger.hugepageBudget();
    assert.deepEqual(budget.entries.filter((e) => e.needed > 0).map((e) => [e.node, e.size, e.needed, e.otherDomains, e.poolTotal, e.spare]), [
      [0, "2M", 512, 512, 1024, 0],
      [1, "1G", 4, 4, 8, 0],
    ]);
    assert.deepEqual(budget.pools, { "2M": { node0: 1024 }, "1G": { node1: 8 } });
    assert.deepEqual(budget.shortfalls, []);
    // A bigger guest than the pool holds beside old9's claim (planned with a grown pool in mind):
    const bigger = { ...ledger.plans[1], hugepages: [{ node: 1, sizeKiB: 1048576, pages: 6 }], memoryMiB: 6144, cells: [{ ...ledger.plans[1].cells[0], memoryMiB: 6144 }] };
    assert.deepEqual(planHugepageBudget(hv02(), [bigger]).shortfalls, ["node1: 6 x 1G hugepages needed and 4 held by other domains, pool has 8 (2 short)"]);
  });

  it("a domain this stack defined and is removing (sameStack) does not block CPUs, but its pages still count", () => {
    const t = topologyFromFacts(hv02());
    const leaving = { ...t, domains: t.domains!.map((d) => (d.name === "web7" ? { ...d, sameStack: true } : d)) };
    // web7 runs on CPUs 2-3 with 512 x 2M on node0: its CPUs are free for the new guest, its pages are not.
    const r = planPlacement(leaving, { name: "a", vcpus: 4, memoryMiB: 1024, nodes: [0] });
    assert.deepEqual(plan(r), { pins: [1, 9, 2, 10], hugepages: [] });
    assert.deepEqual(plan(planPlacement(leaving, { name: "b", vcpus: 2, memoryMiB: 2048, hugepages: "2M", nodes: [0] })), ["needs 1024 free 2M hugepages within one NUMA node; node0 has 512 of 1024 free"]);
    const ledger = new HostLedger(leaving);
    assert.ok(r.ok);
    assert.deepEqual(ledger.add(r.plan), []);
  });

  it("a plan read back from state that sits on another domain's CPUs is refused, naming it", () => {
    const ledger = new HostLedger(hv02());
    const ok = planPlacement(hv02(), { name: "z", vcpus: 2, memoryMiB: 1024, nodes: [1] });
    assert.ok(ok.ok);
    assert.deepEqual(ledger.add({ ...ok.plan, vcpuPins: [2, 3], reservedCpus: [2, 3] }), ["guest z wants CPUs 2-3 held by domain web7, not in this program"]);
  });
});
