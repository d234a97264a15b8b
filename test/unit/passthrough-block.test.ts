// PassthroughDisk preflight: path rules, the one-command resolver (its script run
// locally on harmless paths only), and the pure planner on the hv01 fixture.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BLOCK_RESOLVE_SCRIPT,
  checkBlockPath,
  parseBlockResolution,
  resolveBlockDevice,
  type ResolvedBlockDevice,
} from "../../provider/host/block-preflight";
import { parseHostFacts, type BlockDevice, type HostFacts } from "../../provider/host/facts";
import { planBlockPassthrough, preferredById, type BlockPassthroughRequest } from "../../provider/plan/passthrough";
import type { RemoteSession, RunOptions, RunResult } from "../../provider/transport/types";
import { FIXTURE_DIR, SHELL_ARGV, type Shell } from "../fixtures/facts/run-script";

const hv01 = (): HostFacts => parseHostFacts(readFileSync(join(FIXTURE_DIR, "hv01-2socket.txt"), "utf8"));

/** What resolveBlockDevice would say for a block device (byId as full paths). */
function block(path: string, name: string, disk = name, o: Partial<ResolvedBlockDevice> = {}): ResolvedBlockDevice {
  return { path, realpath: `/dev/${name}`, kind: "block", isBlock: true, majorMinor: "8:16", name, disk, partition: null, byId: [], loops: [], ...o };
}

const SDB_BY_ID = ["/dev/disk/by-id/ata-ST8000NM000A-2KE101_WKD0ABCD", "/dev/disk/by-id/wwn-0x5000c500cafe0001"];

/** hv01 plus a free SATA disk sdb with one unused partition. */
function withFreeDisk(): HostFacts {
  const f = hv01();
  const sdb: BlockDevice = {
    ...f.blockDevices.find((d) => d.name === "sda")!,
    name: "sdb",
    sizeBytes: 8001563222016,
    model: "ST8000NM000A-2KE",
    wwid: "naa.5000c500cafe0001",
    byId: SDB_BY_ID,
    partitions: [{ name: "sdb1", number: 1, sizeBytes: 8001561124864, holders: [], mounts: [], swap: false, byId: ["/dev/disk/by-id/wwn-0x5000c500cafe0001-part1"] }],
  };
  f.blockDevices.push(sdb);
  return f;
}

function fakeSession(answer: string, calls: { script: string; opts?: RunOptions }[]): RemoteSession {
  return {
    target: "hv01:22",
    async run(script: string, opts?: RunOptions): Promise<RunResult> {
      calls.push({ script, opts });
      return { stdout: answer, stderr: "", code: 0 };
    },
    close() {},
  };
}

describe("passthrough block preflight", () => {
  describe("checkBlockPath (no I/O)", () => {
    const HINT = "give an absolute path under /dev, e.g. /dev/disk/by-id/wwn-0x5000c500a1b2c3d4";
    const cases: [unknown, string[]][] = [
      ["/dev/disk/by-id/wwn-0x5000c500a1b2c3d4", []],
      ["/dev/sdb", []],
      ["/dev/../etc/shadow", [`path "/dev/../etc/shadow" has a ".." segment; ${HINT} without ".."`]],
      ["/dev/disk/../../etc/shadow", [`path "/dev/disk/../../etc/shadow" has a ".." segment; ${HINT} without ".."`]],
      ["/dev/./sdb", [`path "/dev/./sdb" has a "." segment; ${HINT} without "."`]],
      ["dev/sdb", [`path "dev/sdb" is not absolute; ${HINT}`]],
      ["sdb", [`path "sdb" is not absolute; ${HINT}`]],
      ["/etc/shadow", [`path "/etc/shadow" is not under /dev; ${HINT}`]],
      ["/dev", [`path "/dev" is not under /dev; ${HINT}`]],
      ["/dev/", [`path "/dev/" is not under /dev; ${HINT}`]],
      ["/devices/sdb", [`path "/devices/sdb" is not under /dev; ${HINT}`]],
      ["/dev/sdb\nreboot", [`path "/dev/sdb\\nreboot" contains control characters; ${HINT}`]],
      [42, ["path must be a string path under /dev, got number"]],
    ];
    for (const [path, want] of cases) {
      it(`${JSON.stringify(path)} -> ${want.length ? "refused" : "accepted"}`, () => assert.deepEqual(checkBlockPath(path), want));
    }
  });

  describe("resolveBlockDevice", () => {
    it("refuses /dev/../etc/shadow before any command is sent", async () => {
      const calls: { script: string }[] = [];
      await assert.rejects(
        resolveBlockDevice(fakeSession("", calls), "/dev/../etc/shadow"),
        (e: Error) => e.message === `cannot resolve block device on hv01:22: path "/dev/../etc/shadow" has a ".." segment; give an absolute path under /dev, e.g. /dev/disk/by-id/wwn-0x5000c500a1b2c3d4 without ".."`,
      );
      assert.equal(calls.length, 0);
    });

    it("sends the fixed script with the path on stdin only, in one command", async () => {
      const calls: { script: string; opts?: RunOptions }[] = [];
      const path = "/dev/disk/by-id/wwn-0x5000c500cafe0001";
      const answer = "@@kvmtune:block 1\nrealpath=/dev/sdb\nkind=block\nmajmin=8:16\nname=sdb\ndisk=sdb\nbyid=wwn-0x5000c500cafe0001\nbyid=ata-X\nloop=loop3 sdb1\n@@kvmtune:end\n";
      const r = await resolveBlockDevice(fakeSession(answer, calls), path);
      assert.equal(calls.length, 1);
      assert.equal(calls[0].script, BLOCK_RESOLVE_SCRIPT);
      assert.ok(!calls[0].script.includes(path));
      assert.equal(calls[0].opts?.stdin, `${path}\n`);
      assert.deepEqual(r, {
        path, realpath: "/dev/sdb", kind: "block", isBlock: true, majorMinor: "8:16", name: "sdb", disk: "sdb", partition: null,
        byId: ["/dev/disk/by-id/ata-X", "/dev/disk/by-id/wwn-0x5000c500cafe0001"], loops: [{ loop: "loop3", backing: "sdb1" }],
      });
    });

    it("parses partitions and refuses truncated or foreign output", () => {
      const p = parseBlockResolution("/dev/sdb1", "@@kvmtune:block 1\nrealpath=/dev/sdb1\nkind=block\nmajmin=8:17\nname=sdb1\ndisk=sdb\npartition=1\n@@kvmtune:end\n");
      assert.deepEqual([p.name, p.disk, p.partition, p.majorMinor], ["sdb1", "sdb", 1, "8:17"]);
      assert.throws(() => parseBlockResolution("/dev/sdb", "@@kvmtune:block 1\nkind=block\n"), /truncated/);
      assert.throws(() => parseBlockResolution("/dev/sdb", "hello\n@@kvmtune:end\n"), /unexpected block resolver output/);
      assert.throws(() => parseBlockResolution("/dev/sdb", "@@kvmtune:block 1\n@@kvmtune:end\n"), /no kind line/);
    });

    // The script only reads (readlink, test, stat, sysfs); here it sees no block device at all.
    describe("the script under sh, busybox sh and bash (harmless paths only)", () => {
      let dir: string;
      before(() => {
        dir = mkdtempSync(join(tmpdir(), "kvmtune-block-"));
        writeFileSync(join(dir, "image"), "not a disk");
        symlinkSync(join(dir, "image"), join(dir, "to-file"));
        symlinkSync(join(dir, "gone"), join(dir, "dangling"));
        symlinkSync("/dev/null", join(dir, "to-null"));
      });
      after(() => rmSync(dir, { recursive: true, force: true }));

      const run = (shell: Shell, path: string) => {
        const argv = SHELL_ARGV[shell];
        const r = spawnSync(argv[0], [...argv.slice(1), "-c", BLOCK_RESOLVE_SCRIPT], { input: `${path}\n`, encoding: "utf8", env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
        assert.equal(r.status, 0, r.stderr);
        return parseBlockResolution(path, r.stdout);
      };
      for (const shell of ["sh", "busybox", "bash"] as Shell[]) {
        it(shell, () => {
          const kinds = (p: string) => {
            const r = run(shell, p);
            return [r.kind, r.realpath, r.isBlock, r.name];
          };
          assert.deepEqual(kinds("/dev/null"), ["char", "/dev/null", false, null]);
          assert.deepEqual(kinds(join(dir, "to-null")), ["char", "/dev/null", false, null]);
          assert.deepEqual(kinds(join(dir, "to-file")), ["file", join(dir, "image"), false, null]);
          assert.deepEqual(kinds(join(dir, "dangling")), ["missing", join(dir, "gone"), false, null]);
          assert.deepEqual(kinds(dir), ["directory", dir, false, null]);
          assert.deepEqual(kinds("/dev/kvmtune-no-such-device"), ["missing", "/dev/kvmtune-no-such-device", false, null]);
          // a second line on stdin is never read
          assert.deepEqual(kinds("/dev/null\n/etc/shadow"), ["char", "/dev/null", false, null]);
        });
      }
    });
  });

  describe("preferredById", () => {
    it("prefers wwn-, then nvme-eui., then others, dm-name- last; ties by name", () => {
      assert.equal(preferredById(["/dev/disk/by-id/ata-A", "/dev/disk/by-id/wwn-0x2", "/dev/disk/by-id/wwn-0x1"]), "/dev/disk/by-id/wwn-0x1");
      assert.equal(preferredById(["/dev/disk/by-id/nvme-SAMSUNG_X", "/dev/disk/by-id/nvme-eui.3634"]), "/dev/disk/by-id/nvme-eui.3634");
      assert.equal(preferredById(["/dev/disk/by-id/dm-name-vg0-data", "/dev/disk/by-id/dm-uuid-LVM-abc"]), "/dev/disk/by-id/dm-uuid-LVM-abc");
      assert.equal(preferredById([]), null);
      const many = ["/dev/disk/by-id/scsi-3", "/dev/disk/by-id/ata-B", "/dev/disk/by-id/nvme-eui.1", "/dev/disk/by-id/wwn-0x9"];
      assert.equal(preferredById(many), preferredById([...many].reverse()));
    });
  });

  describe("planBlockPassthrough on hv01", () => {
    const plan = (facts: HostFacts, request: BlockPassthroughRequest, resolved: ResolvedBlockDevice, extra = {}) =>
      planBlockPassthrough(facts, request, { resolved, ...extra });
    const reasons = (r: ReturnType<typeof plan>) => (r.ok ? [] : r.reasons);

    it("refuses /dev/../etc/shadow without looking at the host's answer", () => {
      const r = plan(hv01(), { path: "/dev/../etc/shadow" }, block("/dev/../etc/shadow", "sda"));
      assert.deepEqual(reasons(r), ['path "/dev/../etc/shadow" has a ".." segment; give an absolute path under /dev, e.g. /dev/disk/by-id/wwn-0x5000c500a1b2c3d4 without ".."']);
    });

    it("refuses what is not a block device, saying what it is", () => {
      const f = hv01();
      const not = (path: string, o: Partial<ResolvedBlockDevice>) => reasons(plan(f, { path }, { ...block(path, "x"), isBlock: false, majorMinor: null, name: null, disk: null, ...o }));
      assert.deepEqual(not("/dev/null", { kind: "char", realpath: "/dev/null" }), ['path "/dev/null" is a character device, not a block device']);
      assert.deepEqual(not("/dev/disk/by-id/fake", { kind: "file", realpath: "/var/lib/images/disk.raw" }), [
        'path "/dev/disk/by-id/fake" resolves to /var/lib/images/disk.raw, a regular file outside /dev, not a block device',
      ]);
      assert.deepEqual(not("/dev/disk/by-id/nope", { kind: "missing", realpath: null }), ['path "/dev/disk/by-id/nope" does not exist on hv01']);
      assert.deepEqual(not("/dev/disk/by-id/old", { kind: "missing", realpath: "/dev/sdz" }), ['path "/dev/disk/by-id/old" resolves to /dev/sdz, which does not exist on hv01']);
      assert.deepEqual(not("/dev/shm", { kind: "directory", realpath: "/dev/shm" }), ['path "/dev/shm" is a directory, not a block device']);
      assert.deepEqual(reasons(plan(f, { path: "/dev/disk/by-id/odd" }, { ...block("/dev/disk/by-id/odd", "sdb"), realpath: "/tmp/sdb" })), [
        'path "/dev/disk/by-id/odd" resolves to /tmp/sdb, a block device node outside /dev; use the host\'s own /dev node or a /dev/disk/by-id link',
      ]);
      assert.deepEqual(reasons(plan(f, { path: "/dev/sdb" }, block("/dev/sdc", "sdc"))), ['path "/dev/sdb": the host\'s answer is for "/dev/sdc", not this path']);
    });

    it("refuses the root disk, naming / and every mount and holder on it", () => {
      const r = plan(hv01(), { path: "/dev/disk/by-id/nvme-eui.36344630524012340025384500000001" }, block("/dev/disk/by-id/nvme-eui.36344630524012340025384500000001", "nvme0n1"));
      const who = 'path "/dev/disk/by-id/nvme-eui.36344630524012340025384500000001" (nvme0n1)';
      assert.deepEqual(reasons(r), [
        `${who}: partition nvme0n1p1 is mounted at "/boot/efi" (vfat, from /dev/nvme0n1p1)`,
        `${who}: partition nvme0n1p2 is mounted at "/boot" (ext4, from /dev/nvme0n1p2)`,
        `${who}: partition nvme0n1p3 is held by dm-0 (vg0-root), dm-1 (vg0-swap) (a device-mapper/LVM/md device is stacked on it)`,
        `${who} is the root disk: / is mounted from /dev/mapper/vg0-root (dm-0 on nvme0n1p3)`,
      ]);
    });

    it("refuses a partition with holders on the root disk", () => {
      const r = plan(hv01(), { path: "/dev/nvme0n1p3" }, block("/dev/nvme0n1p3", "nvme0n1p3", "nvme0n1", { partition: 3 }));
      assert.deepEqual(reasons(r), [
        'path "/dev/nvme0n1p3" (nvme0n1p3) is held by dm-0 (vg0-root), dm-1 (vg0-swap) (a device-mapper/LVM/md device is stacked on it)',
        'path "/dev/nvme0n1p3" (nvme0n1p3) is on the root disk nvme0n1: / is mounted from /dev/mapper/vg0-root (dm-0 on nvme0n1p3)',
      ]);
    });

    it("refuses swap and mounted disks, naming the swap area and the mount point", () => {
      const f = hv01();
      assert.deepEqual(reasons(plan(f, { path: "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4" }, block("/dev/disk/by-id/wwn-0x5000c500a1b2c3d4", "sda"))), [
        'path "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4" (sda): partition sda1 is active swap (/dev/sda1)',
        'path "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4" (sda): partition sda2 is mounted at "/srv/vm images" (xfs, from /dev/disk/by-id/wwn-0x5000c500a1b2c3d4-part2)',
      ]);
      assert.deepEqual(reasons(plan(f, { path: "/dev/sda1" }, block("/dev/sda1", "sda1", "sda", { partition: 1 }))), ['path "/dev/sda1" (sda1) is active swap (/dev/sda1)']);
      assert.deepEqual(reasons(plan(f, { path: "/dev/mapper/vg0-swap" }, block("/dev/mapper/vg0-swap", "dm-1"))), ['path "/dev/mapper/vg0-swap" (dm-1, vg0-swap) is active swap (/dev/dm-1)']);
      assert.deepEqual(reasons(plan(f, { path: "/dev/mapper/vg0-root" }, block("/dev/mapper/vg0-root", "dm-0"))), ['path "/dev/mapper/vg0-root" (dm-0, vg0-root) is mounted at "/" (ext4, from /dev/mapper/vg0-root)']);
      assert.deepEqual(reasons(plan(f, { path: "/dev/sr0" }, block("/dev/sr0", "sr0"))), ['path "/dev/sr0" (sr0) has size 0 (no medium, or an empty device)']);
    });

    it("refuses a device the facts do not know (an unused loop device)", () => {
      assert.deepEqual(reasons(plan(hv01(), { path: "/dev/loop0" }, block("/dev/loop0", "loop0"))), [
        'path "/dev/loop0" (loop0) is not among the host\'s block devices in the facts (an unused loop/ram device, or one that appeared after the facts were read); read the facts again',
      ]);
    });

    it("refuses a device backing a loop device, and one of its partitions", () => {
      const r = plan(withFreeDisk(), { path: "/dev/sdb" }, block("/dev/sdb", "sdb", "sdb", { byId: SDB_BY_ID, loops: [{ loop: "loop0", backing: "sdb" }, { loop: "loop1", backing: "sdb1" }, { loop: "loop2", backing: "sda" }] }));
      assert.deepEqual(reasons(r), ['path "/dev/sdb" (sdb) is the backing device of loop0', 'path "/dev/sdb" (sdb): partition sdb1 is the backing device of loop1']);
    });

    it("plans a free disk with its preferred by-id source and the defaults", () => {
      const r = plan(withFreeDisk(), { path: "/dev/sdb" }, block("/dev/sdb", "sdb", "sdb", { byId: SDB_BY_ID }));
      assert.deepEqual(r, {
        ok: true,
        plan: {
          source: "/dev/disk/by-id/wwn-0x5000c500cafe0001", stableSource: true, name: "sdb", disk: "sdb", partition: null, realpath: "/dev/sdb", majorMinor: "8:16",
          sizeBytes: 8001563222016, device: "disk", bus: "virtio", cache: "none", io: "native", notes: [],
        },
      });
    });

    it("keeps the kernel path, with a note, when no by-id link exists", () => {
      const r = plan(withFreeDisk(), { path: "/dev/sdb1", bus: "scsi", io: "io_uring", cache: "writeback" }, block("/dev/sdb1", "sdb1", "sdb", { partition: 1 }));
      assert.ok(r.ok);
      assert.deepEqual([r.plan.source, r.plan.stableSource, r.plan.partition, r.plan.bus, r.plan.io, r.plan.cache], ["/dev/sdb1", false, 1, "scsi", "io_uring", "writeback"]);
      assert.deepEqual(r.plan.notes, ["no /dev/disk/by-id link points to sdb1: the source stays the kernel path /dev/sdb1, which can name another disk after a reboot or a hot-plug"]);
    });

    it("refuses a disk another libvirt domain uses, under any of its names or a partition's", () => {
      const f = withFreeDisk();
      const attachments = [
        { domain: "web1", source: "/dev/sdb" },
        { domain: "web1", source: "/var/lib/libvirt/images/web1.qcow2" },
        { domain: "db1", source: "/dev/disk/by-id/wwn-0x5000c500cafe0001" },
        { domain: "batch", source: "/dev/disk/by-id/wwn-0x5000c500cafe0001-part1" },
        { domain: "cd", source: "-" },
      ];
      const r = plan(f, { path: "/dev/disk/by-id/ata-ST8000NM000A-2KE101_WKD0ABCD" }, block("/dev/disk/by-id/ata-ST8000NM000A-2KE101_WKD0ABCD", "sdb", "sdb", { byId: SDB_BY_ID }), { attachments, domain: "db1" });
      const who = 'path "/dev/disk/by-id/ata-ST8000NM000A-2KE101_WKD0ABCD" (sdb)';
      assert.deepEqual(reasons(r), [
        `${who} is attached to libvirt domain "batch" as /dev/disk/by-id/wwn-0x5000c500cafe0001-part1 (partition sdb1)`,
        `${who} is attached to libvirt domain "web1" as /dev/sdb`,
      ]);
      // a partition conflicts with a domain holding its whole disk
      const p = plan(f, { path: "/dev/sdb1" }, block("/dev/sdb1", "sdb1", "sdb", { partition: 1 }), { attachments: [{ domain: "web1", source: "/dev/sdb" }] });
      assert.deepEqual(reasons(p), ['path "/dev/sdb1" (sdb1) is attached to libvirt domain "web1" as /dev/sdb (its whole disk)']);
    });

    it("checks device, bus, cache and io, naming field and value", () => {
      const f = withFreeDisk();
      const sdb = block("/dev/sdb", "sdb", "sdb", { byId: SDB_BY_ID });
      assert.deepEqual(reasons(plan(f, { path: "/dev/sdb", device: "lun" }, sdb)), ['device "lun" needs bus "scsi" (SCSI commands go through virtio-scsi), got bus "virtio"']);
      assert.deepEqual(reasons(plan(f, { path: "/dev/sdb", cache: "writeback" }, sdb)), [
        'io "native" needs cache "none" or "directsync" (O_DIRECT), got cache "writeback"; use io "io_uring" or "threads" with a host-cached mode',
      ]);
      assert.deepEqual(reasons(plan(f, { path: "/dev/sdb", cache: "fast", io: "aio", bus: "ide", device: "cdrom" } as unknown as BlockPassthroughRequest, sdb)), [
        'device "cdrom" is not accepted; expected one of "disk", "lun"',
        'bus "ide" is not accepted; expected one of "virtio", "scsi"',
        'cache "fast" is not accepted; expected one of "none", "directsync", "writethrough", "writeback", "unsafe"',
        'io "aio" is not accepted; expected one of "native", "io_uring", "threads"',
      ]);
      assert.deepEqual(reasons(plan(f, { path: "/dev/sdb1", device: "lun", bus: "scsi" }, block("/dev/sdb1", "sdb1", "sdb", { partition: 1 }))), [
        'path "/dev/sdb1" (sdb1): device "lun" needs a whole disk, not partition sdb1 of sdb',
      ]);
      const ok = plan(f, { path: "/dev/sdb", device: "lun", bus: "scsi", cache: "directsync", io: "native" }, sdb);
      assert.ok(ok.ok);
      assert.deepEqual([ok.plan.device, ok.plan.bus, ok.plan.cache, ok.plan.io, ok.plan.notes], ["lun", "scsi", "directsync", "native", []]);
    });
  });
});
