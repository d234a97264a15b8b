// Staged rollout batches (provider/plan/rollout.ts): canaries alone, then batches in the given order.
import { strict as assert } from "node:assert";
import { describeRollout, planRollout } from "../../provider/plan/rollout";

const hosts = (n: number) => Array.from({ length: n }, (_, i) => `hv${String(i + 1).padStart(2, "0")}`);

describe("planRollout", () => {
  it("puts one canary first by default, then everything else in one batch", () => {
    assert.deepEqual(planRollout({ hosts: hosts(4) }).batches, [["hv01"], ["hv02", "hv03", "hv04"]]);
    assert.deepEqual(planRollout({ hosts: hosts(1) }).batches, [["hv01"]]);
  });

  it("cuts the rest into batches of batchSize, the last one shorter, keeping the order", () => {
    const plan = planRollout({ hosts: hosts(8), canaries: 2, batchSize: 4 });
    assert.deepEqual(plan.batches, [["hv01", "hv02"], ["hv03", "hv04", "hv05", "hv06"], ["hv07", "hv08"]]);
    assert.equal(describeRollout(plan, 2), "batch 1 (canary): hv01, hv02; batch 2: hv03, hv04, hv05, hv06; batch 3: hv07, hv08");
    assert.deepEqual(planRollout({ hosts: hosts(3), canaries: 0, batchSize: 1 }).batches, [["hv01"], ["hv02"], ["hv03"]]);
    assert.deepEqual(planRollout({ hosts: hosts(3), canaries: 3 }).batches, [["hv01", "hv02", "hv03"]]);
  });

  it("refuses bad counts, naming the field, the value and what is accepted", () => {
    assert.throws(() => planRollout({ hosts: hosts(3), canaries: 4, batchSize: 0 }, 'TunedFleet "f" args'), {
      message: 'invalid TunedFleet "f" args:\n  - canaries: 4 is not accepted; expected an integer from 0 to 3 (the number of hosts)\n  - batchSize: 0 is not accepted; expected an integer of at least 1',
    });
    assert.throws(() => planRollout({ hosts: hosts(3), canaries: 1.5, batchSize: "2" as never }), /canaries: 1\.5 is not accepted[\s\S]*batchSize: "2" is not accepted; expected an integer of at least 1/);
    assert.throws(() => planRollout({ hosts: [] }), { message: "invalid rollout:\n  - hosts: empty; expected at least one host" });
  });
});
