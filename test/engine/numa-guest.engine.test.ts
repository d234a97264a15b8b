// NumaPinnedGuest through the real Pulumi engine against a real libvirtd (in a
// private namespace, reached over SSH): up defines and starts a pinned TCG
// guest, a hand-made vcpupin is named by preview --refresh, up converges, and
// destroy undefines it.
import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { NumaPinnedGuest } from "../../components/numa-pinned-guest";
import { inlineStack, type EngineStack } from "../support/engine";
import { startLibvirtd, type Libvirtd } from "../support/libvirtd";
import { vcpuAffinity } from "../support/libvirtd-domain";

describe("NumaPinnedGuest with the real Pulumi engine (real libvirtd)", function () {
  this.timeout(900_000);
  let lv: Libvirtd;
  let engine: EngineStack;

  before(async () => {
    lv = await startLibvirtd();
    engine = await inlineStack("kvmtune-guest-engine-test", async () => {
      const guest = new NumaPinnedGuest("eng-guest", {
        host: { host: lv.host, port: lv.port, privateKey: pulumi.secret(lv.privateKey), hostKey: lv.hostKey },
        vcpus: 2,
        memoryMiB: 64,
        housekeepingCpus: "",
        domainType: "qemu",
        cpuMode: "maximum",
        osVariant: "debian12",
        start: true,
      });
      return { pinMap: guest.pinMap, drift: guest.drift, restartRequired: guest.restartRequired };
    });
  });
  after(async () => {
    await engine?.stack.workspace.removeStack("dev", { force: true }).catch(() => undefined);
    await lv?.stop();
  });

  it("ups a pinned running guest, then previews with no changes", async () => {
    const up = await engine.run((onOutput) => engine.stack.up({ onOutput }));
    assert.equal(up.summary.result, "succeeded");
    const pins = up.outputs.pinMap.value as Record<string, number>;
    assert.deepEqual(Object.keys(pins), ["vcpu0", "vcpu1"]);
    assert.deepEqual(await vcpuAffinity(lv, "eng-guest"), { 0: String(pins.vcpu0), 1: String(pins.vcpu1) });
    const pre = await engine.run((onOutput) => engine.stack.preview({ onOutput, expectNoChanges: true, refresh: true }));
    assert.deepEqual(pre.changeSummary, { same: 3 });
  });

  it("names a hand-changed pin in preview --refresh --expect-no-changes, and up converges", async () => {
    const up = await engine.stack.outputs();
    const pins = up.pinMap.value as Record<string, number>;
    const other = pins.vcpu0 === 0 ? 1 : 0;
    const r = await lv.virsh(["vcpupin", "eng-guest", "0", String(other), "--live", "--config"]);
    assert.equal(r.code, 0, r.stderr);
    await assert.rejects(engine.run((onOutput) => engine.stack.preview({ onOutput, expectNoChanges: true, refresh: true, diff: true })));
    // Refresh names the drifted part; the plan shows the pin going back.
    assert.ok(engine.output().includes(`"cputune.vcpupin[0]: ${other} → ${pins.vcpu0}"`), engine.output());
    assert.match(engine.output(), new RegExp(`~ cpuset\\s*: "${other}" => "${pins.vcpu0}"`));
    await engine.run((onOutput) => engine.stack.up({ onOutput, refresh: true }));
    assert.deepEqual(await vcpuAffinity(lv, "eng-guest"), { 0: String(pins.vcpu0), 1: String(pins.vcpu1) });
  });

  it("pulumi preview fails cleanly, naming the reason, when a guest cannot be placed", async () => {
    const bad = await inlineStack("kvmtune-guest-placement-test", async () => {
      new NumaPinnedGuest("eng-huge", { host: { host: lv.host, port: lv.port, privateKey: pulumi.secret(lv.privateKey), hostKey: lv.hostKey }, vcpus: 64, memoryMiB: 64, domainType: "qemu", cpuMode: "maximum" });
    });
    try {
      await assert.rejects(bad.run((onOutput) => bad.stack.preview({ onOutput })));
      assert.match(bad.output(), /placement of NumaPinnedGuest "eng-huge" on 127\.0\.0\.1:\d+: /);
    } finally {
      await bad.stack.workspace.removeStack("dev", { force: true }).catch(() => undefined);
    }
  });

  it("destroy undefines the guest", async () => {
    await engine.run((onOutput) => engine.stack.destroy({ onOutput }));
    const list = await lv.virsh(["list", "--all", "--name"]);
    assert.equal(list.stdout.trim(), "");
  });
});
