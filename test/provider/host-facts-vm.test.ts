// FACTS_SCRIPT over real SSH on the real-kernel test VM (Debian cloud kernel,
// busybox sh, emulated NUMA): the facts must match what qemu was told.
import { strict as assert } from "node:assert";
import { FACTS_SCRIPT } from "../../provider/host/facts-script";
import { parseHostFacts, type HostFacts } from "../../provider/host/facts";
import { sharedTestVm } from "../support/shared-vm";
import type { TestVm, TestVmUser } from "../support/vm";

describe("host facts on the real-kernel test VM", function () {
  this.timeout(180_000);
  let vm: TestVm;
  let facts: HostFacts;

  async function readAs(user: TestVmUser): Promise<HostFacts> {
    const r = await vm.ssh("sh -s", user, { input: FACTS_SCRIPT });
    assert.equal(r.code, 0, `${user}: ${r.stderr}`);
    return parseHostFacts(r.stdout);
  }

  before(async function () {
    vm = await sharedTestVm();
    facts = await readAs("root");
  });

  it("sees the kernel, CPUs, sockets and thread siblings qemu was told", function () {
    assert.equal(facts.kernel.release, vm.kernelRelease);
    assert.equal(facts.hostname, vm.name);
    assert.equal(facts.uid, 0);
    assert.equal(facts.cpu.count, vm.told.cpus);
    assert.deepEqual(facts.cpu.online, vm.told.numa.flatMap((n) => n.cpus));
    for (const n of vm.told.numa) {
      for (const id of n.cpus) {
        const c = facts.cpus[id];
        assert.equal(c.node, n.node, `cpu${id} node`);
        assert.equal(c.socketId, n.node, `cpu${id} socket (one socket per node)`);
        assert.deepEqual(c.threadSiblings, n.cpus.length % 2 === 0 ? n.cpus.filter((x) => Math.floor(x / 2) === Math.floor(id / 2)) : [id]);
      }
    }
  });

  it("sees the NUMA nodes, their memory and the distance matrix", function () {
    assert.equal(facts.numaFromSysfs, true);
    assert.deepEqual(facts.numaNodes.map((n) => [n.id, n.cpus]), vm.told.numa.map((n) => [n.node, n.cpus]));
    for (const n of facts.numaNodes) {
      assert.deepEqual(n.distances.map((d) => d.distance), vm.told.distances[n.id]);
      const toldKiB = vm.told.numa[n.id].memoryMiB * 1024;
      assert.ok(n.memTotalKiB !== null && n.memTotalKiB > toldKiB / 2 && n.memTotalKiB <= toldKiB, `node${n.id} MemTotal ${n.memTotalKiB}`);
    }
  });

  it("sees 2M and 1G hugepage pools per node, the default size, and THP", function () {
    assert.deepEqual(facts.memory.hugepages.map((p) => p.sizeKiB), [2048, 1048576]);
    for (const n of facts.numaNodes) assert.deepEqual(n.hugepages.map((p) => p.sizeKiB), [2048, 1048576]);
    assert.equal(facts.memory.defaultHugepageSizeKiB, 2048);
    assert.equal(facts.cpu.flags.pdpe1gb, true);
    assert.ok(facts.memory.thp?.enabled.active);
    assert.ok(facts.memory.thp?.defrag.offered.includes("madvise"));
  });

  it("sees the virtio disks with their serials, sizes, schedulers and PCI functions", function () {
    for (const d of vm.told.disks) {
      const dev = facts.blockDevices.find((b) => b.serial === d.serial);
      assert.ok(dev, `disk ${d.serial}`);
      assert.equal(dev.sizeBytes, d.sizeBytes);
      assert.equal(dev.virtual, false);
      assert.ok(dev.scheduler !== null && dev.schedulers.includes(dev.scheduler));
      assert.match(dev.pciAddress ?? "", /^0000:/);
      assert.ok(facts.pciDevices.some((p) => p.address === dev.pciAddress && p.vendorId === "1af4"));
    }
  });

  it("finds the NIC by MAC, its driver and PCI function, and that it carries the SSH session", function () {
    const nic = facts.network.nics.find((n) => n.mac === vm.told.nic.mac);
    assert.ok(nic);
    assert.equal(nic.driver, "virtio_net");
    assert.match(nic.pciAddress ?? "", /^0000:/);
    assert.equal(facts.network.addressesKnown, true);
    assert.equal(nic.ipv4.length > 0, true);
    assert.equal(facts.network.ssh?.interface, nic.name);
    // The kernel's default; VhostNetwork's arp_filter advice reads it.
    assert.equal(facts.network.arpFilter, false);
  });

  it("sees the image's update-grub stand-in and its grub.cfg, and no BLS entries", function () {
    assert.deepEqual(facts.bootloader, { tools: ["update-grub"], grubConfigs: ["/boot/grub/grub.cfg"], blsEntries: [] });
  });

  it("reads the same topology as an unprivileged user (kvmt) and through login noise (noisy, uid 0)", async function () {
    for (const [user, uid] of [["kvmt", "non-root"], ["noisy", 0]] as const) {
      const f = await readAs(user);
      if (uid === 0) assert.equal(f.uid, 0, user);
      else assert.ok(f.uid !== null && f.uid !== 0, `${user} uid ${f.uid}`);
      assert.deepStrictEqual(f.cpus, facts.cpus, user);
      assert.deepStrictEqual(f.numaNodes.map((n) => n.cpus), facts.numaNodes.map((n) => n.cpus), user);
      assert.deepStrictEqual(f.blockDevices.map((b) => [b.name, b.sizeBytes]), facts.blockDevices.map((b) => [b.name, b.sizeBytes]), user);
    }
  });
});
