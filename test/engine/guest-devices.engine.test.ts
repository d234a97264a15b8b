// VhostNetwork and PassthroughDisk through the real Pulumi engine against a real
// libvirtd: up hot-plugs a vhost NIC (bridge br0, MTU 9000) and a loop device
// made for the test into a running NumaPinnedGuest; preview --refresh shows no
// changes; a queue count changed by hand is named; up converges; destroy
// detaches both and undefines the guest. The disk path and the bridge come from
// another resource's outputs (#14), unknown at the first preview.
import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { NumaPinnedGuest } from "../../components/numa-pinned-guest";
import { PassthroughDisk } from "../../components/passthrough-disk";
import { VhostNetwork } from "../../components/vhost-network";
import { inlineStack, type EngineStack } from "../support/engine";
import { startLibvirtd, type Libvirtd } from "../support/libvirtd";
import { mustVirsh } from "../support/libvirtd-domain";

/** Another resource of the user's program: its output is the value it was given, known only once it exists. */
const echoProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs) {
    return { id: String(inputs.value), outs: { value: inputs.value } };
  },
};
class Echo extends pulumi.dynamic.Resource {
  declare readonly value: pulumi.Output<string>;
  constructor(name: string, value: string) {
    super(echoProvider, name, { value }, undefined, "test", "Echo");
  }
}

describe("VhostNetwork and PassthroughDisk with the real Pulumi engine (real libvirtd)", function () {
  this.timeout(900_000);
  let lv: Libvirtd;
  let engine: EngineStack;
  let loop: string;
  const inactive = () => mustVirsh(lv, ["-q", "dumpxml", "--inactive", "eng-dev"]);
  const live = () => mustVirsh(lv, ["-q", "dumpxml", "eng-dev"]);

  before(async () => {
    lv = await startLibvirtd({ bridges: [{ name: "br0", mtu: 9000 }] });
    loop = await lv.loopDevice("eng-dev-data.raw", 8);
    engine = await inlineStack("kvmtune-devices-engine-test", async () => {
      const guest = new NumaPinnedGuest("eng-dev", {
        host: { host: lv.host, port: lv.port, privateKey: pulumi.secret(lv.privateKey), hostKey: lv.hostKey },
        vcpus: 2, memoryMiB: 64, housekeepingCpus: "", domainType: "qemu", cpuMode: "maximum", start: true,
      });
      // The bed shares this machine's kernel: its host side (vhost_net) is not ours to change.
      const net = new VhostNetwork("eng-dev-net", { guest, source: new Echo("eng-bridge", "br0").value, mtu: 9000, manageHost: false });
      const disk = new PassthroughDisk("eng-dev-data", { guest, path: new Echo("eng-loop", loop).value });
      return { mac: net.mac, netLive: net.attachedLive, diskLive: disk.attachedLive, source: disk.source };
    });
  });
  after(async () => {
    await engine?.stack.workspace.removeStack("dev", { force: true }).catch(() => undefined);
    await lv?.stop();
  });

  it("previews with the bridge and the disk path not known yet (other resources' outputs): they are checked at up", async () => {
    const pre = await engine.run((onOutput) => engine.stack.preview({ onOutput }));
    assert.deepEqual(pre.changeSummary, { create: 9 });
  });

  it("ups a running guest with a hot-plugged vhost NIC and passthrough disk, then previews with no changes", async () => {
    const up = await engine.run((onOutput) => engine.stack.up({ onOutput }));
    assert.equal(up.summary.result, "succeeded");
    assert.deepEqual([up.outputs.netLive.value, up.outputs.diskLive.value, up.outputs.source.value], [true, true, loop]);
    const mac = up.outputs.mac.value as string;
    for (const xml of [await inactive(), await live()]) {
      assert.match(xml, new RegExp(`<mac address='${mac}'/>\\n\\s+<source bridge='br0'/>\\n(.|\\n)*<driver name='vhost' queues='2'/>\\n(.|\\n)*<mtu size='9000'/>`));
      assert.match(xml, new RegExp(`<driver name='qemu' type='raw' cache='none' io='native'/>\\n\\s+<source dev='${loop}'`));
    }
    const pre = await engine.run((onOutput) => engine.stack.preview({ onOutput, expectNoChanges: true, refresh: true }));
    assert.deepEqual(pre.changeSummary, { same: 9 });
  });

  it("names a hand-changed queue count in preview --refresh --expect-no-changes, and up converges", async () => {
    const mac = (await engine.stack.outputs()).mac.value as string;
    const xml = await inactive();
    await mustVirsh(lv, ["define", "/dev/stdin"], { input: xml.replace("<driver name='vhost' queues='2'/>", "<driver name='vhost' queues='1'/>") });
    await assert.rejects(engine.run((onOutput) => engine.stack.preview({ onOutput, expectNoChanges: true, refresh: true, diff: true })));
    assert.ok(engine.output().includes(`"devices.interface[${mac}].driver.queues: 1 → 2"`), engine.output());
    assert.match(engine.output(), /- queues\s*: 1/);
    await engine.run((onOutput) => engine.stack.up({ onOutput, refresh: true }));
    assert.match(await inactive(), /<driver name='vhost' queues='2'\/>/);
  });

  it("pulumi preview already refuses a NIC on a missing bridge, reading the host in the program", async () => {
    const bad = await inlineStack("kvmtune-devices-preview-test", async () => {
      new VhostNetwork("eng-bad-net", { guest: { connection: { host: lv.host, port: lv.port, privateKey: pulumi.secret(lv.privateKey), hostKey: lv.hostKey }, domain: "eng-dev" }, source: "br9", manageHost: false });
    });
    try {
      await assert.rejects(bad.run((onOutput) => bad.stack.preview({ onOutput })));
      assert.match(bad.output(), /interface\.source: bridge "br9" does not exist on this host; it has .*br0.* \(on \S+, from its facts\)/);
    } finally {
      await bad.stack.workspace.removeStack("dev", { force: true }).catch(() => undefined);
    }
  });

  it("destroy detaches both devices and undefines the guest", async () => {
    await engine.run((onOutput) => engine.stack.destroy({ onOutput }));
    assert.equal((await lv.virsh(["list", "--all", "--name"])).stdout.trim(), "");
  });
});
