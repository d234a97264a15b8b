// The Pulumi CLI SIGKILLed while LibvirtDomain adopts a domain, and while
// GuestDevice attaches a NIC, through the real engine against a real libvirtd.
// The orphaned provider finishes the virsh write and exits; recovery with
// Pulumi's documented steps (cancel, refresh --clear-pending-creates, up) keeps
// the adopted domain's true originals and converges the device kvmtune attached
// instead of refusing it; destroy leaves the domain as before kvmtune.
import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { GuestDevice } from "../../provider/resources/guest-device";
import { LibvirtDomain } from "../../provider/resources/libvirt-domain";
import { findCli, waitForExit } from "../support/cli-kill";
import { inlineStack, type EngineStack } from "../support/engine";
import { startLibvirtd, type Libvirtd } from "../support/libvirtd";
import { defineDomain, mustVirsh, tinyDomainXml } from "../support/libvirtd-domain";

const MAC = "52:54:00:6b:0c:01";
const STACK = "organization/kvmtune-libvirt-crash/dev";

describe("a SIGKILLed CLI mid-write of a domain and a device, recovered with Pulumi's documented steps (real engine, real libvirtd)", function () {
  this.timeout(900_000);
  let lv: Libvirtd;
  let engine: EngineStack;
  let withDevice = false;
  let original = "";
  const inactive = () => mustVirsh(lv, ["-q", "dumpxml", "--inactive", "crash-dom"]);
  const cputune = async () => /<cputune>[\s\S]*?<\/cputune>/.exec(await inactive())?.[0] ?? "(none)";
  const journal = async () => (await lv.ssh(`if [ -e /var/lib/kvmtune/journal ]; then sed 's/,"since":"[^"]*"//' /var/lib/kvmtune/journal; else echo none; fi`)).stdout;

  /** Starts up, SIGKILLs its CLI once virsh is inside the write, and waits for the orphaned provider processes to end by themselves. */
  async function killMidWrite(): Promise<boolean> {
    await lv.ssh("rm -f /run/kvmt-virsh-started; touch /run/kvmt-slow-virsh");
    const op = engine.run(() => engine.stack.up() as unknown as Promise<void>).then(() => "finished", (err: Error) => err.message);
    let found: ReturnType<typeof findCli>;
    for (let i = 0; i < 600; i++) {
      found = findCli(engine.dir, "up");
      if (found && (await lv.ssh("[ -e /run/kvmt-virsh-started ]")).code === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal((await lv.ssh("[ -e /run/kvmt-virsh-started ]")).code, 0, "the write never reached virsh");
    found = findCli(engine.dir, "up")!;
    process.kill(found.cli, "SIGKILL");
    assert.notEqual(await op, "finished", "up finished although its CLI was killed");
    const ended = await waitForExit(found.descendants, 120_000);
    for (const pid of found.descendants) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await lv.ssh("rm -f /run/kvmt-slow-virsh");
    return ended;
  }

  async function recover(): Promise<pulumi.automation.UpResult> {
    await engine.stack.cancel();
    await engine.run((onOutput) => engine.stack.refresh({ onOutput, clearPendingCreates: true }));
    return engine.run((onOutput) => engine.stack.up({ onOutput }));
  }

  before(async () => {
    lv = await startLibvirtd({ bridges: [{ name: "br0" }], slowVirsh: true });
    await defineDomain(lv, tinyDomainXml({ name: "crash-dom", vcpus: 2, vcpupin: ["0", "0"] }));
    original = await cputune();
    engine = await inlineStack("kvmtune-libvirt-crash", async () => {
      const connection = { host: lv.host, port: lv.port, privateKey: pulumi.secret(lv.privateKey), hostKey: lv.hostKey };
      const dom = new LibvirtDomain("crash-dom", { connection, name: "crash-dom", mode: "adopt", parts: { cputune: { vcpupin: [{ vcpu: 0, cpuset: "1" }, { vcpu: 1, cpuset: "1" }] } }, owner: { stack: STACK, resource: "crash-dom" } });
      if (withDevice) new GuestDevice("crash-nic", { connection, domain: "crash-dom", interface: { type: "bridge", source: "br0", mac: MAC }, owner: { stack: STACK, resource: "crash-nic" } }, { dependsOn: dom });
      return { originals: dom.originals };
    });
  });
  after(async () => {
    await engine?.stack.workspace.removeStack("dev", { force: true }).catch(() => undefined);
    await lv?.stop();
  });

  it("a kill inside the adopt's define: after recovery the originals are the domain's own pins, not kvmtune's", async () => {
    assert.equal(await killMidWrite(), true, "the orphaned provider processes ended by themselves");
    assert.match(await cputune(), /<vcpupin vcpu='0' cpuset='1'\/>\n\s+<vcpupin vcpu='1' cpuset='1'\/>/, "the orphan finished the define");
    const up = await recover();
    assert.equal(up.summary.result, "succeeded");
    assert.deepEqual(up.outputs.originals.value, { cputune: { vcpupin: [{ vcpu: 0, cpuset: "0" }, { vcpu: 1, cpuset: "0" }] } });
  });

  it("a kill inside the device's attach: after recovery the device kvmtune attached is converged, not refused as already there", async () => {
    withDevice = true;
    assert.equal(await killMidWrite(), true);
    assert.equal((await inactive()).match(new RegExp(MAC, "g"))?.length, 1, "the orphan finished the attach");
    const up = await recover();
    assert.equal(up.summary.result, "succeeded");
    assert.equal((await inactive()).match(new RegExp(MAC, "g"))?.length, 1, "attached once");
    assert.equal(
      await journal(),
      `{"key":"domain:crash-dom","stack":"${STACK}","resource":"crash-dom","tag":"(libvirt)","original":"{\\"parts\\":{\\"cputune\\":{\\"vcpupin\\":[{\\"vcpu\\":0,\\"cpuset\\":\\"0\\"},{\\"vcpu\\":1,\\"cpuset\\":\\"0\\"}]}},\\"autostart\\":null}"}\n` +
        `{"key":"device:crash-dom:interface:${MAC}","stack":"${STACK}","resource":"crash-nic","tag":"(libvirt)","original":null}\n`,
    );
  });

  it("destroy detaches the device and gives the domain its own pins back; the journal is gone", async () => {
    const d = await engine.run((onOutput) => engine.stack.destroy({ onOutput }));
    assert.equal(d.summary.result, "succeeded");
    assert.equal(await cputune(), original);
    assert.doesNotMatch(await inactive(), new RegExp(MAC));
    assert.equal(await journal(), "none\n");
  });
});
