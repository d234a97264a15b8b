// TunedHost through the real Pulumi engine: up, a clean preview, a hand-made
// drift that `preview --refresh --expect-no-changes` names, convergence, and
// destroy restoring the originals, all against a real kernel.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { TunedHost } from "../../components/tuned-host";
import { inlineStack, type EngineStack } from "../support/engine";
import { startTestVm, type TestVm } from "../support/vm";
import * as pulumi from "@pulumi/pulumi";

describe("TunedHost with the real Pulumi engine (real-kernel VM)", function () {
  this.timeout(900_000);
  let vm: TestVm;
  let engine: EngineStack;
  // The program reads these, so a test can change the program between operations.
  let swappiness = 10;
  let kernelArgs: Record<string, string> = { intel_iommu: "on" };

  before(async () => {
    vm = await startTestVm({ name: "hv-engine" });
    engine = await inlineStack("kvmtune-engine-test", async () => {
      const host = new TunedHost("hv-engine", {
        // A plain string on purpose: kvmtune must keep it out of state by itself.
        connection: { host: vm.host, port: vm.port, privateKey: vm.privateKey, hostKey: vm.hostKey },
        preset: "virtual-host",
        sysctl: { "vm.swappiness": swappiness },
        schedulers: { vdb: "mq-deadline" },
        kernelArgs,
      });
      return { pendingReboot: host.pendingReboot, settings: host.settings, originals: host.originals };
    });
  });
  /** Logins so far in the host's sshd log, this call's own included (one per SSH connection). */
  const logins = async () => Number((await vm.ssh("grep -c 'Accepted publickey for' /var/log/sshd.log")).stdout.trim());
  after(async () => {
    await engine?.stack.workspace.removeStack("dev", { force: true }).catch(() => undefined);
    await vm?.stop();
  });

  it("ups, then previews with no changes", async () => {
    const up = await engine.run((onOutput) => engine.stack.up({ onOutput }));
    assert.equal(up.summary.result, "succeeded");
    assert.equal(up.outputs.pendingReboot.value, true);
    assert.deepEqual(up.outputs.settings.value["host-reboot"], { "cmdline:intel_iommu": "on" });
    assert.equal((await vm.ssh("cat /proc/sys/vm/swappiness /sys/block/vdb/queue/scheduler /sys/kernel/mm/transparent_hugepage/enabled")).stdout, "10\n[mq-deadline] none\n[always] madvise never\n");
    const pre = await engine.run((onOutput) => engine.stack.preview({ onOutput, expectNoChanges: true, refresh: true }));
    assert.deepEqual(pre.changeSummary, { same: 3 });
    // The private key was given in clear, yet the state file on disk holds it only encrypted.
    const files = fs.readdirSync(engine.dir, { recursive: true }).map(String).filter((f) => f.endsWith(".json") && f.includes("stacks"));
    assert.ok(files.length > 0, "no state file found");
    for (const f of files) {
      const state = fs.readFileSync(path.join(engine.dir, f), "utf8");
      assert.ok(state.includes("ciphertext"), `${f} holds no encrypted value`);
      for (const line of vm.privateKey.split("\n").filter((l) => l.length > 20)) assert.ok(!state.includes(line), `private key material in ${f}`);
    }
  });

  it("names exactly the hand-changed setting in preview --refresh --expect-no-changes; plain up keeps it, up --refresh converges", async () => {
    await vm.ssh("echo 33 > /proc/sys/vm/swappiness");
    await assert.rejects(engine.run((onOutput) => engine.stack.preview({ onOutput, expectNoChanges: true, refresh: true, diff: true })));
    const out = engine.output();
    // The refresh step shows the drift, the preview step the change back, under its disruption group.
    assert.match(out, /~ live\s+: \{[^}]*~ sysctl:vm\.swappiness\s+: "10" => "33"/);
    assert.match(out, /~ live\s+: \{[^}]*~ sysctl:vm\.swappiness\s+: "33" => "10"/);
    // Exactly one setting changed, whichever way the engine prints it.
    assert.deepEqual([...new Set(out.match(/^\s+~ [a-z]+:[^\s:]+(?=\s+:)/gm)?.map((l) => l.trim()))], ["~ sysctl:vm.swappiness"]);
    assert.ok(!out.includes("PRIVATE KEY"));
    // Plain up does not read the host: the hand-made value survives it. That is why the README says up --refresh.
    const plain = await engine.run((onOutput) => engine.stack.up({ onOutput }));
    assert.equal(plain.summary.resourceChanges?.update ?? 0, 0);
    assert.equal((await vm.ssh("cat /proc/sys/vm/swappiness")).stdout, "33\n");
    const before = await logins();
    const up = await engine.run((onOutput) => engine.stack.up({ onOutput, refresh: true }));
    assert.equal(up.summary.resourceChanges?.update, 1);
    // The refresh's read and the update share one SSH connection (the provider process keeps it for the run).
    assert.equal(await logins() - before - 1, 1, "SSH connections of up --refresh to a drifted host");
    assert.equal((await vm.ssh("cat /proc/sys/vm/swappiness")).stdout, "10\n");
  });

  it("up with a program change opens one SSH connection to the host", async () => {
    swappiness = 20;
    try {
      const before = await logins();
      const up = await engine.run((onOutput) => engine.stack.up({ onOutput }));
      assert.equal(up.summary.resourceChanges?.update, 1);
      assert.equal(await logins() - before - 1, 1, "SSH connections of up with a change");
      assert.equal((await vm.ssh("cat /proc/sys/vm/swappiness")).stdout, "20\n");
    } finally {
      swappiness = 10;
    }
    await engine.run((onOutput) => engine.stack.up({ onOutput }));
  });

  it("names a hand edit of its own persistence file (file and line) as drift, and up rewrites the file", async () => {
    const file = "/etc/sysctl.d/90-kvmtune-hv-engine.conf";
    const content = (await vm.ssh(`cat ${file}`)).stdout;
    const line = content.split("\n").indexOf("vm.swappiness = 10") + 1;
    await vm.ssh(`sed -i 's/^vm.swappiness = 10$/vm.swappiness = 77/' ${file}`);
    await assert.rejects(engine.run((onOutput) => engine.stack.preview({ onOutput, expectNoChanges: true, refresh: true, diff: true })));
    // The engine prints the drift as a string in a list, escaping its quotes.
    assert.match(engine.output(), new RegExp(`persistenceDrift[\\s\\S]*${file.replace(/\./g, "\\.")} line ${line}: \\\\?"vm\\.swappiness = 77\\\\?", expected \\\\?"vm\\.swappiness = 10\\\\?"`));
    const up = await engine.run((onOutput) => engine.stack.up({ onOutput, refresh: true }));
    assert.equal(up.summary.resourceChanges?.update, 1);
    assert.equal((await vm.ssh(`cat ${file}`)).stdout, content);
    const pre = await engine.run((onOutput) => engine.stack.preview({ onOutput, expectNoChanges: true, refresh: true }));
    assert.deepEqual(pre.changeSummary, { same: 3 });
  });

  it("previews a program change per setting, labelled live or host-reboot (golden text)", async () => {
    swappiness = 20;
    kernelArgs = { intel_iommu: "on", iommu: "pt" };
    const pre = await engine.run((onOutput) => engine.stack.preview({ onOutput, diff: true }));
    assert.deepEqual(pre.changeSummary, { same: 2, update: 1 });
    const golden = path.join(__dirname, "..", "fixtures", "preview", "tuned-host-change.txt");
    const text = previewDiff(engine.output(), vm.port);
    if (process.env.KVMTUNE_UPDATE_GOLDEN === "1") fs.writeFileSync(golden, text);
    assert.equal(text, fs.readFileSync(golden, "utf8"));
    swappiness = 10;
    kernelArgs = { intel_iommu: "on" };
  });

  it("destroy restores the originals on the host", async () => {
    const d = await engine.run((onOutput) => engine.stack.destroy({ onOutput }));
    assert.equal(d.summary.result, "succeeded");
    assert.equal((await vm.ssh("cat /proc/sys/vm/swappiness /sys/block/vdb/queue/scheduler /sys/kernel/mm/transparent_hugepage/enabled; ls /etc/sysctl.d; ls /etc/default/grub.d")).stdout, "60\n[none] mq-deadline \nalways madvise [never]\n");
  });
});

/** The HostTuning part of a `preview --diff`, with run-specific values (port, key, ids) replaced. */
function previewDiff(output: string, port: number): string {
  const lines = output.split("\n");
  const start = lines.findIndex((l) => l.includes("~ pulumi-nodejs:dynamic/kvmtune:HostTuning: (update)"));
  const end = lines.findIndex((l, i) => i > start && l.startsWith("Resources:"));
  return (
    lines
      .slice(start, end)
      .join("\n")
      .replace(new RegExp(`127\\.0\\.0\\.1:${port}`, "g"), "127.0.0.1:PORT")
      .replace(/port\s+: \d+/g, "port      : PORT")
      .replace(/ssh-ed25519 [A-Za-z0-9+/=]+/g, "ssh-ed25519 HOSTKEY")
      .replace(/urn:pulumi:[^\]]+/g, "URN")
      .trimEnd() + "\n"
  );
}
