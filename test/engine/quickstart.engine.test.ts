// The quickstart program (the README's main job) on the sandbox through the real
// engine: up (host tunings, a pinned guest with a vhost NIC and a passthrough loop
// disk), a clean refresh-preview, destroy restoring the host and undefining the guest.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { quickstartProgram } from "../../quickstart/program";
import { inlineStack, type EngineStack } from "../support/engine";
import { startLibvirtd, type Libvirtd } from "../support/libvirtd";
import { makeRunDir } from "../support/processes";
import { startTestVm, type TestVm } from "../support/vm";

describe("the quickstart program on the sandbox (real engine, real kernel, real libvirtd)", function () {
  this.timeout(900_000);
  let vm: TestVm;
  let lv: Libvirtd;
  let engine: EngineStack;
  let svg: string;
  let loop = "";

  before(async () => {
    [vm, lv] = await Promise.all([startTestVm({ name: "kvmt-quick" }), startLibvirtd({ bridges: [{ name: "br0" }] })]);
    loop = await lv.loopDevice("quick-data.raw", 8);
    svg = path.join(makeRunDir("quickstart"), "placement.svg");
    const connection = { host: vm.host, port: vm.port, privateKey: pulumi.secret(vm.privateKey), hostKey: vm.hostKey };
    const guestHost = { host: lv.host, port: lv.port, privateKey: pulumi.secret(lv.privateKey), hostKey: lv.hostKey };
    engine = await inlineStack("kvmtune-quickstart-test", async () => quickstartProgram({ connection, disk: "vdb", guestHost, domainType: "qemu", placementSvgPath: svg, guestBridge: "br0", guestDataDisk: loop }));
  });
  after(async () => {
    await engine?.stack.workspace.removeStack("dev", { force: true }).catch(() => undefined);
    await vm?.stop();
    await lv?.stop();
  });

  it("ups, previews clean after a refresh, and destroys back to the originals", async () => {
    const before = (await vm.ssh("cat /proc/sys/vm/swappiness /sys/kernel/mm/transparent_hugepage/enabled /sys/block/vdb/queue/scheduler")).stdout;
    const up = await engine.run((onOutput) => engine.stack.up({ onOutput }));
    assert.equal(up.summary.result, "succeeded");
    assert.deepEqual(up.outputs.pendingRebootKeys.value, ["cmdline:isolcpus", "cmdline:nohz_full", "cmdline:rcu_nocbs"]);
    assert.deepEqual(Object.keys(up.outputs.guestPins.value), ["vcpu0", "vcpu1"]);
    assert.ok(fs.readFileSync(svg, "utf8").includes("web1 v1"));
    assert.equal((await lv.virsh(["domstate", "web1"])).stdout.trim(), "running");
    assert.deepEqual([(up.outputs.guestNic.value as { live: boolean }).live, up.outputs.guestDisk.value], [true, { source: loop, live: true }]);
    const pre = await engine.run((onOutput) => engine.stack.preview({ onOutput, expectNoChanges: true, refresh: true }));
    assert.deepEqual(pre.changeSummary, { same: 9 });
    await engine.run((onOutput) => engine.stack.destroy({ onOutput }));
    assert.equal((await vm.ssh("cat /proc/sys/vm/swappiness /sys/kernel/mm/transparent_hugepage/enabled /sys/block/vdb/queue/scheduler")).stdout, before);
    assert.equal((await lv.virsh(["list", "--all", "--name"])).stdout.trim(), "");
  });
});
