// A host with a really frozen block queue (issue #11 item 5), on the real-kernel
// test VM. QEMU opens the second virtio disk (vdb) through its blkdebug driver;
// a blkdebug breakpoint holds one guest read of vdb in flight, and an elevator
// switch on vdb then freezes its queue and waits for that read forever, holding
// the queue's sysfs lock: every later read of vdb's queue files (and of its
// serial, a request to the device) blocks in the kernel, uninterruptibly.
// kvmtune must still read the host's facts within its bound, run what does not
// touch vdb, refuse what does before any write, and name a step that hangs.
import { strict as assert } from "node:assert";
import { readHostFacts } from "../../provider/host/read-facts";
import { ApplyError, applyOps, readSnapshot } from "../../provider/host/knobs/execute";
import type { RemoteOp } from "../../provider/host/knobs/types";
import { applyHostTuning, readHostTuning, restoreHostTuning } from "../../provider/host/tuning";
import { withSession } from "../../provider/transport/session-pool";
import { startTestVm, type TestVm } from "../support/vm";

const MiB = 1048576;

describe("a host with a frozen block queue (real kernel, QEMU blkdebug)", function () {
  this.timeout(600_000);
  let vm: TestVm;
  const conn = () => ({ host: vm.host, port: vm.port, user: "root", privateKey: vm.privateKey, hostKey: vm.hostKey });
  const target = () => `127.0.0.1:${vm.port}`;

  async function sh(cmd: string): Promise<string> {
    const r = await vm.ssh(cmd);
    assert.equal(r.code, 0, `${cmd}\n${r.stderr}`);
    return r.stdout;
  }

  /** Waits until guest process `pid` sleeps uninterruptibly in kernel function `wchan`. */
  async function blockedIn(pid: string, wchan: string): Promise<void> {
    let seen = "";
    for (let i = 0; i < 60; i++) {
      seen = await sh(`cut -d' ' -f3 /proc/${pid}/stat; cat /proc/${pid}/wchan; echo`);
      if (seen === `D\n${wchan}\n`) return;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.fail(`guest process ${pid} is not blocked in ${wchan}: ${JSON.stringify(seen)}`);
  }

  /** Guest processes asleep in the kernel reading or writing a queue attribute (waiting for vdb's sysfs lock). */
  const stuckOnQueue = async () => Number((await sh("grep -l -e queue_attr_show -e queue_attr_store /proc/[0-9]*/wchan 2>/dev/null | wc -l")).trim());

  before(async function () {
    vm = await startTestVm({ name: "kvmt-frozen", cpus: 2, disks: { count: 2, blkdebug: [1] }, monitor: true });
    assert.equal(await sh("cat /sys/block/vda/serial /sys/block/vdb/serial; echo; cat /sys/block/vdb/queue/scheduler"), "kvmt-disk0kvmt-disk1\n[none] mq-deadline \n");
    // Hold the next read that reaches disk 1's image (QEMU side): vdb's request stays in flight.
    assert.equal(await vm.hmp('qemu-io d1 "break read_aio A"'), "");
    const dd = (await sh("dd if=/dev/vdb of=/dev/null bs=4096 skip=1000 count=1 </dev/null >/dev/null 2>&1 & echo $!")).trim();
    await blockedIn(dd, "folio_wait_bit_common");
    // The elevator switch freezes the queue and waits for that request, holding the sysfs lock.
    // (A subshell of its own: ash keeps copies of the session's fds around a redirected builtin.)
    const sw = (await sh("sh -c 'echo mq-deadline >/sys/block/vdb/queue/scheduler' </dev/null >/dev/null 2>&1 & echo $!")).trim();
    await blockedIn(sw, "blk_mq_freeze_queue_wait");
  });

  after(async function () {
    await vm?.stop();
  });

  it("reads the facts and the knob files within the bound, naming vdb as unresponsive and skipping its files", async function () {
    const stuck = await stuckOnQueue();
    const t0 = Date.now();
    const snap = await withSession(conn(), (s) => readSnapshot(s, ["/sys/block/vda/queue/scheduler", "/sys/block/vdb/queue/scheduler", "/sys/block/vd*/queue/read_ahead_kb", "/proc/sys/vm/swappiness"]));
    const ms = Date.now() - t0;
    assert.ok(ms < 60_000, `${ms} ms`);
    assert.deepStrictEqual(snap.facts.unresponsive, [{ path: "/sys/block/vdb", seconds: 5 }]);
    assert.deepEqual([...snap.files], [
      ["/sys/block/vda/queue/scheduler", "[none] mq-deadline "],
      ["/sys/block/vda/queue/read_ahead_kb", "128"],
      ["/proc/sys/vm/swappiness", "60"],
    ]);
    assert.deepEqual(snap.files.hung, ["/sys/block/vdb/queue/scheduler", "/sys/block/vdb/queue/read_ahead_kb"]);
    // vdb keeps what never waits on it; what does is unknown.
    const [vda, vdb] = ["vda", "vdb"].map((n) => snap.facts.blockDevices.find((d) => d.name === n)!);
    assert.deepEqual([vda.serial, vda.scheduler, vda.sizeBytes, vda.virtual], ["kvmt-disk0", "none", 64 * MiB, false]);
    assert.deepEqual([vdb.serial, vdb.scheduler, vdb.schedulers, vdb.readAheadKiB, vdb.sizeBytes, vdb.virtual, vdb.readOnly], [null, null, [], null, 64 * MiB, false, false]);
    assert.match(vdb.pciAddress ?? "", /^0000:/);
    // Its reader was left behind (one more process waiting for vdb's lock), not waited for.
    assert.equal(await stuckOnQueue(), stuck + 1);
  });

  it("readHostFacts alone is bounded the same way", async function () {
    const facts = await readHostFacts(conn());
    assert.deepStrictEqual(facts.unresponsive, [{ path: "/sys/block/vdb", seconds: 5 }]);
    assert.equal(facts.blockDevices.find((d) => d.name === "vda")?.serial, "kvmt-disk0");
  });

  it("applies, reads and restores a sysctl-only setting as on any host", async function () {
    const r = await applyHostTuning(conn(), { settings: { "sysctl:vm.swappiness": "10" }, tag: "frozen", allowManagementInterface: false, originals: {}, previousKeys: [] });
    assert.deepEqual(r.values, { "sysctl:vm.swappiness": "10" });
    assert.deepEqual(r.originals, { "sysctl:vm.swappiness": "60" });
    assert.equal(await sh("cat /proc/sys/vm/swappiness /etc/sysctl.d/90-kvmtune-frozen.conf"), "10\n# Managed by kvmtune (frozen). Changes here are overwritten; change the Pulumi program instead.\nvm.swappiness = 10\n");
    assert.deepEqual((await readHostTuning(conn(), ["sysctl:vm.swappiness"], "frozen")).values, { "sysctl:vm.swappiness": "10" });
    await restoreHostTuning(conn(), r.originals, "frozen");
    assert.equal(await sh("cat /proc/sys/vm/swappiness; ls -A /etc/sysctl.d"), "60\n");
  });

  it("refuses a plan that touches vdb before any write, naming the key, the device and what happened", async function () {
    const before = await sh("cat /proc/sys/vm/swappiness; ls -A /etc/sysctl.d /etc/udev/rules.d /var/lib/kvmtune 2>&1; true");
    await assert.rejects(
      applyHostTuning(conn(), { settings: { "sysctl:vm.swappiness": "20", "block:vdb:scheduler": "none" }, tag: "frozen", allowManagementInterface: false, originals: {}, previousKeys: [] }),
      {
        name: "InputError",
        message: `invalid settings for ${target()} (nothing was changed):\n  - block:vdb:scheduler: /sys/block/vdb did not answer within 5 s (a frozen block queue?); nothing was changed on this host`,
      },
    );
    assert.equal(await sh("cat /proc/sys/vm/swappiness; ls -A /etc/sysctl.d /etc/udev/rules.d /var/lib/kvmtune 2>&1; true"), before);
  });

  it("refuses a restore that touches vdb before any write, so delete can be retried once the disk answers", async function () {
    await assert.rejects(restoreHostTuning(conn(), { "block:vdb:scheduler": "mq-deadline", "sysctl:vm.swappiness": "60" }, "frozen"), {
      name: "InputError",
      message: `invalid restore on ${target()} (nothing was changed):\n  - block:vdb:scheduler: /sys/block/vdb did not answer within 5 s (a frozen block queue?); nothing was changed on this host`,
    });
  });

  it("names the step that hangs and its time limit", async function () {
    const ops: RemoteOp[] = [
      { op: "write", path: "/proc/sys/vm/swappiness", value: "30" },
      { op: "write", path: "/sys/block/vdb/queue/scheduler", value: "none" },
      { op: "write", path: "/sys/block/vdb/queue/read_ahead_kb", value: "512" },
    ];
    const t0 = Date.now();
    const err = await withSession(conn(), (s) => applyOps(s, ops, "apply settings", 5000)).then(
      () => assert.fail("the apply should not finish"),
      (e: unknown) => e as ApplyError,
    );
    const ms = Date.now() - t0;
    assert.equal(err.name, "ApplyError");
    assert.equal(err.message, `on ${target()}, step 2 of 3 (write "none" to /sys/block/vdb/queue/scheduler) did not finish within 5 s; the host may be partly changed (run again to converge)`);
    assert.equal(err.done, 1);
    assert.ok(ms < 60_000, `${ms} ms`);
    // Step 1 did run: the host is partly changed, as the message says.
    assert.equal(await sh("cat /proc/sys/vm/swappiness; echo 60 > /proc/sys/vm/swappiness"), "30\n");
  });

  it("answers again once the held request completes", async function () {
    assert.equal(await vm.hmp('qemu-io d1 "resume A"'), "");
    let stuck = -1;
    for (let i = 0; i < 60 && stuck !== 0; i++) {
      stuck = await stuckOnQueue();
      if (stuck !== 0) await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(stuck, 0, "every reader and writer waiting for vdb's lock went on");
    const snap = await withSession(conn(), (s) => readSnapshot(s, ["/sys/block/vdb/queue/scheduler"]));
    assert.deepStrictEqual(snap.facts.unresponsive, []);
    // The elevator switch finished, then the timed-out step's write ran after it.
    assert.deepEqual([...snap.files], [["/sys/block/vdb/queue/scheduler", "[none] mq-deadline "]]);
    assert.equal(snap.facts.blockDevices.find((d) => d.name === "vdb")?.serial, "kvmt-disk1");
  });
});
