// Issue #14 through the real Pulumi engine (real-kernel VM): a TunedHost renamed with
// `aliases` keeps the name the host knows (persistence file tag, journal owner), so
// preview and up show no change and nothing is restored or applied again; the controls
// (no aliases, or an alias kvmtune cannot read) show what the rename would otherwise do.
import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { TunedHost } from "../../components/tuned-host";
import { inlineStack, type EngineStack } from "../support/engine";
import { startTestVm, type TestVm } from "../support/vm";

type Mode = "old" | "renamed" | "unaliased" | "output-alias";

describe("TunedHost renamed with aliases, with the real Pulumi engine (real-kernel VM)", function () {
  this.timeout(600_000);
  let vm: TestVm;
  let engine: EngineStack;
  // The program reads this, so a test can rename the TunedHost between operations.
  let mode: Mode = "old";
  let baseline = "";
  const FILE = "/etc/sysctl.d/90-kvmtune-hv-old.conf";
  // Inode, mtime and content of the persistence file and the journal: any restore or re-apply rewrites them.
  const fingerprint = () => vm.ssh(`stat -c '%n %i %Y' ${FILE} /var/lib/kvmtune/journal && cat ${FILE} /var/lib/kvmtune/journal`).then((r) => r.stdout);

  before(async () => {
    vm = await startTestVm({ name: "hv-aliases" });
    engine = await inlineStack("kvmtune-aliases-test", async () => {
      const connection = { host: vm.host, port: vm.port, privateKey: vm.privateKey, hostKey: vm.hostKey };
      const args = { connection, sysctl: { "vm.swappiness": 7 } };
      const host =
        mode === "old" ? new TunedHost("hv-old", args)
        : mode === "renamed" ? new TunedHost("hv-new", args, { aliases: [{ name: "hv-old" }] })
        : mode === "unaliased" ? new TunedHost("hv-new", args)
        // The engine follows this alias, but kvmtune cannot read a name known only later (see hostIdentityName):
        // the identity is the new name, as every rename was before issue #14. takeOver gets past the journal's refusal.
        : new TunedHost("hv-new", { ...args, takeOver: "all" }, { aliases: [{ name: pulumi.output("hv-old") }] });
      return { settings: host.settings };
    });
  });
  after(async () => {
    await engine?.stack.workspace.removeStack("dev", { force: true }).catch(() => undefined);
    await vm?.stop();
  });

  it("ups TunedHost hv-old: swappiness 7, persisted under its name", async () => {
    const up = await engine.run((onOutput) => engine.stack.up({ onOutput }));
    assert.equal(up.summary.result, "succeeded");
    assert.equal((await vm.ssh(`cat /proc/sys/vm/swappiness ${FILE}`)).stdout.split("\n")[0], "7");
    baseline = await fingerprint();
    assert.match(baseline, /vm\.swappiness = 7/);
    assert.match(baseline, /"resource":"hv-old","tag":"hv-old"/);
  });

  it("control: renamed without aliases, the preview is a new TunedHost, refused because hv-old owns the key on the host", async () => {
    mode = "unaliased";
    await assert.rejects(engine.run((onOutput) => engine.stack.preview({ onOutput })));
    assert.match(engine.output(), /sysctl:vm\.swappiness is owned by [^\n]*hv-old/);
  });

  it("control: with an alias kvmtune cannot read, the engine follows the rename but HostTuning's tag changes: a replace (restore, then apply)", async () => {
    mode = "output-alias";
    const pre = await engine.run((onOutput) => engine.stack.preview({ onOutput, diff: true }));
    assert.equal(pre.changeSummary.replace, 1, JSON.stringify(pre.changeSummary));
    assert.match(engine.output(), /\+-[^\n]*HostTuning[^\n]*replace/);
    assert.match(engine.output(), /tag\s*: "hv-old" => "hv-new"/);
  });

  it("renamed with aliases: preview and up show no change, and the host is not touched", async () => {
    mode = "renamed";
    const pre = await engine.run((onOutput) => engine.stack.preview({ onOutput, expectNoChanges: true }));
    assert.deepEqual(pre.changeSummary, { same: 3 });
    const up = await engine.run((onOutput) => engine.stack.up({ onOutput }));
    assert.equal(up.summary.result, "succeeded");
    assert.deepEqual(up.summary.resourceChanges, { same: 3 });
    // The state now holds the new URNs (the engine followed the aliases) with the old identity.
    const state = await engine.stack.exportStack();
    const names = (state.deployment.resources as { urn: string; inputs?: { tag?: string; owner?: { resource: string } } }[]).map((r) => ({ urn: r.urn.split("::").pop(), tag: r.inputs?.tag, owner: r.inputs?.owner?.resource }));
    assert.deepEqual(names.filter((r) => r.urn?.startsWith("hv-")), [{ urn: "hv-new", tag: undefined, owner: undefined }, { urn: "hv-new-tuning", tag: "hv-old", owner: "hv-old" }]);
    // Nothing was restored or written in between: same files, same journal, swappiness still 7.
    assert.equal(await fingerprint(), baseline);
    assert.equal((await vm.ssh("cat /proc/sys/vm/swappiness")).stdout, "7\n");
    // Reading the host under the new name finds it as it should be.
    const again = await engine.run((onOutput) => engine.stack.preview({ onOutput, expectNoChanges: true, refresh: true }));
    assert.deepEqual(again.changeSummary, { same: 3 });
  });

  it("destroy of the renamed TunedHost restores the original swappiness and removes the old-named file", async () => {
    const d = await engine.run((onOutput) => engine.stack.destroy({ onOutput }));
    assert.equal(d.summary.result, "succeeded");
    assert.equal((await vm.ssh(`cat /proc/sys/vm/swappiness; ls /etc/sysctl.d`)).stdout, "60\n");
  });
});
