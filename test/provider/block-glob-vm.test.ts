// A block glob on a real kernel: one key sets, reads, drifts and restores every matching disk.
import { strict as assert } from "node:assert";
import { applyHostTuning, readHostTuning, restoreHostTuning } from "../../provider/host/tuning";
import { sharedTestVm } from "../support/shared-vm";
import type { TestVm } from "../support/vm";

describe("block settings by glob on the real-kernel VM", function () {
  this.timeout(180_000);
  let vm: TestVm;
  before(async () => {
    vm = await sharedTestVm();
  });

  it("applies to vda and vdb, names drift per device, restores each original", async () => {
    const conn = { host: vm.host, port: vm.port, privateKey: vm.privateKey, hostKey: vm.hostKey };
    const settings = { "block:vd*:scheduler": "mq-deadline", "block:vd*:read_ahead_kb": "512" };
    const before = (await vm.ssh("cat /sys/block/vda/queue/scheduler /sys/block/vdb/queue/scheduler /sys/block/vda/queue/read_ahead_kb /sys/block/vdb/queue/read_ahead_kb")).stdout;
    const r = await applyHostTuning(conn, { settings, tag: "glob", allowManagementInterface: false, originals: {}, previousKeys: [] });
    assert.deepEqual(r.originals, { "block:vd*:read_ahead_kb": "128", "block:vd*:scheduler": "none" });
    assert.equal((await vm.ssh("cat /sys/block/vda/queue/scheduler /sys/block/vdb/queue/scheduler /sys/block/vda/queue/read_ahead_kb /sys/block/vdb/queue/read_ahead_kb")).stdout, "[mq-deadline] none\n[mq-deadline] none\n512\n512\n");
    assert.equal(
      (await vm.ssh("cat /etc/udev/rules.d/90-kvmtune-glob-block.rules")).stdout,
      `# Managed by kvmtune (glob). Changes here are overwritten; change the Pulumi program instead.\nACTION=="add|change", SUBSYSTEM=="block", KERNEL=="vd*", ATTR{queue/scheduler}="mq-deadline", ATTR{queue/read_ahead_kb}="512"\n`,
    );
    await vm.ssh("echo none > /sys/block/vdb/queue/scheduler");
    const read = await readHostTuning(conn, Object.keys(settings), "glob");
    assert.deepEqual(read.values, { "block:vd*:scheduler": "mixed(vda=mq-deadline,vdb=none)", "block:vd*:read_ahead_kb": "512" });
    await restoreHostTuning(conn, r.originals, "glob");
    assert.equal((await vm.ssh("cat /sys/block/vda/queue/scheduler /sys/block/vdb/queue/scheduler /sys/block/vda/queue/read_ahead_kb /sys/block/vdb/queue/read_ahead_kb")).stdout, before);
    assert.equal((await vm.ssh("ls /etc/udev/rules.d")).stdout, "");
  });
});
