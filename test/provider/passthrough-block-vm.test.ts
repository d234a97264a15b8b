// PassthroughDisk preflight against a real kernel: a test VM of its own whose
// virtio disks are really mounted, swapped on, partitioned, loop-attached and
// mounted over "/" (busybox mke2fs/mkswap/fdisk/losetup/mount, set up over the
// test's own ssh), then read back with readHostFacts + resolveBlockDevice over
// kvmtune's transport and planned. Nothing here touches the machine running the tests.
import { strict as assert } from "node:assert";
import { resolveBlockDevice, type ResolvedBlockDevice } from "../../provider/host/block-preflight";
import type { HostFacts } from "../../provider/host/facts";
import { readHostFacts, readHostFactsWith } from "../../provider/host/read-facts";
import { planBlockPassthrough, type BlockPassthroughRequest, type BlockPassthroughResult, type DomainDiskAttachment } from "../../provider/plan/passthrough";
import { resetTransportCounts, transportCounts, withSession } from "../../provider/transport";
import { startTestVm, type TestVm } from "../support/vm";

const WWN = "wwn-0x5000c50000000005";

describe("passthrough block preflight on a real kernel (own test VM)", function () {
  this.timeout(300_000);
  let vm: TestVm;
  /** kernel name by serial: kvmt-disk0 -> vda, ... */
  const dev: Record<string, string> = {};
  const conn = () => ({ host: vm.host, port: vm.port, user: "root", privateKey: vm.privateKey, hostKey: vm.hostKey });
  const sh = async (cmd: string) => {
    const r = await vm.ssh(cmd);
    assert.equal(r.code, 0, `${cmd}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };
  const resolve = (path: string, c: object = conn()) => withSession(c, (s) => resolveBlockDevice(s, path));
  /** Facts + resolution in one connection, then the plan. */
  async function preflight(request: BlockPassthroughRequest, attachments?: DomainDiskAttachment[]): Promise<{ r: BlockPassthroughResult; resolved: ResolvedBlockDevice; facts: HostFacts }> {
    const { facts, resolved } = await withSession(conn(), async (s) => ({ facts: await readHostFactsWith(s), resolved: await resolveBlockDevice(s, request.path) }));
    return { r: planBlockPassthrough(facts, request, { resolved, attachments }), resolved, facts };
  }
  const reasons = (r: BlockPassthroughResult) => (r.ok ? [] : r.reasons);

  before(async function () {
    vm = await startTestVm({ name: "kvmt-pt-block", cpus: 2, numaNodes: 1, disks: { count: 7, sizeMiB: 16 } });
    for (const line of (await sh('for d in /sys/block/vd*; do echo "${d##*/} $(cat $d/serial)"; done')).trim().split("\n")) {
      const [name, serial] = line.split(" ");
      dev[serial] = name;
    }
    const d = (i: number) => `/dev/${dev[`kvmt-disk${i}`]}`;
    // Each line is checked by its own readback in the tests; set -e stops at the first failure.
    await sh(
      [
        "set -e",
        "modprobe loop",
        `mke2fs -q ${d(0)} >/dev/null 2>&1`,
        "mkdir -p /mnt/pt-data /mnt/pt-part",
        `mount -t ext4 ${d(0)} /mnt/pt-data`,
        `mkswap ${d(1)} >/dev/null`,
        `swapon ${d(1)}`,
        `printf 'o\\nn\\np\\n1\\n\\n+4M\\nn\\np\\n2\\n\\n\\nw\\n' | fdisk ${d(2)} >/dev/null 2>&1`,
        `mke2fs -q ${d(2)}2 >/dev/null 2>&1`,
        `mount -t ext4 ${d(2)}2 /mnt/pt-part`,
        `losetup /dev/loop0 ${d(3)}`,
        // what udev's 60-persistent-storage rules would make (the VM has no udev)
        "mkdir -p /dev/disk/by-id",
        `ln -s ../../${dev["kvmt-disk5"]} /dev/disk/by-id/virtio-kvmt-disk5`,
        `ln -s ../../${dev["kvmt-disk5"]} /dev/disk/by-id/${WWN}`,
        "echo not-a-disk > /tmp/kvmt-image",
        "ln -s /tmp/kvmt-image /dev/kvmt-image",
      ].join("\n"),
    );
  });

  after(async () => {
    await vm?.stop();
  });

  it("the VM really has a mount, a swap area, a partition mount and a loop device", async () => {
    const out = await sh(`cat /proc/mounts /proc/swaps; cat /sys/block/loop0/loop/backing_file; ls /sys/block/${dev["kvmt-disk2"]}`);
    assert.match(out, new RegExp(`^/dev/${dev["kvmt-disk0"]} /mnt/pt-data ext4 `, "m"));
    assert.match(out, new RegExp(`^/dev/${dev["kvmt-disk2"]}2 /mnt/pt-part ext4 `, "m"));
    assert.match(out, new RegExp(`^/dev/${dev["kvmt-disk1"]} +partition`, "m"));
    assert.match(out, new RegExp(`^/dev/${dev["kvmt-disk3"]}$`, "m"));
    assert.match(out, new RegExp(`^${dev["kvmt-disk2"]}1$`, "m"));
  });

  it("refuses /dev/../etc/shadow without sending a command", async () => {
    resetTransportCounts();
    await assert.rejects(resolve("/dev/../etc/shadow"), /path "\/dev\/\.\.\/etc\/shadow" has a "\.\." segment/);
    assert.equal(transportCounts(`127.0.0.1:${vm.port}`).commands, 0);
  });

  it("resolves a by-id link in one command, agreeing with the guest's own stat and readlink", async () => {
    resetTransportCounts();
    const r = await resolve(`/dev/disk/by-id/virtio-kvmt-disk5`);
    assert.deepEqual(transportCounts(`127.0.0.1:${vm.port}`), { connections: 1, commands: 1 });
    const n = dev["kvmt-disk5"];
    const [majmin, real] = (await sh(`cat /sys/block/${n}/dev; readlink -f /dev/disk/by-id/virtio-kvmt-disk5`)).trim().split("\n");
    assert.deepEqual(r, {
      path: "/dev/disk/by-id/virtio-kvmt-disk5", realpath: real, kind: "block", isBlock: true, majorMinor: majmin, name: n, disk: n, partition: null,
      byId: ["/dev/disk/by-id/virtio-kvmt-disk5", `/dev/disk/by-id/${WWN}`], loops: [{ loop: "loop0", backing: dev["kvmt-disk3"] }],
    });
    // same answer through a login shell that prints noise, without sudo
    const noisy = await resolve(`/dev/disk/by-id/virtio-kvmt-disk5`, { ...conn(), user: "noisy", sudo: false });
    assert.deepEqual(noisy, r);
  });

  it("plans the free disk with its wwn- by-id source, whichever name it was asked by", async () => {
    const n = dev["kvmt-disk5"];
    for (const path of [`/dev/${n}`, "/dev/disk/by-id/virtio-kvmt-disk5", `/dev/disk/by-id/${WWN}`]) {
      const { r } = await preflight({ path });
      assert.ok(r.ok, JSON.stringify(r));
      assert.deepEqual([r.plan.source, r.plan.stableSource, r.plan.name, r.plan.sizeBytes, r.plan.cache, r.plan.io, r.plan.notes], [`/dev/disk/by-id/${WWN}`, true, n, 16 * 1048576, "none", "native", []]);
    }
  });

  it("refuses a mounted disk, naming the mount point", async () => {
    const n = dev["kvmt-disk0"];
    assert.deepEqual(reasons((await preflight({ path: `/dev/${n}` })).r), [`path "/dev/${n}" (${n}) is mounted at "/mnt/pt-data" (ext4, from /dev/${n})`]);
  });

  it("refuses an active swap device, naming it", async () => {
    const n = dev["kvmt-disk1"];
    assert.deepEqual(reasons((await preflight({ path: `/dev/${n}` })).r), [`path "/dev/${n}" (${n}) is active swap (/dev/${n})`]);
  });

  it("refuses a disk with a mounted partition, and plans its free partition under the kernel path with a note", async () => {
    const n = dev["kvmt-disk2"];
    assert.deepEqual(reasons((await preflight({ path: `/dev/${n}` })).r), [`path "/dev/${n}" (${n}): partition ${n}2 is mounted at "/mnt/pt-part" (ext4, from /dev/${n}2)`]);
    const { r, resolved } = await preflight({ path: `/dev/${n}1` });
    assert.deepEqual([resolved.name, resolved.disk, resolved.partition], [`${n}1`, n, 1]);
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual([r.plan.source, r.plan.stableSource, r.plan.partition, r.plan.sizeBytes], [`/dev/${n}1`, false, 1, 4 * 1048576]);
    assert.deepEqual(r.plan.notes, [`no /dev/disk/by-id link points to ${n}1: the source stays the kernel path /dev/${n}1, which can name another disk after a reboot or a hot-plug`]);
  });

  it("refuses the backing device of a loop device, naming the loop device", async () => {
    const n = dev["kvmt-disk3"];
    assert.deepEqual(reasons((await preflight({ path: `/dev/${n}` })).r), [`path "/dev/${n}" (${n}) is the backing device of loop0`]);
  });

  it("refuses a character device, a symlink to a regular file and a missing path, saying what each is", async () => {
    assert.deepEqual(reasons((await preflight({ path: "/dev/null" })).r), ['path "/dev/null" is a character device, not a block device']);
    assert.deepEqual(reasons((await preflight({ path: "/dev/kvmt-image" })).r), ['path "/dev/kvmt-image" resolves to /tmp/kvmt-image, a regular file outside /dev, not a block device']);
    assert.deepEqual(reasons((await preflight({ path: "/dev/disk/by-id/kvmt-missing" })).r), ['path "/dev/disk/by-id/kvmt-missing" does not exist on kvmt-pt-block']);
    assert.deepEqual(reasons((await preflight({ path: "/dev/disk" })).r), ['path "/dev/disk" is a directory, not a block device']);
  });

  it("refuses a disk another libvirt domain has (as domblklist would list it)", async () => {
    const n = dev["kvmt-disk5"];
    const attachments = [
      { domain: "web1", source: "/dev/disk/by-id/virtio-kvmt-disk5" },
      { domain: "web1", source: "/var/lib/libvirt/images/web1.qcow2" },
      { domain: "db1", source: `/dev/${dev["kvmt-disk6"]}` },
    ];
    assert.deepEqual(reasons((await preflight({ path: `/dev/disk/by-id/${WWN}` }, attachments)).r), [
      `path "/dev/disk/by-id/${WWN}" (${n}) is attached to libvirt domain "web1" as /dev/disk/by-id/virtio-kvmt-disk5`,
    ]);
  });

  it("refuses a disk held by a device-mapper device", async function () {
    const n = dev["kvmt-disk6"];
    // No udev in the VM: --noudevsync, or dmsetup would wait for a udev cookie.
    await sh(`modprobe dm-mod && echo "0 $(cat /sys/block/${n}/size) linear /dev/${n} 0" | dmsetup create --noudevsync kvmt-lin`);
    const facts = await readHostFacts(conn());
    const dm = facts.blockDevices.find((b) => b.dmName === "kvmt-lin")!;
    const { r } = await preflight({ path: `/dev/${n}` });
    assert.deepEqual(reasons(r), [`path "/dev/${n}" (${n}) is held by ${dm.name} (kvmt-lin) (a device-mapper/LVM/md device is stacked on it)`]);
  });

  // Last: it mounts over "/" (the sshd and shells keep the initramfs root underneath).
  it("refuses the disk mounted on / as the root disk", async () => {
    const n = dev["kvmt-disk4"];
    await sh(`mke2fs -q /dev/${n} >/dev/null 2>&1 && mount -t ext4 /dev/${n} /`);
    const { r } = await preflight({ path: `/dev/${n}` });
    assert.deepEqual(reasons(r), [
      `path "/dev/${n}" (${n}) is mounted at "/" (ext4, from /dev/${n})`,
      `path "/dev/${n}" (${n}) is the root disk: / is mounted from /dev/${n} (${n})`,
    ]);
  });
});
