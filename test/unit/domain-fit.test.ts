// Domain XML libvirt always accepts: cells memory devices and <maxMemory> need, real
// iothread ids, restoring every attribute an apply changed, and no needless define for
// queues='1'. Each XML case is checked by libvirt itself (virsh's test driver; kvmtune
// quotes the qemu driver, whose words differ in places: test/provider/libvirt-domain-fit.test.ts).
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { applyOwnedParts, diffOwnedParts, parseDomainXml, readOwnedParts, renderDomainXml, type OwnedParts } from "../../provider/libvirt";
import { fitParts, readDomainFacts } from "../../provider/libvirt/domain-fit";
import { domainProblems, projectParts } from "../../provider/libvirt/virsh-plan";
import { libvirtRedump } from "./domain-tools.test";

const UUID = "6b766d74-0000-4000-8000-000000000001";
const MINIMAL = readFileSync(join(__dirname, "../fixtures/domains/minimal.inactive.xml"), "utf8");
const CPU = "<cpu mode='custom' match='exact' check='none'>\n    <model fallback='forbid'>qemu64</model>\n  </cpu>";
/** minimal.inactive with `vcpu` and `cpu` replaced and `devices` added. */
function domain(opts: { vcpu?: string; cpu?: string; head?: string; devices?: string }): string {
  let xml = MINIMAL.replace("<vcpu placement='static'>1</vcpu>", opts.vcpu ?? "<vcpu placement='static'>2</vcpu>");
  if (opts.cpu !== undefined) xml = xml.replace(CPU, opts.cpu);
  if (opts.head) xml = xml.replace("<memory unit='KiB'>65536</memory>", `${opts.head}\n  <memory unit='KiB'>65536</memory>`);
  if (opts.devices) xml = xml.replace("<memballoon model='none'/>", `<memballoon model='none'/>\n    ${opts.devices}`);
  return xml;
}
const apply = (xml: string, parts: Partial<OwnedParts>) => {
  const doc = parseDomainXml(xml);
  applyOwnedParts(doc, parts);
  return renderDomainXml(doc);
};
const partsOf = (xml: string) => readOwnedParts(parseDomainXml(xml));
const problemsOf = (xml: string, parts: Partial<OwnedParts>) => {
  const doc = parseDomainXml(xml);
  applyOwnedParts(doc, parts);
  return domainProblems(parts, readOwnedParts(doc), null, "parts", readDomainFacts(doc));
};

// A one-node plan's cpu part (planToDomainParts), on 2 vCPUs.
const ONE_NODE: Partial<OwnedParts> = { vcpu: { count: 2, placement: "static", cpuset: null, current: null }, cpu: { mode: "custom", topology: { sockets: 1, cores: 2, threads: 1 }, numa: null } };

describe("domain fit: NUMA cells the domain needs", () => {
  const DIMM = "<memory model='dimm'>\n      <target>\n        <size unit='KiB'>32768</size>\n        <node>0</node>\n      </target>\n    </memory>";
  const withDimm = domain({
    head: "<maxMemory slots='2' unit='KiB'>262144</maxMemory>",
    cpu: "<cpu mode='custom' match='exact' check='none'>\n    <model fallback='forbid'>qemu64</model>\n    <numa>\n      <cell id='0' cpus='0' memory='32768' unit='KiB' discard='yes'/>\n      <cell id='1' cpus='1' memory='0' unit='KiB'/>\n    </numa>\n  </cpu>",
    devices: DIMM,
  });

  it("keeps one cell 0 with every vCPU and the memory not on devices, and its discard='yes'; libvirt accepts it", () => {
    assert.deepEqual(readDomainFacts(parseDomainXml(withDimm)), { memoryDevices: [{ model: "dimm", sizeKiB: 32768, node: 0 }], maxMemory: true, iothreadIds: null });
    const fit = fitParts(ONE_NODE, parseDomainXml(withDimm));
    assert.deepEqual(fit.cpu?.numa, [{ id: 0, cpus: "0-1", memory: 32768, unit: "KiB" }]);
    const xml = apply(withDimm, fit);
    assert.match(xml, /<numa>\s*<cell id='0' cpus='0-1' memory='32768' unit='KiB' discard='yes'\/>\s*<\/numa>/);
    assert.deepEqual(problemsOf(withDimm, fit), []);
    const dumped = libvirtRedump(xml, UUID);
    assert.match(dumped, /<cell id='0' cpus='0-1' memory='32768' unit='KiB' discard='yes'\/>/);
    assert.deepEqual(diffOwnedParts(fit, partsOf(dumped)), []);
  });

  it("without the fit, names libvirt's refusal before define (and libvirt does refuse it)", () => {
    const xml = apply(withDimm, ONE_NODE);
    // The test driver's words; the qemu driver's (quoted) are "At least one numa node has to be configured ...".
    assert.throws(() => libvirtRedump(xml, UUID), /can't add memory backend as guest has no NUMA nodes configured/);
    assert.deepEqual(problemsOf(withDimm, ONE_NODE), [
      `parts.cpu.numa: the domain has memory devices (dimm) and libvirt needs a guest NUMA cell for them ("At least one numa node has to be configured when enabling memory hotplug"); keep at least one cell`,
    ]);
  });

  it("<maxMemory> without memory devices keeps cell 0 too, and names `numa: []` before define", () => {
    const hotplug = domain({ head: "<maxMemory slots='2' unit='KiB'>262144</maxMemory>", cpu: "<cpu mode='custom' match='exact' check='none'>\n    <model fallback='forbid'>qemu64</model>\n    <numa>\n      <cell id='0' cpus='0' memory='32768' unit='KiB'/>\n      <cell id='1' cpus='1' memory='32768' unit='KiB'/>\n    </numa>\n  </cpu>" });
    assert.deepEqual(readDomainFacts(parseDomainXml(hotplug)), { memoryDevices: [], maxMemory: true, iothreadIds: null });
    const fit = fitParts(ONE_NODE, parseDomainXml(hotplug));
    assert.deepEqual(fit.cpu?.numa, [{ id: 0, cpus: "0-1", memory: 65536, unit: "KiB" }]);
    assert.deepEqual(problemsOf(hotplug, fit), []);
    assert.match(libvirtRedump(apply(hotplug, fit), UUID), /<maxMemory slots='2' unit='KiB'>262144<\/maxMemory>\n {2}<memory unit='KiB'>65536<\/memory>[\s\S]*<numa>\n {6}<cell id='0' cpus='0-1' memory='65536' unit='KiB'\/>\n {4}<\/numa>/);
    // Without <maxMemory> the plain cells go, as before.
    assert.equal(fitParts(ONE_NODE, parseDomainXml(hotplug.replace(/<maxMemory[^\n]*\n\s*/, ""))), ONE_NODE);
    assert.deepEqual(problemsOf(hotplug, { ...ONE_NODE, cpu: { ...ONE_NODE.cpu, numa: [] } }), [
      `parts.cpu.numa: the domain has <maxMemory> (memory hotplug) and libvirt needs a guest NUMA cell for it ("At least one numa node has to be configured when enabling memory hotplug"); keep at least one cell`,
    ]);
  });

  describe("a DIMM on guest node 1", () => {
    const onNode1 = withDimm.replace("<node>0</node>", "<node>1</node>");

    it("keeps cell 1 as the DIMM's home (no vCPUs, 1 MiB), cell 0 with every vCPU and the rest; libvirt accepts it", () => {
      assert.deepEqual(readDomainFacts(parseDomainXml(onNode1)).memoryDevices, [{ model: "dimm", sizeKiB: 32768, node: 1 }]);
      const fit = fitParts(ONE_NODE, parseDomainXml(onNode1));
      assert.deepEqual(fit.cpu?.numa, [{ id: 0, cpus: "0-1", memory: 31744, unit: "KiB" }, { id: 1, cpus: null, memory: 1024, unit: "KiB" }]);
      assert.deepEqual(problemsOf(onNode1, fit), []);
      const dumped = libvirtRedump(apply(onNode1, fit), UUID);
      assert.match(dumped, /<memory unit='KiB'>65536<\/memory>/);
      assert.match(dumped, /<numa>\n {6}<cell id='0' cpus='0-1' memory='31744' unit='KiB' discard='yes'\/>\n {6}<cell id='1' memory='1024' unit='KiB'\/>\n {4}<\/numa>/);
      assert.deepEqual(diffOwnedParts(fit, partsOf(dumped)), []);
      assert.deepEqual(fitParts(ONE_NODE, parseDomainXml(dumped)), fit, "fitting the result again gives the same cells");
    });

    it("a hugepage-backed home takes a whole page (QEMU: \"memory size 0x100000 must be equal to or larger than page size 0x200000\")", () => {
      const page = (hugepages: Partial<OwnedParts>["memoryBacking"]) => fitParts({ ...ONE_NODE, memoryBacking: hugepages }, parseDomainXml(onNode1)).cpu?.numa;
      assert.deepEqual(page({ hugepages: [{ size: 2048, unit: "KiB" }] }), [{ id: 0, cpus: "0-1", memory: 30720, unit: "KiB" }, { id: 1, cpus: null, memory: 2048, unit: "KiB" }]);
      assert.deepEqual(page({ hugepages: [{ size: 2, unit: "M", nodeset: "1" }, { size: 1024, unit: "KiB" }] })?.[1], { id: 1, cpus: null, memory: 2048, unit: "KiB" });
      assert.deepEqual(page({ hugepages: [{ size: 2048, unit: "KiB", nodeset: "0" }] })?.[1], { id: 1, cpus: null, memory: 1024, unit: "KiB" });
      assert.deepEqual(page({ hugepages: [] })?.[1], { id: 1, cpus: null, memory: 2048, unit: "KiB" }, "the host's default size: 2 MiB on x86");
      // Hugepages not owned by the parts: the domain's.
      const backed = onNode1.replace("<vcpu placement='static'>2</vcpu>", "<vcpu placement='static'>2</vcpu>\n  <memoryBacking>\n    <hugepages>\n      <page size='2048' unit='KiB'/>\n    </hugepages>\n  </memoryBacking>");
      assert.deepEqual(fitParts(ONE_NODE, parseDomainXml(backed)).cpu?.numa?.[1], { id: 1, cpus: null, memory: 2048, unit: "KiB" });
    });

    it("given cells that lack node 1, names the device and node before define (and libvirt does refuse it)", () => {
      const parts: Partial<OwnedParts> = { ...ONE_NODE, cpu: { ...ONE_NODE.cpu, numa: [{ id: 0, cpus: "0-1", memory: 32, unit: "MiB" }] } };
      assert.throws(() => libvirtRedump(apply(onNode1, parts), UUID), /can't add memory backend for guest node '1' as the guest has only '1' NUMA nodes configured/);
      assert.deepEqual(problemsOf(onNode1, parts), [
        `parts.cpu.numa: devices.memory[0] (dimm) is on guest node 1, but the domain has 1 guest NUMA cell; keep cells 0-1 (libvirt: "can't add memory backend for guest node '1' as the guest has only '1' NUMA nodes configured")`,
      ]);
    });
  });

  it("keeps a cell with unowned attributes without memory devices, and removes plain cells", () => {
    const discard = domain({ cpu: "<cpu mode='custom' match='exact' check='none'>\n    <model fallback='forbid'>qemu64</model>\n    <numa>\n      <cell id='0' cpus='0-1' memory='65536' unit='KiB' discard='yes'/>\n    </numa>\n  </cpu>" });
    assert.deepEqual(fitParts(ONE_NODE, parseDomainXml(discard)).cpu?.numa, [{ id: 0, cpus: "0-1", memory: 65536, unit: "KiB" }]);
    assert.match(libvirtRedump(apply(discard, fitParts(ONE_NODE, parseDomainXml(discard))), UUID), /discard='yes'/);
    const plain = discard.replace(" discard='yes'", "");
    assert.equal(fitParts(ONE_NODE, parseDomainXml(plain)), ONE_NODE);
  });

  it("names cells beyond the vCPUs and memnodes without a cell", () => {
    const parts: Partial<OwnedParts> = { cpu: { numa: [{ id: 0, cpus: "0-3", memory: 64, unit: "MiB" }] }, numatune: { memory: { mode: "strict", nodeset: "0" }, memnode: [{ cellid: 1, mode: "strict", nodeset: "0" }] } };
    assert.deepEqual(problemsOf(domain({}), parts), [
      `parts.cpu.numa[0]: vCPU 2, 3 are beyond the domain's 2 vCPUs (libvirt: "Number of CPUs in <numa> exceeds the <vcpu> count")`,
      "parts.numatune.memnode[1]: the domain has no guest NUMA cell 1 (cells 0)",
    ]);
    assert.throws(() => libvirtRedump(apply(domain({}), parts), UUID), /Number of CPUs in <numa> exceeds the <vcpu> count/);
  });

  it("names a topology that does not multiply to the vCPU count (an unowned dies='2' kept)", () => {
    const xml = domain({ cpu: "<cpu mode='custom' match='exact' check='none'>\n    <model fallback='forbid'>qemu64</model>\n    <topology sockets='1' dies='2' cores='1' threads='1'/>\n  </cpu>" });
    assert.deepEqual(problemsOf(xml, { cpu: { topology: { sockets: 1, cores: 2, threads: 1 } } }), [
      `parts.cpu.topology: sockets 1 × dies 2 × cores 2 × threads 1 = 4 CPUs, but the domain has 2 vCPUs (libvirt: "CPU topology doesn't match maximum vcpu count")`,
    ]);
  });
});

describe("domain fit: iothread ids", () => {
  const ids = domain({ vcpu: "<vcpu placement='static'>2</vcpu>\n  <iothreads>2</iothreads>\n  <iothreadids>\n    <iothread id='2'/>\n    <iothread id='4'/>\n  </iothreadids>" });

  it("refuses pins to iothread ids the domain's <iothreadids> do not give, as libvirt does", () => {
    const parts: Partial<OwnedParts> = { iothreads: { count: 2 }, cputune: { iothreadpin: [{ iothread: 1, cpuset: "0" }, { iothread: 2, cpuset: "0" }] } };
    assert.deepEqual(problemsOf(ids, parts), [
      `parts.cputune.iothreadpin[0]: iothread 1 does not exist; the domain's <iothreadids> give iothread ids 2, 4 (libvirt: "Cannot find 'iothread' : 1")`,
    ]);
    assert.throws(() => libvirtRedump(apply(ids, parts), UUID), /Cannot find 'iothread' : 1/);
    const real: Partial<OwnedParts> = { iothreads: { count: 2 }, cputune: { iothreadpin: [{ iothread: 2, cpuset: "0" }, { iothread: 4, cpuset: "0" }] } };
    assert.deepEqual(problemsOf(ids, real), []);
    assert.match(libvirtRedump(apply(ids, real), UUID), /<iothreadpin iothread='4' cpuset='0'\/>/);
  });

  it("moves a plan's pins on iothreads 1..n to the domain's n ids in order (idempotent); other numbering is left to the checks", () => {
    const plan: Partial<OwnedParts> = { iothreads: { count: 2 }, cputune: { iothreadpin: [{ iothread: 1, cpuset: "0" }, { iothread: 2, cpuset: "1" }] } };
    const fit = fitParts(plan, parseDomainXml(ids));
    assert.deepEqual(fit.cputune?.iothreadpin, [{ iothread: 2, cpuset: "0" }, { iothread: 4, cpuset: "1" }]);
    assert.deepEqual(fitParts(fit, parseDomainXml(ids)), fit);
    assert.deepEqual(problemsOf(ids, fit), []);
    assert.match(libvirtRedump(apply(ids, fit), UUID), /<iothreadpin iothread='2' cpuset='0'\/>\n\s*<iothreadpin iothread='4' cpuset='1'\/>/);
    // Three iothreads for two ids, or a pin beyond the ids' count: not guessed.
    const three: Partial<OwnedParts> = { iothreads: { count: 3 }, cputune: { iothreadpin: [{ iothread: 1, cpuset: "0" }] } };
    assert.equal(fitParts(three, parseDomainXml(ids)), three);
    const beyond: Partial<OwnedParts> = { iothreads: { count: 2 }, cputune: { iothreadpin: [{ iothread: 3, cpuset: "0" }] } };
    assert.equal(fitParts(beyond, parseDomainXml(ids)), beyond);
  });

  it("refuses fewer iothreads than <iothreadids> (libvirt would keep one per id)", () => {
    assert.deepEqual(problemsOf(ids, { iothreads: { count: 1 }, cputune: { iothreadpin: [{ iothread: 2, cpuset: "0" }] } }), [
      "parts.iothreads.count: 1 is fewer than the domain's 2 <iothreadids> (ids 2, 4); libvirt keeps one iothread per id, so ask for at least 2 or remove ids from <iothreadids>",
    ]);
  });
});

describe("domain fit: restoring an adopted domain", () => {
  const auto = domain({
    vcpu: "<vcpu placement='auto'>2</vcpu>\n  <numatune>\n    <memory mode='strict' placement='auto'/>\n  </numatune>",
    cpu: "<cpu mode='custom' match='exact' check='none'>\n    <model fallback='forbid'>qemu64</model>\n    <numa>\n      <cell id='0' cpus='0-1' memory='32768' unit='KiB'/>\n      <cell id='1' memory='32768' unit='KiB'/>\n    </numa>\n  </cpu>",
  });
  const tune: Partial<OwnedParts> = {
    vcpu: { count: 2, placement: "static", cpuset: null, current: null },
    numatune: { memory: { mode: "strict", nodeset: "0" }, memnode: [] },
    cpu: { numa: [{ id: 0, cpus: "0", memory: 32, unit: "MiB" }, { id: 1, cpus: "1", memory: 32, unit: "MiB" }] },
  };

  it("puts back placement='auto' and a memory-only cell, and libvirt accepts the result", () => {
    const originals = projectParts(tune, partsOf(auto));
    assert.deepEqual(originals.numatune?.memory, { mode: "strict", nodeset: null, placement: "auto" });
    assert.deepEqual(originals.cpu?.numa?.[1], { id: 1, cpus: null, memory: 32768, unit: "KiB", memAccess: null, distances: null });
    const tuned = apply(auto, tune);
    libvirtRedump(tuned, UUID);
    assert.deepEqual(diffOwnedParts(originals, partsOf(tuned)).map((d) => d.path), [
      "vcpu.placement", "numatune.memory.placement", "numatune.memory.nodeset", "cpu.numa.cell[0].cpus", "cpu.numa.cell[1].cpus",
    ]);
    const back = apply(tuned, originals);
    assert.equal(back, auto);
    assert.match(libvirtRedump(back, UUID), /<memory mode='strict' placement='auto'\/>/);
  });
});

describe("domain fit: interface queues='1'", () => {
  const iface = domain({ devices: "<interface type='network'>\n      <mac address='52:54:00:6b:76:01'/>\n      <source network='default'/>\n      <model type='virtio'/>\n      <driver name='vhost'/>\n    </interface>" });

  it("never writes queues='1' (libvirt drops it), so an unchanged domain needs no define", () => {
    const dumped = libvirtRedump(iface, UUID);
    assert.match(dumped, /<driver name='vhost'\/>/);
    for (const driver of [{ name: "vhost" as const, queues: 1 }, { name: "qemu" as const, queues: 1 }]) {
      const parts: Partial<OwnedParts> = { interfaces: { "52:54:00:6b:76:01": { driver } } };
      const xml = apply(dumped, parts);
      assert.doesNotMatch(xml, /queues=/);
      const again = libvirtRedump(xml, UUID);
      assert.equal(apply(again, parts), again, "applying to libvirt's own dump changes nothing");
      assert.deepEqual(diffOwnedParts(parts, partsOf(again)), []);
    }
    // No <driver> at all: queues 1 alone adds nothing (libvirt drops an empty <driver/>).
    const bare = dumped.replace(/\n\s*<driver name='vhost'\/>/, "");
    assert.equal(apply(bare, { interfaces: { "52:54:00:6b:76:01": { driver: { queues: 1 } } } }), bare);
    assert.deepEqual(diffOwnedParts({ interfaces: { "52:54:00:6b:76:01": { driver: { queues: 2 } } } }, partsOf(bare)).map((d) => `${d.path} ${d.from} ${d.to}`), ["devices.interface[52:54:00:6b:76:01].driver.queues 1 2"]);
  });
});

describe("domain fit: numatune placement", () => {
  it("names a static numatune without a nodeset, which libvirt refuses", () => {
    const parts: Partial<OwnedParts> = { numatune: { memory: { mode: "strict", nodeset: null } } };
    const xml = domain({ vcpu: "<vcpu placement='static'>2</vcpu>\n  <numatune>\n    <memory mode='strict' nodeset='0'/>\n  </numatune>" });
    assert.deepEqual(problemsOf(xml, parts), [
      `parts.numatune.memory: mode 'strict' without a nodeset needs placement 'auto' (libvirt: "nodeset for NUMA memory tuning must be set if 'placement' is 'static'")`,
    ]);
    assert.throws(() => libvirtRedump(apply(xml, parts), UUID), /nodeset for NUMA memory tuning must be set if 'placement' is 'static'/);
  });
});
