// Re-plans stay put: a guest whose domain is on the host keeps its CPUs while they
// still fit its request, and a new guest takes this stack's other guests' CPUs only
// when nothing else fits. Host hv01: node0 CPUs 0-3,8-11 (cores 0/8 .. 3/11, 0/8 for
// housekeeping), node1 CPUs 4-7,12-14 (cpu15 offline, so 7 is alone on its core).
import { strict as assert } from "node:assert";
import { HostLedger } from "../../provider/plan/ledger";
import type { TopologyDomain } from "../../provider/plan/host-domains";
import type { PlacementPlan, PlacementResult } from "../../provider/plan/placement-types";
import type { PlacementRequest } from "../../provider/plan/request";
import type { HostTopology } from "../../provider/plan/topology";
import { hv01 } from "../fixtures/topologies/named";

const web: PlacementRequest = { name: "web", vcpus: 4, memoryMiB: 1024 };
const db: PlacementRequest = { name: "db", vcpus: 4, memoryMiB: 1024 };
const rt: PlacementRequest = { name: "rt", vcpus: 2, memoryMiB: 1024, threadPolicy: "isolate", emulatorPolicy: "isolate" };

const ok = (r: PlacementResult): PlacementPlan => {
  assert.ok(r.ok, JSON.stringify(r));
  return r.plan;
};
/** The domain libvirt holds for a plan this stack defined (sameStack), as the facts read it back. */
const domainOf = (p: PlacementPlan, extra: Partial<TopologyDomain> = {}): TopologyDomain => ({
  name: p.name, active: true, vcpuCpus: [...p.vcpuPins].sort((a, b) => a - b),
  helperCpus: p.emulatorCpus.filter((c) => !p.vcpuPins.includes(c)), hugepages: [], normalMiB: [], sameStack: true, ...extra,
});
const withDomains = (domains: TopologyDomain[]): HostTopology => ({ ...hv01(), domains });
const pins = (t: HostTopology, ...requests: PlacementRequest[]) => {
  const ledger = new HostLedger(t);
  return requests.map((r) => ok(ledger.place(r)).vcpuPins);
};

describe("placement that stays put", () => {
  // The first run: web takes node0 and db node1; rt (isolate, a core per vCPU and one for the emulator) is split over both.
  const first = new HostLedger(hv01());
  const [webPlan, dbPlan, rtPlan] = [web, db, rt].map((r) => ok(first.place(r)));

  it("the first run's plans (the fixture for the rest)", () => {
    assert.deepEqual([webPlan.vcpuPins, dbPlan.vcpuPins, rtPlan.vcpuPins, rtPlan.emulatorCpus, rtPlan.idleSiblings], [[1, 9, 2, 10], [4, 12, 5, 13], [3, 7], [6, 14], [11]]);
  });

  it("web removed: db and rt keep their CPUs, where an open plan would move both (db to node0, rt to node1 only)", () => {
    assert.deepEqual(pins(withDomains([domainOf(dbPlan), domainOf(rtPlan)]), db, rt), [[4, 12, 5, 13], [3, 7]]);
    assert.deepEqual(pins(withDomains([]), db, rt), [[1, 9, 2, 10], [4, 7]]);
  });

  it("keeps a hand-pinned adopted domain on its CPUs (vCPUs in the planner's order)", () => {
    const hand = { ...domainOf(dbPlan), vcpuCpus: [5, 6, 13, 14], sameStack: false };
    assert.deepEqual(pins(withDomains([hand]), db), [[5, 13, 6, 14]]);
  });

  it("a guest that grows past its CPUs gets an open plan; one that shrinks stays within them", () => {
    const t = withDomains([domainOf(dbPlan)]);
    assert.deepEqual(pins(t, { ...db, vcpus: 6 }), [[1, 9, 2, 10, 3, 11]]);
    assert.deepEqual(pins(t, { ...db, vcpus: 2 }), [[4, 12]]);
  });

  it("a guest whose request no longer allows its node moves", () => {
    assert.deepEqual(pins(withDomains([domainOf(dbPlan)]), { ...db, nodes: [0] }), [[1, 9, 2, 10]]);
  });

  it("a new guest leaves this stack's other guests' CPUs alone while free ones fit, and takes them when nothing else does", () => {
    const t = withDomains([domainOf(dbPlan)]);
    assert.deepEqual(pins(t, { name: "new", vcpus: 2, memoryMiB: 1024, nodes: [1] }), [[6, 14]]);
    // 6 vCPUs on node1 (7 online CPUs) fit only over db's: it is this stack's and being re-planned or removed.
    assert.deepEqual(pins(t, { name: "new", vcpus: 6, memoryMiB: 1024, nodes: [1] }), [[4, 12, 5, 13, 6, 14]]);
  });
});
