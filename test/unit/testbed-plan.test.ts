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

  it("rejects every bad option at once", function () {
    assert.throws(
      () => planVm({ name: "Bad Name", cpus: 3, numaNodes: 2, memoryMiB: 1024, disks: { count: 9 } }),
      (e: Error) =>
        /name "Bad Name"/.test(e.message) && /cpus 3/.test(e.message) && /memoryMiB 1024/.test(e.message) &&
        /disks.count 9/.test(e.message),
    );
  });
});
