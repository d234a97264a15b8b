// The fleet example, unchanged, through the real engine against two sandbox
// hosts (real kernels in qemu): its stack config lists the hosts, the shared
// company profile tunes both, preview --refresh is clean, destroy restores.
// The other examples need real hardware (1G pages, cpufreq, a disk to give away)
// and are type-checked only.
import { strict as assert } from "node:assert";
import * as path from "node:path";
import { inlineStack, type EngineStack } from "../support/engine";
import { startTestVm, type TestVm } from "../support/vm";

const FLEET = path.resolve(__dirname, "..", "..", "examples", "fleet", "index.ts");
const READ = "cat /proc/sys/vm/swappiness /sys/block/vdb/queue/scheduler /sys/block/vdb/queue/read_ahead_kb /sys/kernel/mm/ksm/run; grep -c '^vfio_pci ' /proc/modules";

describe("examples/fleet with the real Pulumi engine (two real-kernel hosts)", function () {
  this.timeout(900_000);
  let vms: TestVm[] = [];
  let engine: EngineStack;

  before(async () => {
    vms = [await startTestVm({ name: "kvmt-fleet-a" }), await startTestVm({ name: "kvmt-fleet-b" })];
    engine = await inlineStack("kvmtune-fleet", async () => {
      // The example is a Pulumi program module: load it afresh for each engine run.
      for (const k of Object.keys(require.cache)) if (k.includes(`${path.sep}examples${path.sep}fleet${path.sep}`)) delete require.cache[k];
      const mod = require(FLEET) as { pendingReboot: unknown; batches: unknown };
      return { pendingReboot: mod.pendingReboot, batches: mod.batches };
    });
    const hosts = vms.map((vm, i) => ({ name: `hv0${i + 1}`, address: vm.host, port: vm.port, user: "root", hostKey: vm.hostKey, dataDisks: ["vdb"], guestCpus: "2-3", gigPagesPerNode: [] }));
    await engine.stack.setConfig("hosts", { value: JSON.stringify(hosts) });
    await engine.stack.setConfig("privateKey", { value: vms[0].privateKey, secret: true });
  });
  after(async () => {
    await engine?.stack.workspace.removeStack("dev", { force: true }).catch(() => undefined);
    await Promise.all(vms.map((v) => v.stop()));
  });

  it("tunes every listed host with the company profile, canary first, previews clean, and destroy restores them", async () => {
    const before = await Promise.all(vms.map(async (vm) => (await vm.ssh(READ)).stdout));
    const up = await engine.run((onOutput) => engine.stack.up({ onOutput }));
    assert.equal(up.summary.result, "succeeded");
    assert.deepEqual(up.outputs.pendingReboot.value, ["hv01", "hv02"]);
    // The canary first, then the rest.
    assert.deepEqual(up.outputs.batches.value, [["hv01"], ["hv02"]]);
    for (const vm of vms) assert.equal((await vm.ssh(READ)).stdout, "10\n[none] mq-deadline \n4096\n0\n1\n");
    const pre = await engine.run((onOutput) => engine.stack.preview({ onOutput, expectNoChanges: true, refresh: true }));
    assert.deepEqual(pre.changeSummary, { same: 6 });
    await engine.run((onOutput) => engine.stack.destroy({ onOutput }));
    assert.deepEqual(await Promise.all(vms.map(async (vm) => (await vm.ssh(READ)).stdout)), before);
  });
});
