// The pure part of the test bed: options -> qemu topology and command line.
import { strict as assert } from "node:assert";
import { planVm, qemuArgs, DEFAULT_CPU_MODEL } from "../support/vm-plan";

const run = { image: { kernelPath: "/k", initrdPath: "/i" }, dir: "/d", port: 2222, serialLogPath: "/d/serial.log" };
const after = (args: string[], flag: string) => args.flatMap((a, i) => (a === flag ? [args[i + 1]] : []));

describe("test bed VM plan", function () {
  it("defaults to 4 vCPUs as 2 sockets x 2 threads in 2 NUMA nodes of 128 MiB", function () {
    const p = planVm({});
    assert.deepEqual([p.sockets, p.cores, p.threads, p.memoryMiB], [2, 1, 2, 256]);
    const a = qemuArgs(p, run);
    assert.deepEqual(after(a, "-smp"), ["4,sockets=2,cores=1,threads=2"]);
    assert.deepEqual(after(a, "-cpu"), [DEFAULT_CPU_MODEL]);
    assert.deepEqual(after(a, "-numa"), [
      "node,nodeid=0,cpus=0-1,memdev=m0",
      "node,nodeid=1,cpus=2-3,memdev=m1",
      "dist,src=0,dst=1,val=21",
    ]);
    assert.deepEqual(after(a, "-object"), ["memory-backend-ram,id=m0,size=128M", "memory-backend-ram,id=m1,size=128M"]);
    assert.deepEqual(after(a, "-device"), [
      "virtio-blk-pci,drive=d0,serial=kvmt-disk0",
      "virtio-blk-pci,drive=d1,serial=kvmt-disk1",
      "virtio-net-pci,netdev=n0,mac=52:54:00:6b:76:01,romfile=",
    ]);
    assert.deepEqual(after(a, "-netdev"), ["user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:2222-:22"]);
    assert.deepEqual(after(a, "-append"), ["console=ttyS0 panic=-1 quiet kvmtune.name=kvmt-vm"]);
  });

  it("builds one node without -numa, odd CPUs without SMT, and appends kernel args and extra qemu args", function () {
    const p = planVm({ name: "one", cpus: 3, numaNodes: 1, memoryMiB: 128, disks: { count: 1, sizeMiB: 8 } });
    assert.deepEqual(p.told, {
      cpus: 3,
      numa: [{ node: 0, cpus: [0, 1, 2], memoryMiB: 128 }],
      distances: [[10]],
      disks: [{ serial: "kvmt-disk0", sizeBytes: 8 * 1048576 }],
      nic: { mac: "52:54:00:6b:76:01", model: "virtio-net-pci" },
    });
    const a = qemuArgs(p, { ...run, kernelArgs: ["intel_iommu=on", "hugepagesz=2M"], extra: ["-device", "x"] });
    assert.deepEqual(after(a, "-numa"), []);
    assert.deepEqual(after(a, "-smp"), ["3,sockets=1,cores=3,threads=1"]);
    assert.deepEqual(after(a, "-append"), ["console=ttyS0 panic=-1 quiet kvmtune.name=one intel_iommu=on hugepagesz=2M"]);
    assert.deepEqual(a.slice(-2), ["-device", "x"]);
  });

  it("boots a whole host from its own disk (first virtio disk, boot index 0), with no -kernel/-append, and allows more memory only when asked", function () {
    const p = planVm({ name: "whole", memoryMiB: 8192, disks: { count: 1, sizeMiB: 64 }, allowReboot: true }, { maxMemoryMiB: 8192 });
    const a = qemuArgs(p, { bootDisk: { path: "/d/root.qcow2", format: "qcow2" }, dir: "/d", port: 2222, serialLogPath: "/d/serial.log" });
    assert.deepEqual(after(a, "-drive"), ["file=/d/root.qcow2,if=none,id=boot,format=qcow2", "file=/d/disk0.raw,if=none,id=d0,format=raw"]);
    assert.deepEqual(after(a, "-device").slice(0, 2), ["virtio-blk-pci,drive=boot,bootindex=0", "virtio-blk-pci,drive=d0,serial=kvmt-disk0"]);
    assert.deepEqual(after(a, "-object"), ["memory-backend-ram,id=m0,size=4096M", "memory-backend-ram,id=m1,size=4096M"]);
    assert.deepEqual([a.includes("-kernel"), a.includes("-append"), a.includes("-no-reboot")], [false, false, false]);
    assert.throws(() => planVm({ memoryMiB: 8192 }), /memoryMiB 8192 must be <= 256/);
    assert.throws(() => qemuArgs(p, { ...run, bootDisk: { path: "/x", format: "raw" } }), /exactly one of image \(kernel boot\) and bootDisk/);
  });

  it("opens chosen disks through blkdebug and puts an HMP monitor on a socket, only when asked", function () {
    const p = planVm({ disks: { count: 3, blkdebug: [2, 1] } });
    const a = qemuArgs(p, { ...run, monitorPath: "/d/monitor.sock" });
    assert.deepEqual(after(a, "-drive"), ["file=/d/disk0.raw,if=none,id=d0,format=raw", "file=blkdebug::/d/disk1.raw,if=none,id=d1,format=raw", "file=blkdebug::/d/disk2.raw,if=none,id=d2,format=raw"]);
    assert.deepEqual(after(a, "-monitor"), ["unix:/d/monitor.sock,server=on,wait=off"]);
    assert.deepEqual(after(qemuArgs(planVm({}), run), "-monitor"), ["none"]);
    assert.throws(() => planVm({ disks: { count: 2, blkdebug: [2] } }), /disks.blkdebug \[2\] must be disk indexes 0..1/);
  });

  it("rejects every bad option at once", function () {
    assert.throws(
      () => planVm({ name: "Bad Name", cpus: 3, numaNodes: 2, memoryMiB: 1024, disks: { count: 9 } }),
      (e: Error) =>
        /name "Bad Name"/.test(e.message) && /cpus 3/.test(e.message) && /memoryMiB 1024/.test(e.message) &&
        /disks.count 9/.test(e.message),
    );
  });
});
