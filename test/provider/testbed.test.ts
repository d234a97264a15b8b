// The test bed itself: a real kernel VM that matches what qemu was told, and a
// local sshd. Everything later provider tests rely on is asserted here first.
import { strict as assert } from "node:assert";
import { sharedTestVm } from "../support/shared-vm";
import { startLocalSshd, LocalSshd } from "../support/sshd";
import * as fs from "node:fs";
import { bootStage, startTestVm, TestVm } from "../support/vm";
import { buildImage } from "../support/build-image";
import { INIT_STARTED_MARK, NOISY_STDERR_LINE, NOISY_STDOUT_LINE, SSHD_STARTED_MARK } from "../support/rootfs-files";
import { trackedProcesses } from "../support/processes";

const cpulist = (cpus: number[]) => `${cpus[0]}-${cpus[cpus.length - 1]}`;

describe("test bed: real-kernel VM", function () {
  this.timeout(180_000);
  let vm: TestVm;

  before(async function () {
    vm = await sharedTestVm();
  });

  async function sh(cmd: string, user?: "root" | "kvmt" | "noisy") {
    const r = await vm.ssh(cmd, user);
    assert.equal(r.code, 0, `${cmd} failed (${r.code}): ${r.stderr}`);
    return r.stdout;
  }

  it("runs the Debian cloud kernel the image was built from", async function () {
    const img = buildImage();
    assert.match(img.kernelRelease, /^6\.1\.0-\d+-cloud-amd64$/);
    assert.equal(vm.kernelRelease, img.kernelRelease);
    assert.equal(await sh("uname -r"), `${img.kernelRelease}\n`);
  });

  it("shows the NUMA nodes, CPUs and distances qemu was told", async function () {
    assert.deepEqual(vm.told.numa, [
      { node: 0, cpus: [0, 1], memoryMiB: 128 },
      { node: 1, cpus: [2, 3], memoryMiB: 128 },
    ]);
    const out = await sh(
      "cat /sys/devices/system/node/node0/cpulist /sys/devices/system/node/node1/cpulist " +
        "/sys/devices/system/node/node0/distance /sys/devices/system/node/node1/distance " +
        "/sys/devices/system/cpu/cpu0/topology/thread_siblings_list /sys/devices/system/cpu/online",
    );
    assert.equal(out, `${cpulist(vm.told.numa[0].cpus)}\n${cpulist(vm.told.numa[1].cpus)}\n10 21\n21 10\n0-1\n0-3\n`);
    assert.deepEqual(vm.told.distances, [[10, 21], [21, 10]]);
  });

  it("offers 2M and 1G hugepage pools and THP, as a real host kernel would", async function () {
    assert.equal(await sh("ls /sys/kernel/mm/hugepages"), "hugepages-1048576kB\nhugepages-2048kB\n");
    assert.equal(await sh("ls /sys/devices/system/node/node1/hugepages"), "hugepages-1048576kB\nhugepages-2048kB\n");
    // Debian builds with THP "always", but the kernel turns THP off by itself on
    // machines under 512 MiB (hugepage_init), so a 256 MiB VM starts at "never".
    assert.equal(await sh("cat /sys/kernel/mm/transparent_hugepage/enabled"), "always madvise [never]\n");
  });

  it("has both virtio disks with the serials and sizes qemu was given", async function () {
    assert.equal(await sh("ls /sys/block | grep '^vd'"), "vda\nvdb\n");
    const out = await sh("for d in vda vdb; do cat /sys/block/$d/serial; echo; cat /sys/block/$d/size; done");
    const [s0, n0, s1, n1] = out.trim().split("\n");
    assert.deepEqual(
      [{ serial: s0, sizeBytes: Number(n0) * 512 }, { serial: s1, sizeBytes: Number(n1) * 512 }],
      vm.told.disks,
    );
    assert.deepEqual(vm.told.disks, [
      { serial: "kvmt-disk0", sizeBytes: 64 * 1048576 },
      { serial: "kvmt-disk1", sizeBytes: 64 * 1048576 },
    ]);
  });

  it("has the virtio NIC with the fixed MAC", async function () {
    assert.equal(await sh("cat /sys/class/net/eth0/address"), `${vm.told.nic.mac}\n`);
    assert.equal(await sh("basename $(readlink /sys/class/net/eth0/device/driver)"), "virtio_net\n");
  });

  it("loads vhost_net on demand and creates /dev/vhost-net", async function () {
    assert.equal(await sh("modprobe vhost_net && test -c /dev/vhost-net && echo ok"), "ok\n");
  });

  it("has bfq as a module that is not loaded at boot, and loads it on demand", async function () {
    assert.equal(await sh("cat /sys/block/vda/queue/scheduler"), "[none] mq-deadline \n");
    await sh("modprobe bfq");
    assert.equal(await sh("cat /sys/block/vda/queue/scheduler"), "[none] mq-deadline bfq \n");
  });

  it("can load every module later tests need", async function () {
    const mods = ["kyber-iosched", "null_blk", "loop", "dm-mod", "vfio-pci"];
    await sh(`modprobe -a ${mods.join(" ")}`);
    const loaded = (await sh("cut -d' ' -f1 /proc/modules")).split("\n");
    for (const m of mods) assert.ok(loaded.includes(m.replace(/-/g, "_")), `${m} not in /proc/modules`);
  });

  it("refuses sudo -n for kvmt with sudo's own message", async function () {
    assert.equal(await sh("id -u"), "0\n");
    assert.equal(await sh("id -un", "kvmt"), "kvmt\n");
    const r = await vm.ssh("sudo -n true", "kvmt");
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "sudo: a password is required\n");
  });

  it("prints login noise for noisy on both streams before the command's output", async function () {
    const r = await vm.ssh("id -u; echo done >&2", "noisy");
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `${NOISY_STDOUT_LINE}\n0\n`);
    assert.equal(r.stderr, `${NOISY_STDERR_LINE}\ndone\n`);
  });

  it("pins the suite host key and has writable persistence dirs", async function () {
    assert.match(vm.hostKey, /^ssh-ed25519 AAAA[0-9A-Za-z+/=]+$/);
    assert.match(vm.hostKeyFingerprint, /^SHA256:[0-9A-Za-z+/]{43}$/);
    const out = await sh(
      "for d in sysctl.d modules-load.d modprobe.d udev/rules.d; do test -w /etc/$d && ls -A /etc/$d | wc -l; done",
    );
    assert.equal(out.replace(/ /g, ""), "0\n0\n0\n0\n");
  });

  it("is tracked for cleanup by PID", function () {
    assert.ok(trackedProcesses().some((p) => p.pid === vm.pid && p.label.startsWith("qemu ")));
  });

  it("marks rcS's start on the console, before sshd's", function () {
    const serial = fs.readFileSync(vm.serialLogPath, "utf8");
    assert.ok(serial.indexOf(INIT_STARTED_MARK) >= 0 && serial.indexOf(INIT_STARTED_MARK) < serial.indexOf(SSHD_STARTED_MARK), serial);
    assert.equal(bootStage(serial), "sshd started but did not answer");
  });

  it("names a boot that stalls before rcS, boots a fresh qemu once, then gives up", async function () {
    // -S: the CPUs never start, as in a stalled TCG guest
    const before = trackedProcesses().length;
    const logged: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => (logged.push(String(s)), true)) as typeof process.stderr.write;
    let err: Error | undefined;
    try {
      await startTestVm({ name: "kvmt-stall", extraQemuArgs: ["-S"], kernelStallMs: 2000 });
    } catch (e) {
      err = e as Error;
    } finally {
      process.stderr.write = write;
    }
    assert.match(err?.message ?? "", /^test VM kvmt-stall did not boot: no rcS within 2 s \(stalled in the kernel \(rcS never started\)\)\n/);
    assert.equal(logged.filter((l) => l.startsWith("[testbed] kvmt-stall stalled before sshd; booting a fresh qemu.")).length, 1);
    assert.equal(trackedProcesses().length, before);
  });
});

describe("test bed: local sshd", function () {
  this.timeout(30_000);
  let sshd: LocalSshd;
  const banner = "kvmtune local sshd: authorised test use only\n";

  before(async function () {
    sshd = await startLocalSshd({ banner });
  });
  after(async function () {
    await sshd?.stop();
  });

  it("runs commands as root with the pinned host key and serves the banner", async function () {
    const r = await sshd.ssh("true");
    assert.equal(r.code, 0);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr, banner);
    assert.equal(sshd.host, "127.0.0.1");
    assert.equal(sshd.user, "root");
  });

  it("stops by PID and removes itself from the registry", async function () {
    const pid = sshd.pid;
    await sshd.stop();
    assert.ok(!trackedProcesses().some((p) => p.pid === pid));
    assert.throws(() => process.kill(pid, 0), /ESRCH/);
  });
});
