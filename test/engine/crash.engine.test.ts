// The Pulumi CLI SIGKILLed in the middle of `up`, of an update and of `destroy`
// (a cancelled CI job, a closed laptop), through the real engine, against a real
// kernel. The orphaned provider may finish its step; recovery follows Pulumi's
// documented steps (cancel, refresh --clear-pending-creates, up); destroy must
// still give back the values the host had before kvmtune, which only the host's
// journal of originals can know after the re-create.
import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { TunedHost } from "../../components/tuned-host";
import { findCli, waitForExit } from "../support/cli-kill";
import { inlineStack, type EngineStack } from "../support/engine";
import { startTestVm, type TestVm } from "../support/vm";

/** Runs the real update-grub stand-in after a marker and a pause: the window in which the CLI is killed. */
const SLOW_UPDATE_GRUB = `#!/bin/sh
touch /run/kvmt-grub-started
sleep 4
exec /usr/sbin/update-grub "$@"
`;

const LIVE =
  "cat /proc/sys/vm/swappiness /sys/kernel/mm/transparent_hugepage/enabled /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages /sys/block/vdb/queue/scheduler; " +
  "grep -c '^bfq ' /proc/modules; grep -c hugetlbfs /proc/mounts; ls -A /etc/sysctl.d; ls -A /etc/default/grub.d; [ -e /var/lib/kvmtune ] && cat /var/lib/kvmtune/journal | sed 's/,\"since\":\"[^\"]*\"//'; true";
const PRISTINE = "60\nalways madvise [never]\n0\n[none] mq-deadline \n0\n0\n";
const tuned = (swappiness: number) =>
  `${swappiness}\nalways [madvise] never\n8\n[mq-deadline] bfq none\n1\n1\n90-kvmtune-hv-crash.conf\nkvmtune-hv-crash.cfg\n`;
const STACK = "organization/kvmtune-crash-test/dev";
const journal = (key: string, original: string | null) => `{"key":"${key}","stack":"${STACK}","resource":"hv-crash","tag":"hv-crash","original":${original === null ? "null" : `"${original}"`}}\n`;
const JOURNAL =
  journal("module:bfq", "unloaded") + journal("thp:enabled", "never") + journal("hugepages:2M", "0") + journal("hugetlbfs:2M", null) + journal("sysctl:vm.swappiness", "60") + journal("block:vdb:scheduler", "none") + journal("cmdline:intel_iommu", null) +
  // What kvmtune made for the mount: the mount point, and /etc/fstab (this VM has none): destroy removes both.
  journal("created:/dev/hugepages2M", null) + journal("created:/etc/fstab", null);
const ORIGINALS = { "module:bfq": "unloaded", "thp:enabled": "never", "hugepages:2M": "0", "hugetlbfs:2M": null, "sysctl:vm.swappiness": "60", "block:vdb:scheduler": "none", "cmdline:intel_iommu": null };

describe("a SIGKILLed CLI mid-apply, recovered with Pulumi's documented steps (real engine, real-kernel VM)", function () {
  this.timeout(900_000);
  let vm: TestVm;
  let engine: EngineStack;
  let swappiness = 10;
  let kernelArgs: Record<string, string> = { intel_iommu: "on" };

  const sh = async (cmd: string) => {
    const r = await vm.ssh(cmd);
    assert.equal(r.code, 0, `${cmd}\n${r.stderr}`);
    return r.stdout;
  };

  /**
   * Starts `verb`, SIGKILLs its CLI once the host runs the boot loader step (inside the one apply command, after
   * the live writes), then waits for the orphaned provider processes: they finish the host step and exit, or are
   * killed after 120 s. Returns whether they ended by themselves.
   */
  async function killMidApply(verb: "up" | "destroy", start: () => Promise<unknown>): Promise<boolean> {
    await sh("rm -f /run/kvmt-grub-started");
    const op = engine.run(() => start() as Promise<void>).then(
      () => "finished",
      (err: Error) => err.message,
    );
    let found: ReturnType<typeof findCli>;
    for (let i = 0; i < 600; i++) {
      found = findCli(engine.dir, verb);
      if (found && (await vm.ssh("[ -e /run/kvmt-grub-started ]")).code === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(found, `the CLI running ${verb} was not found`);
    assert.equal((await vm.ssh("[ -e /run/kvmt-grub-started ]")).code, 0, "the apply never reached the boot loader step");
    found = findCli(engine.dir, verb)!;
    process.kill(found.cli, "SIGKILL");
    const result = await op;
    assert.notEqual(result, "finished", `${verb} finished although its CLI was killed`);
    const ended = await waitForExit(found.descendants, 120_000);
    for (const pid of found.descendants) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    return ended;
  }

  before(async () => {
    vm = await startTestVm({ name: "hv-crash" });
    await vm.ssh("mkdir -p /usr/local/sbin /etc/default/grub.d && cat > /usr/local/sbin/update-grub && chmod 755 /usr/local/sbin/update-grub", "root", { input: SLOW_UPDATE_GRUB });
    assert.equal(await sh(LIVE), PRISTINE);
    engine = await inlineStack("kvmtune-crash-test", async () => {
      const host = new TunedHost("hv-crash", {
        connection: { host: vm.host, port: vm.port, privateKey: pulumi.secret(vm.privateKey), hostKey: vm.hostKey },
        sysctl: { "vm.swappiness": swappiness },
        thp: "madvise",
        hugepages: { "2M": 8 },
        schedulers: { vdb: "mq-deadline" },
        modules: ["bfq"],
        kernelArgs,
      });
      return { originals: host.originals };
    });
  });
  after(async () => {
    await engine?.stack.workspace.removeStack("dev", { force: true }).catch(() => undefined);
    await vm?.stop();
  });

  it("a kill during the first up: the orphaned provider finishes; after cancel, refresh --clear-pending-creates and up, the originals are the host's, not the tuned values", async () => {
    const ended = await killMidApply("up", () => engine.stack.up());
    assert.equal(ended, true, "the orphaned provider processes ended by themselves");
    // The orphan finished the apply: the host is tuned, and the journal recorded the originals before the first write.
    assert.equal(await sh(LIVE), tuned(10) + JOURNAL);

    await engine.stack.cancel();
    await engine.run((onOutput) => engine.stack.refresh({ onOutput, clearPendingCreates: true }));
    const up = await engine.run((onOutput) => engine.stack.up({ onOutput }));
    assert.equal(up.summary.result, "succeeded");
    assert.deepEqual(up.outputs.originals.value, ORIGINALS);
    assert.equal(await sh(LIVE), tuned(10) + JOURNAL);
  });

  it("a kill during an update: after cancel and up --refresh, the change is in place and the originals unchanged", async () => {
    swappiness = 20;
    kernelArgs = { intel_iommu: "on", iommu: "pt" };
    assert.equal(await killMidApply("up", () => engine.stack.up()), true);
    await engine.stack.cancel();
    const up = await engine.run((onOutput) => engine.stack.up({ onOutput, refresh: true }));
    assert.equal(up.summary.result, "succeeded");
    assert.deepEqual(up.outputs.originals.value, { ...ORIGINALS, "cmdline:iommu": null });
    assert.equal(await sh(LIVE), tuned(20) + JOURNAL + journal("cmdline:iommu", null));
    assert.equal(await sh("cat /etc/default/grub.d/kvmtune-hv-crash.cfg | grep CMDLINE"), 'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX intel_iommu=on iommu=pt"\n');
  });

  it("a kill during destroy: the orphan's restore is harmless to repeat; destroy again leaves the host exactly as before kvmtune", async () => {
    assert.equal(await killMidApply("destroy", () => engine.stack.destroy()), true);
    await engine.stack.cancel();
    const d = await engine.run((onOutput) => engine.stack.destroy({ onOutput }));
    assert.equal(d.summary.result, "succeeded");
    assert.equal(await sh(LIVE), PRISTINE);
    assert.equal(await sh("cat /etc/fstab 2>/dev/null; ls -A /etc/default/grub.d; [ -d /dev/hugepages2M ] && echo residue; true"), "");
  });
});
