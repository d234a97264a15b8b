// diffOwnedParts / describeDiff: exact paths, semantic equality (cpusets, units,
// attribute order, libvirt's defaults), and the captured libvirt dumps agreeing
// with the inputs they were defined from.
import { strict as assert } from "node:assert";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  cpusetEquals, describeDiff, diffOwnedParts, normalizeCpuset, parseDomainXml, parseLibvirtCpuset,
  readOwnedParts, sizeInBytes, type OwnedParts, type PartDiff,
} from "../../provider/libvirt";

const read = (xml: string) => readOwnedParts(parseDomainXml(xml));
const lines = (d: PartDiff[]) => d.map(describeDiff);

const ACTUAL = `<domain type='kvm'>
  <name>db1</name>
  <memory unit='KiB'>4194304</memory>
  <currentMemory unit='KiB'>4194304</currentMemory>
  <memoryBacking>
    <hugepages>
      <page size='1048576' unit='KiB' nodeset='0-1'/>
    </hugepages>
  </memoryBacking>
  <vcpu placement='static'>4</vcpu>
  <cputune>
    <vcpupin vcpu='0' cpuset='0,1,2,3'/>
    <vcpupin vcpu='1' cpuset='0-7,^3'/>
    <vcpupin vcpu='2' cpuset='6'/>
    <vcpupin vcpu='3' cpuset='7'/>
    <emulatorpin cpuset='8-9'/>
  </cputune>
  <numatune>
    <memory mode='strict' nodeset='0-1'/>
    <memnode cellid='0' mode='strict' nodeset='0'/>
  </numatune>
  <os>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
  </os>
  <cpu mode='host-passthrough' check='none' migratable='on'>
    <topology sockets='1' dies='1' cores='2' threads='2'/>
    <numa>
      <cell id='0' cpus='0-1' memory='2097152' unit='KiB'/>
      <cell id='1' cpus='2-3' memory='2097152' unit='KiB'/>
    </numa>
  </cpu>
  <devices>
    <disk type='block' device='disk'>
      <driver name='qemu' type='raw' cache='writeback' io='native'/>
      <source dev='/dev/sdb'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
    <interface type='bridge'>
      <mac address='52:54:00:aa:bb:cc'/>
      <source bridge='br0'/>
      <model type='virtio'/>
      <driver name='vhost' queues='4'/>
      <mtu size='9000'/>
    </interface>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <source>
        <address domain='0x0000' bus='0x5e' slot='0x00' function='0x1'/>
      </source>
    </hostdev>
  </devices>
</domain>
`;

/** What a planner would ask for to get exactly ACTUAL, in other spellings. */
const DESIRED: Partial<OwnedParts> = {
  memory: { value: 4, unit: "GiB" },
  memoryBacking: { hugepages: [{ size: 1, unit: "G", nodeset: "0,1" }], locked: false },
  vcpu: { count: 4 },
  cputune: {
    vcpupin: [{ vcpu: 3, cpuset: "7" }, { vcpu: 2, cpuset: "6-6" }, { vcpu: 1, cpuset: "0-2,4-7" }, { vcpu: 0, cpuset: "0-3" }],
    emulatorpin: { cpuset: "8,9" },
  },
  numatune: { memory: { nodeset: "0,1" }, memnode: [{ cellid: 0, mode: "strict", nodeset: "0" }] },
  os: { machine: "q35" },
  cpu: {
    mode: "host-passthrough",
    topology: { sockets: 1, cores: 2, threads: 2 },
    numa: [{ id: 1, cpus: "2,3", memory: 2, unit: "GiB" }, { id: 0, cpus: "0-1", memory: 2048, unit: "MiB" }],
  },
  disks: { vdb: { driver: { cache: "writeback", io: "native" } } },
  interfaces: { "52:54:00:AA:BB:CC": { type: "bridge", model: "virtio", driver: { queues: 4 }, source: { attributes: { bridge: "br0" } } } },
  hostdevs: { "0000:5e:00.1": { managed: true } },
};

describe("diffOwnedParts", () => {
  const actual = read(ACTUAL);

  it("finds nothing when desired and actual mean the same (cpusets, units, defaults, key case, machine alias)", () => {
    assert.deepEqual(lines(diffOwnedParts(DESIRED, actual)), []);
  });

  it("names each difference with a stable path, from and to", () => {
    const d = diffOwnedParts({
      cputune: { vcpupin: [{ vcpu: 0, cpuset: "0-3" }, { vcpu: 1, cpuset: "0-7,^3" }, { vcpu: 2, cpuset: "6" }, { vcpu: 3, cpuset: "2" }] },
      numatune: { memory: { mode: "preferred" } },
      cpu: { topology: { sockets: 1, cores: 4, threads: 1 } },
      interfaces: { "52:54:00:aa:bb:cc": { driver: { queues: 8 } } },
      disks: { vdb: { driver: { cache: "none" } } },
    }, actual);
    assert.deepEqual(d, [
      { path: "cputune.vcpupin[3]", from: "7", to: "2" },
      { path: "numatune.memory.mode", from: "strict", to: "preferred" },
      { path: "cpu.topology.cores", from: 2, to: 4 },
      { path: "cpu.topology.threads", from: 2, to: 1 },
      { path: "devices.disk[vdb].driver.cache", from: "writeback", to: "none" },
      { path: "devices.interface[52:54:00:aa:bb:cc].driver.queues", from: 4, to: 8 },
    ]);
    assert.deepEqual(lines(d), [
      "cputune.vcpupin[3]: 7 → 2",
      "numatune.memory.mode: strict → preferred",
      "cpu.topology.cores: 2 → 4",
      "cpu.topology.threads: 2 → 1",
      "devices.disk[vdb].driver.cache: writeback → none",
      "devices.interface[52:54:00:aa:bb:cc].driver.queues: 4 → 8",
    ]);
  });

  it("a desired list is the whole set: missing pins, memnodes and cells are differences", () => {
    const d = diffOwnedParts({
      cputune: { vcpupin: [{ vcpu: 0, cpuset: "0-3" }, { vcpu: 1, cpuset: "0-2,4-7" }, { vcpu: 4, cpuset: "1" }] },
      numatune: { memnode: [{ cellid: 1, mode: "strict", nodeset: "1" }] },
      cpu: { numa: [{ id: 0, cpus: "0-1", memory: 2097152 }] },
      memoryBacking: { hugepages: [{ size: 2048, nodeset: "0-1" }] },
    }, actual);
    assert.deepEqual(lines(d), [
      "cputune.vcpupin[2]: 6 → (absent)",
      "cputune.vcpupin[3]: 7 → (absent)",
      "cputune.vcpupin[4]: (absent) → 1",
      "numatune.memnode[0]: strict 0 → (absent)",
      "numatune.memnode[1]: (absent) → strict 1",
      "memoryBacking.hugepages.page[0-1]: 1048576 KiB → 2048 KiB",
      "cpu.numa.cell[1]: cpus 2-3, 2097152 KiB → (absent)",
    ]);
  });

  it("null means absent: owned parts and devices to remove", () => {
    const d = diffOwnedParts({
      cputune: null,
      numatune: { memory: null },
      interfaces: { "52:54:00:aa:bb:cc": null, "52:54:00:00:00:01": null },
      hostdevs: { "0000:5e:00.1": null },
      osinfo: null,
      vcpu: { count: 4, cpuset: null, current: null },
    }, actual);
    assert.deepEqual(lines(d), [
      "cputune.vcpupin[0]: 0,1,2,3 → (absent)",
      "cputune.vcpupin[1]: 0-7,^3 → (absent)",
      "cputune.vcpupin[2]: 6 → (absent)",
      "cputune.vcpupin[3]: 7 → (absent)",
      "cputune.emulatorpin: 8-9 → (absent)",
      "numatune.memory.nodeset: 0-1 → (absent)",
      "devices.interface[52:54:00:aa:bb:cc]: bridge bridge=br0 virtio → (absent)",
      "devices.hostdev[0000:5e:00.1]: pci → (absent)",
    ]);
  });

  it("ignores libvirt's defaults only while the desired side leaves them out", () => {
    const bare = read("<domain><vcpu>4</vcpu><numatune><memory nodeset='0'/></numatune><cpu><topology sockets='1' cores='2' threads='1'/></cpu><memory>1048576</memory></domain>");
    const dumped = read("<domain><memory unit='KiB'>1048576</memory><currentMemory unit='KiB'>1048576</currentMemory><vcpu placement='static'>4</vcpu><numatune><memory mode='strict' nodeset='0'/></numatune><cpu mode='custom' match='exact' check='partial'><topology sockets='1' dies='1' cores='2' threads='1'/></cpu></domain>");
    const asked: Partial<OwnedParts> = {
      vcpu: { count: 4 }, numatune: { memory: { nodeset: "0" } }, cpu: { topology: { sockets: 1, cores: 2, threads: 1 } },
      memory: { value: 1073741824, unit: "bytes" }, currentMemory: null,
    };
    assert.deepEqual(lines(diffOwnedParts(asked, dumped)), []);
    assert.deepEqual(lines(diffOwnedParts(asked, bare)), []);
    const explicit: Partial<OwnedParts> = {
      vcpu: { count: 4, placement: "static", current: 4 },
      numatune: { memory: { mode: "strict", placement: "static" } },
      cpu: { mode: "custom", match: "exact", check: "partial", topology: { sockets: 1, dies: 1, cores: 2, threads: 1 } },
      memory: { value: 1, unit: "G" },
      currentMemory: { value: 1024, unit: "M" },
    };
    assert.deepEqual(lines(diffOwnedParts(explicit, dumped)), []);
    assert.deepEqual(lines(diffOwnedParts(explicit, bare)), []);
    assert.deepEqual(lines(diffOwnedParts({
      vcpu: { count: 4, placement: "auto" }, cpu: { check: "full" }, numatune: { memory: { mode: "interleave" } }, currentMemory: { value: 512, unit: "MiB" },
    }, dumped)), [
      "currentMemory: 1048576 KiB → 512 MiB",
      "vcpu.placement: static → auto",
      "numatune.memory.mode: strict → interleave",
      "cpu.check: partial → full",
    ]);
  });

  it("does not care about attribute order or quoting", () => {
    const a = read("<domain><cputune><vcpupin vcpu='0' cpuset='1'/></cputune><cpu mode='host-model' check='partial'><topology sockets='1' dies='1' cores='2' threads='1'/></cpu></domain>");
    const b = read('<domain><cputune><vcpupin cpuset="1" vcpu="0"/></cputune><cpu check="partial" mode="host-model"><topology threads="1" cores="2" dies="1" sockets="1"/></cpu></domain>');
    assert.deepEqual(a, b);
    assert.deepEqual(diffOwnedParts(a as Partial<OwnedParts>, b), []);
  });

  it("reports devices that are missing, present, or changed", () => {
    const d = diffOwnedParts({
      disks: { vdc: { driver: { cache: "none" } } },
      interfaces: {
        "52:54:00:00:00:02": { type: "network", source: { attributes: { network: "default" } }, model: "virtio" },
        "52:54:00:aa:bb:cc": { type: "network", source: { attributes: { network: "default" } }, mtu: null, driver: { name: "vhost", rx_queue_size: 1024 } },
      },
      hostdevs: { "0000:5e:00.1": { managed: false }, "0000:3b:00.0": { managed: true } },
    }, actual);
    assert.deepEqual(lines(d), [
      "devices.disk[vdc]: (absent) → cache=none",
      "devices.interface[52:54:00:00:00:02]: (absent) → network network=default virtio",
      "devices.interface[52:54:00:aa:bb:cc].type: bridge → network",
      "devices.interface[52:54:00:aa:bb:cc].source: bridge=br0 → network=default",
      "devices.interface[52:54:00:aa:bb:cc].driver.rx_queue_size: (absent) → 1024",
      "devices.interface[52:54:00:aa:bb:cc].mtu: 9000 → (absent)",
      "devices.hostdev[0000:3b:00.0]: (absent) → pci",
      "devices.hostdev[0000:5e:00.1].managed: true → false",
    ]);
  });

  it("compares os and libosinfo metadata", () => {
    const osinfo = read(`<domain><metadata><l:libosinfo xmlns:l="http://libosinfo.org/xmlns/libvirt/domain/1.0"><l:os id="http://debian.org/debian/12"/></l:libosinfo></metadata><os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type></os></domain>`);
    assert.equal(osinfo.osinfo, "http://debian.org/debian/12");
    assert.deepEqual(lines(diffOwnedParts({ osinfo: "http://debian.org/debian/12", os: { type: "hvm", arch: "x86_64", machine: "pc" } }, osinfo)), []);
    assert.deepEqual(lines(diffOwnedParts({ osinfo: "http://debian.org/debian/13", os: { machine: "q35" } }, osinfo)), [
      "os.machine: pc-i440fx-7.2 → q35",
      "osinfo: http://debian.org/debian/12 → http://debian.org/debian/13",
    ]);
  });
});

describe("captured libvirt dumps agree with the XML they were defined from", () => {
  const dir = join(__dirname, "../fixtures/domains");
  const inputs = readdirSync(dir).filter((f) => f.endsWith(".input.xml")).sort();
  it("has the captured corpus to compare", () => assert.ok(inputs.length >= 16, `only ${inputs.length} captured inputs`));
  for (const input of inputs) {
    const name = input.slice(0, -".input.xml".length);
    for (const kind of ["inactive", "live"]) {
      const dumped = join(dir, `${name}.${kind}.xml`);
      // Domains that cannot start here have no live dump; every one has an inactive dump.
      if (kind === "live" && !existsSync(dumped)) continue;
      it(`${name}: ${kind} dump is in sync with the input's parts`, () => {
        // What the input does not say is not asked for (null in a read means absent, which a desired part would demand).
        const asked = Object.fromEntries(Object.entries(read(readFileSync(join(dir, input), "utf8"))).filter(([, v]) => v !== null));
        assert.deepEqual(lines(diffOwnedParts(asked, read(readFileSync(dumped, "utf8")))), []);
      });
    }
  }
});

describe("drift in a captured live dump", () => {
  it("names the vCPU someone repinned with `virsh vcpupin --live 0 1`", function () {
    const dir = join(__dirname, "../fixtures/domains");
    const asked = Object.fromEntries(Object.entries(read(readFileSync(join(dir, "pinned.input.xml"), "utf8"))).filter(([, v]) => v !== null));
    assert.deepEqual(lines(diffOwnedParts(asked, read(readFileSync(join(dir, "pinned.live-repinned.xml"), "utf8")))), ["cputune.vcpupin[0]: 1 → 0"]);
  });
});

describe("libvirt cpusets and sizes", () => {
  it("expands ranges and ^ exclusions left to right, like virBitmapParse", () => {
    assert.deepEqual(parseLibvirtCpuset("0-7,^3"), [0, 1, 2, 4, 5, 6, 7]);
    assert.deepEqual(parseLibvirtCpuset("^3,0-7"), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(parseLibvirtCpuset("8,0-2,2"), [0, 1, 2, 8]);
    assert.equal(normalizeCpuset("0,1,2,3,^2,10"), "0-1,3,10");
    assert.ok(cpusetEquals("0-3", "0,1,2,3"));
    assert.ok(cpusetEquals("0-7,^3", "0-2,4-7"));
    assert.ok(!cpusetEquals("0-7,^3", "0-7"));
    for (const bad of ["", "0-", "a", "1 ,2", "^1-2", "3-1", "0,,1"]) assert.throws(() => parseLibvirtCpuset(bad), /invalid/, bad);
  });

  it("scales units the way libvirt does (k = KiB, KB = 1000)", () => {
    assert.equal(sizeInBytes(1, "k"), 1024n);
    assert.equal(sizeInBytes(1, "KB"), 1000n);
    assert.equal(sizeInBytes(1, "KiB"), 1024n);
    assert.equal(sizeInBytes(2, "M"), 2n * 1024n ** 2n);
    assert.equal(sizeInBytes(1, "GB"), 1000n ** 3n);
    assert.equal(sizeInBytes(1, "EiB"), 1024n ** 6n);
    assert.equal(sizeInBytes(7, "bytes"), 7n);
    assert.equal(sizeInBytes(3), 3072n);
    assert.throws(() => sizeInBytes(1, "KiBs"), /invalid unit/);
  });
});
