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

describe("NumaPinnedGuest placement stays put: a guest keeps its CPUs, a new one leaves them (real engine, real libvirtd)", function () {
  this.timeout(900_000);
  let lv: Libvirtd;
  let engine: EngineStack;
  const pinOf = async (name: string) => (await lv.virsh(["vcpupin", name, "--config"])).stdout.match(/^\s*0\s+(\S+)/m)?.[1];

  before(async () => {
    lv = await startLibvirtd();
    engine = await inlineStack("kvmtune-guest-sticky-test", async () => {
      const names = JSON.parse(new pulumi.Config().require("guests")) as string[];
      const host = { host: lv.host, port: lv.port, privateKey: pulumi.secret(lv.privateKey), hostKey: lv.hostKey };
      const out: Record<string, unknown> = {};
      // One vCPU each on this machine's CPUs; defined, not started (the pins are the domains' own config).
      for (const n of names) out[n] = new NumaPinnedGuest(n, { host, vcpus: 1, memoryMiB: 64, housekeepingCpus: "", domainType: "qemu", cpuMode: "maximum" }).pinMap;
      return out;
    });
  });
  after(async () => {
    await engine?.stack.workspace.removeStack("dev", { force: true }).catch(() => undefined);
    await lv?.stop();
  });

  it("removing the guest on the lower CPU leaves the other on its CPU: preview shows only the delete, and the host keeps the pin", async () => {
    await engine.stack.setConfig("guests", { value: JSON.stringify(["st-a", "st-b"]) });
    const up = await engine.run((onOutput) => engine.stack.up({ onOutput }));
    const pins = Object.fromEntries(["st-a", "st-b"].map((n) => [n, (up.outputs[n].value as Record<string, number>).vcpu0]));
    // Two single-vCPU guests on a two-CPU host: one on each, the lower CPU first.
    assert.deepEqual(Object.values(pins).sort(), [0, 1]);
    const [gone, kept] = pins["st-a"] === 0 ? ["st-a", "st-b"] : ["st-b", "st-a"];
    assert.equal(await pinOf(kept), "1");
    // An open plan would give the kept guest CPU 0 now (lowest free); it stays on 1.
    await engine.stack.setConfig("guests", { value: JSON.stringify([kept]) });
    const pre = await engine.run((onOutput) => engine.stack.preview({ onOutput, refresh: true }));
    assert.deepEqual(pre.changeSummary, { delete: 2, same: 3 });
    const up2 = await engine.run((onOutput) => engine.stack.up({ onOutput }));
    assert.deepEqual(up2.summary.resourceChanges, { delete: 2, same: 3 });
    assert.deepEqual(up2.outputs[kept].value, { vcpu0: 1 });
    assert.equal(await pinOf(kept), "1");
    assert.equal((await lv.virsh(["list", "--all", "--name"])).stdout.trim(), kept);
    await engine.run((onOutput) => engine.stack.preview({ onOutput, refresh: true, expectNoChanges: true }));
    await engine.run((onOutput) => engine.stack.destroy({ onOutput }));
    assert.equal((await lv.virsh(["list", "--all", "--name"])).stdout.trim(), "");
  });

  it("a new guest declared before an existing one takes the free CPU, not the existing guest's", async () => {
    await engine.stack.setConfig("guests", { value: JSON.stringify(["st-a"]) });
    const up = await engine.run((onOutput) => engine.stack.up({ onOutput }));
    assert.deepEqual(up.outputs["st-a"].value, { vcpu0: 0 });
    // Planned first, st-n would get CPU 0 (lowest free; st-a is this stack's, so it does not block) and st-a would move.
    await engine.stack.setConfig("guests", { value: JSON.stringify(["st-n", "st-a"]) });
    const pre = await engine.run((onOutput) => engine.stack.preview({ onOutput, refresh: true }));
    assert.deepEqual(pre.changeSummary, { create: 2, same: 3 });
    const up2 = await engine.run((onOutput) => engine.stack.up({ onOutput }));
    assert.deepEqual([up2.outputs["st-n"].value, up2.outputs["st-a"].value], [{ vcpu0: 1 }, { vcpu0: 0 }]);
    assert.deepEqual([await pinOf("st-n"), await pinOf("st-a")], ["1", "0"]);
    await engine.run((onOutput) => engine.stack.destroy({ onOutput }));
    assert.equal((await lv.virsh(["list", "--all", "--name"])).stdout.trim(), "");
  });
});
