import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseObservedPlacement } from "../../provider/libvirt/placement-observed";
import { planPlacementRepair } from "../../provider/libvirt/placement-repair";
import type { OwnedParts } from "../../provider/libvirt/types";

// 128 MiB guest: 80 MiB of 2M pages on node0, 48 MiB on node1 (handcrafted fixture).
const observed = parseObservedPlacement(readFileSync(join(__dirname, "../fixtures/placement/hugetlb-2node.txt"), "utf8"), { memoryMiB: 128 });
const parts = (mode: "strict" | "restrictive", hugepages = 2048): Partial<OwnedParts> => ({
  memory: { value: 128, unit: "MiB" },
  numatune: { memory: { mode, nodeset: "1" }, memnode: [] },
  memoryBacking: { hugepages: [{ size: hugepages, unit: "KiB" }] },
});
const offNode = "placement.memory: 80 MiB on node0, outside restrictive nodeset 1";

describe("placement repair: what a write can fix live, and what waits for a restart", () => {
  it("moves a restrictive guest's memory back live when it sits in a cpuset cgroup", () => {
    assert.deepEqual(planPlacementRepair(parts("restrictive"), observed, true), { drift: [offNode], nodeset: "1", needsRestart: [] });
  });
  it("leaves a strict guest's memory, or one without a cpuset cgroup, to a restart", () => {
    assert.deepEqual(planPlacementRepair(parts("strict"), observed, true).needsRestart, ["placement.memory: 80 MiB on node0, outside strict nodeset 1"]);
    assert.deepEqual(planPlacementRepair(parts("restrictive"), observed, false), { drift: [offNode], needsRestart: [offNode] });
  });
  it("a wrong page size only a restart fixes, named with the guest's size", () => {
    const r = planPlacementRepair(parts("restrictive", 1048576), observed, true);
    assert.deepEqual(r.needsRestart, ["placement.hugepages: 128 MiB of 128 MiB guest memory is in 2048 KiB pages, 1048576 KiB pages wanted"]);
    assert.equal(r.nodeset, "1");
  });
  it("nothing observed (not running, no pid file): nothing to repair", () => {
    assert.deepEqual(planPlacementRepair(parts("strict"), null, true), { drift: [], needsRestart: [] });
  });
});
