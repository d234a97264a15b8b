// LibvirtDomain (in-process CRUD, as libvirt-domain-virsh.test.ts drives it) on domain
// XML users really have, against a real libvirtd (test/support/libvirtd.ts): memory
// devices with guest NUMA cells (also on guest node 1), <maxMemory> without devices,
// <iothreadids>, placement='auto', memory-only cells, interfaces without queues; and the
// checks domainProblems makes before a define, each set beside what
// `virsh define --validate` says of the very same XML.
import { strict as assert } from "node:assert";
import { applyOwnedParts, describeDiff, diffOwnedParts, parseDomainXml, readOwnedParts, renderDomainXml, type OwnedParts } from "../../provider/libvirt";
import { fitParts, readDomainFacts } from "../../provider/libvirt/domain-fit";
import { domainProblems } from "../../provider/libvirt/virsh-plan";
import * as impl from "../../provider/resources/libvirt-domain-impl";
import { resetTransportCounts, transportCounts } from "../../provider/transport";
import { startLibvirtd, type Libvirtd } from "../support/libvirtd";
import { defineDomain, mustVirsh, qemuThreads } from "../support/libvirtd-domain";

type Outs = impl.LibvirtDomainOutputs;

/** A shut-off TCG domain in libvirt's own layout; `head` goes after <name>/<uuid>, `cpu` replaces the plain qemu64 CPU. */
function domainXml(name: string, n: number, o: { head?: string; cpu?: string; devices?: string }): string {
  return `<domain type='qemu'>
  <name>${name}</name>
  <uuid>6b766d74-0000-4000-8000-00000000f1${n.toString(16).padStart(2, "0")}</uuid>
${o.head ?? "  <memory unit='KiB'>65536</memory>\n  <vcpu placement='static'>2</vcpu>"}
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
  </os>
  <features>
    <acpi/>
    <apic/>
  </features>
${o.cpu ?? "  <cpu mode='custom' match='exact' check='none'>\n    <model fallback='forbid'>qemu64</model>\n  </cpu>"}
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
${o.devices ?? ""}
    <memballoon model='none'/>
  </devices>
</domain>
`;
}
const cpuWithCells = (cells: string[]) => `  <cpu mode='custom' match='exact' check='none'>
    <model fallback='forbid'>qemu64</model>
    <numa>
${cells.map((c) => `      ${c}`).join("\n")}
    </numa>
  </cpu>`;

// A one-node plan's parts (planToDomainParts of a 2-vCPU guest on host node 0): no guest NUMA cells.
const ONE_NODE: Partial<OwnedParts> = {
  vcpu: { count: 2, placement: "static", cpuset: null, current: null },
  cputune: { vcpupin: [{ vcpu: 0, cpuset: "0" }, { vcpu: 1, cpuset: "1" }], emulatorpin: { cpuset: "0-1" }, iothreadpin: [] },
  numatune: { memory: { mode: "strict", nodeset: "0" }, memnode: [] },
  cpu: { mode: "custom", topology: { sockets: 1, cores: 2, threads: 1 }, numa: null },
};

describe("LibvirtDomain on domain XML users really have (real libvirtd)", function () {
  this.timeout(300_000);
  let lv: Libvirtd;
  let connection: Record<string, unknown>;
  let target: string;
  const virsh = (...args: string[]) => mustVirsh(lv, args);
  const inactive = (name: string) => virsh("-q", "dumpxml", "--inactive", name);
  /** The host's journal of originals; "none" when there is none (every adopt undone). */
  const journal = async () => (await lv.ssh("if [ -e /var/lib/kvmtune/journal ]; then cat /var/lib/kvmtune/journal; else echo none; fi")).stdout;
  const adopt = (name: string, parts: Partial<OwnedParts>) => ({ connection, name, mode: "adopt" as const, parts });
  /** Connections and commands of one provider call. */
  async function counted<T>(fn: () => Promise<T>): Promise<[T, { connections: number; commands: number }]> {
    resetTransportCounts();
    const r = await fn();
    return [r, transportCounts(target)];
  }
  /** Check (as preview does), then create; asserts check found nothing. */
  async function create(name: string, parts: Partial<OwnedParts>): Promise<{ id: string; outs: Outs }> {
    assert.deepEqual((await impl.check({}, adopt(name, parts))).failures, []);
    const c = await impl.create(adopt(name, parts));
    return { id: c.id!, outs: c.outs as Outs };
  }
  const read = async (id: string, outs: Outs) => (await impl.read(id, outs)) as { props: Outs; inputs: { parts: Partial<OwnedParts> } };

  before(async () => {
    lv = await startLibvirtd({ bridges: [{ name: "br0" }] });
    connection = { host: lv.host, port: lv.port, user: "root", privateKey: lv.privateKey, hostKey: lv.hostKey };
    target = `127.0.0.1:${lv.port}`;
  });
  after(async () => {
    await lv?.stop();
  });

  describe("a one-node plan on a domain with a DIMM and guest NUMA cells (one with discard='yes')", () => {
    const name = "kvmt-fit-dimm";
    const DIMM = "    <memory model='dimm'>\n      <target>\n        <size unit='KiB'>32768</size>\n        <node>0</node>\n      </target>\n    </memory>";
    const xml = domainXml(name, 1, {
      head: "  <maxMemory slots='2' unit='KiB'>262144</maxMemory>\n  <memory unit='KiB'>65536</memory>\n  <vcpu placement='static'>2</vcpu>",
      cpu: cpuWithCells(["<cell id='0' cpus='0' memory='16384' unit='KiB' discard='yes'/>", "<cell id='1' cpus='1' memory='16384' unit='KiB'/>"]),
      devices: DIMM,
    });
    let original: string;

    it("adopts: one cell 0 with both vCPUs and the memory not on the DIMM, discard='yes' kept; it starts; a second apply writes nothing; delete restores", async () => {
      await defineDomain(lv, xml);
      original = await inactive(name);
      const { id, outs } = await create(name, ONE_NODE);
      assert.deepEqual(outs.originals, {
        vcpu: { count: 2, placement: "static", cpuset: null, current: null },
        cputune: { vcpupin: [], emulatorpin: null, iothreadpin: [] },
        numatune: { memory: null, memnode: [] },
        cpu: {
          mode: "custom", topology: null,
          numa: [
            { id: 0, cpus: "0", memory: 16384, unit: "KiB", memAccess: null, distances: null },
            { id: 1, cpus: "1", memory: 16384, unit: "KiB", memAccess: null, distances: null },
          ],
        },
      });
      const now = await inactive(name);
      assert.match(now, /<cpu mode='custom' match='exact' check='none'>\n {4}<model fallback='forbid'>qemu64<\/model>\n {4}<topology sockets='1' dies='1' cores='2' threads='1'\/>\n {4}<numa>\n {6}<cell id='0' cpus='0-1' memory='32768' unit='KiB' discard='yes'\/>\n {4}<\/numa>\n {2}<\/cpu>/);
      assert.match(now, /<memory model='dimm'>\n {6}<target>\n {8}<size unit='KiB'>32768<\/size>\n {8}<node>0<\/node>/);
      assert.match(now, /<memory unit='KiB'>65536<\/memory>/);
      // qemu takes it too (the DIMM needs the memory backend of cell 0)
      await virsh("start", name);
      assert.equal(await virsh("domstate", name), "running\n\n");
      await virsh("destroy", name);
      // read shows the parts as written (numa: null), in sync
      const r = await read(id, outs);
      assert.deepEqual([r.props.drift, r.inputs.parts], [[], ONE_NODE]);
      assert.equal((await impl.diff(id, r.props, adopt(name, ONE_NODE))).changes, false);
      const [updated, counts] = await counted(() => impl.update(id, r.props, adopt(name, ONE_NODE)));
      assert.deepEqual(counts, { connections: 1, commands: 1 }, "one read, no define");
      assert.equal(await inactive(name), now);
      await impl.remove(id, updated.outs as Outs);
      assert.equal(await inactive(name), original);
    });

    it("without kvmtune's fit libvirt refuses the plan; asked for by `numa: []`, kvmtune names it before define", async () => {
      // `numa: []` is the one way past the fit (it resolves `numa: null` only): no <numa> at all in the XML libvirt gets.
      await expectBothRefuse(name, { ...ONE_NODE, cpu: { ...ONE_NODE.cpu, numa: [] } },
        `parts.cpu.numa: the domain has memory devices (dimm) and libvirt needs a guest NUMA cell for them ("At least one numa node has to be configured when enabling memory hotplug"); keep at least one cell`,
        "unsupported configuration: At least one numa node has to be configured when enabling memory hotplug");
      await virsh("undefine", name);
    });
  });

  describe("a one-node plan on a domain with <maxMemory> (memory hotplug) and no memory devices", () => {
    const name = "kvmt-fit-maxmem";
    const xml = domainXml(name, 7, {
      head: "  <maxMemory slots='2' unit='KiB'>262144</maxMemory>\n  <memory unit='KiB'>65536</memory>\n  <vcpu placement='static'>2</vcpu>",
      cpu: cpuWithCells(["<cell id='0' cpus='0' memory='32768' unit='KiB'/>", "<cell id='1' cpus='1' memory='32768' unit='KiB'/>"]),
    });

    it("adopts: one cell 0 with both vCPUs and all the memory; it starts; a second apply writes nothing; delete restores, journal clean", async () => {
      await defineDomain(lv, xml);
      const original = await inactive(name);
      const { id, outs } = await create(name, ONE_NODE);
      const now = await inactive(name);
      assert.match(now, /<maxMemory slots='2' unit='KiB'>262144<\/maxMemory>\n {2}<memory unit='KiB'>65536<\/memory>/);
      assert.match(now, /<topology sockets='1' dies='1' cores='2' threads='1'\/>\n {4}<numa>\n {6}<cell id='0' cpus='0-1' memory='65536' unit='KiB'\/>\n {4}<\/numa>/);
      await virsh("start", name);
      assert.equal(await virsh("domstate", name), "running\n\n");
      await virsh("destroy", name);
      const r = await read(id, outs);
      assert.deepEqual([r.props.drift, r.inputs.parts], [[], ONE_NODE]);
      const [updated, counts] = await counted(() => impl.update(id, r.props, adopt(name, ONE_NODE)));
      assert.deepEqual(counts, { connections: 1, commands: 1 }, "one read, no define");
      assert.equal(await inactive(name), now);
      await impl.remove(id, updated.outs as Outs);
      assert.equal(await inactive(name), original);
      assert.equal(await journal(), "none\n");
    });

    it("asked for by `numa: []`, kvmtune names libvirt's refusal before define", async () => {
      await expectBothRefuse(name, { ...ONE_NODE, cpu: { ...ONE_NODE.cpu, numa: [] } },
        `parts.cpu.numa: the domain has <maxMemory> (memory hotplug) and libvirt needs a guest NUMA cell for it ("At least one numa node has to be configured when enabling memory hotplug"); keep at least one cell`,
        "unsupported configuration: At least one numa node has to be configured when enabling memory hotplug");
      await virsh("undefine", name);
    });
  });

  describe("a one-node plan on a domain with a DIMM on guest node 1", () => {
    const name = "kvmt-fit-dimm1";
    const xml = domainXml(name, 8, {
      head: "  <maxMemory slots='2' unit='KiB'>262144</maxMemory>\n  <memory unit='KiB'>65536</memory>\n  <vcpu placement='static'>2</vcpu>",
      cpu: cpuWithCells(["<cell id='0' cpus='0' memory='16384' unit='KiB'/>", "<cell id='1' cpus='1' memory='16384' unit='KiB'/>"]),
      devices: "    <memory model='dimm'>\n      <target>\n        <size unit='KiB'>32768</size>\n        <node>1</node>\n      </target>\n    </memory>",
    });

    it("adopts: cell 0 with both vCPUs and the rest, cell 1 kept for the DIMM (no vCPUs, 1 MiB); it starts; a second apply writes nothing; delete restores, journal clean", async () => {
      await defineDomain(lv, xml);
      const original = await inactive(name);
      const { id, outs } = await create(name, ONE_NODE);
      assert.deepEqual(outs.originals?.cpu?.numa, [
        { id: 0, cpus: "0", memory: 16384, unit: "KiB", memAccess: null, distances: null },
        { id: 1, cpus: "1", memory: 16384, unit: "KiB", memAccess: null, distances: null },
      ]);
      const now = await inactive(name);
      assert.match(now, /<memory unit='KiB'>65536<\/memory>/);
      assert.match(now, /<numa>\n {6}<cell id='0' cpus='0-1' memory='31744' unit='KiB'\/>\n {6}<cell id='1' memory='1024' unit='KiB'\/>\n {4}<\/numa>/);
      assert.match(now, /<memory model='dimm'>\n {6}<target>\n {8}<size unit='KiB'>32768<\/size>\n {8}<node>1<\/node>/);
      // qemu takes it too (a 0-size cell it would not: "property 'size' of memory-backend-ram doesn't take value '0'")
      await virsh("start", name);
      assert.equal(await virsh("domstate", name), "running\n\n");
      await virsh("destroy", name);
      const r = await read(id, outs);
      assert.deepEqual([r.props.drift, r.inputs.parts], [[], ONE_NODE]);
      const [updated, counts] = await counted(() => impl.update(id, r.props, adopt(name, ONE_NODE)));
      assert.deepEqual(counts, { connections: 1, commands: 1 }, "one read, no define");
      assert.equal(await inactive(name), now);
      await impl.remove(id, updated.outs as Outs);
      assert.equal(await inactive(name), original);
      assert.equal(await journal(), "none\n");
    });

    it("given cells without node 1, kvmtune names the DIMM and its node before define", async () => {
      await expectBothRefuse(name, { ...ONE_NODE, cpu: { ...ONE_NODE.cpu, numa: [{ id: 0, cpus: "0-1", memory: 32, unit: "MiB" }] } },
        `parts.cpu.numa: devices.memory[0] (dimm) is on guest node 1, but the domain has 1 guest NUMA cell; keep cells 0-1 (libvirt: "can't add memory backend for guest node '1' as the guest has only '1' NUMA nodes configured")`,
        "can't add memory backend for guest node '1' as the guest has only '1' NUMA nodes configured");
      await virsh("undefine", name);
    });
  });

  describe("a domain whose <iothreadids> are 2 and 4", () => {
    const name = "kvmt-fit-io";
    const xml = domainXml(name, 2, { head: "  <memory unit='KiB'>65536</memory>\n  <vcpu placement='static'>2</vcpu>\n  <iothreads>2</iothreads>\n  <iothreadids>\n    <iothread id='2'/>\n    <iothread id='4'/>\n  </iothreadids>" });

    it("a pin on iothread 3 (neither a plan's 1..2 nor an id the domain has) is refused by kvmtune and by libvirt alike (nothing written)", async () => {
      await defineDomain(lv, xml);
      await expectBothRefuse(name, { iothreads: { count: 2 }, cputune: { iothreadpin: [{ iothread: 3, cpuset: "0" }] } },
        `parts.cputune.iothreadpin[0]: iothread 3 does not exist; the domain's <iothreadids> give iothread ids 2, 4 (libvirt: "Cannot find 'iothread' : 3")`,
        "unsupported configuration: Cannot find 'iothread' : 3");
    });

    it("a plan's pins on iothreads 1 and 2 go to ids 2 and 4: defined, pinned live on the running guest, read back in sync; delete restores both", async () => {
      await virsh("start", name);
      const before = await inactive(name);
      // As a placement plan gives them: iothreads numbered 1..count (check cannot know the ids; apply reads them).
      const parts: Partial<OwnedParts> = { iothreads: { count: 2 }, cputune: { iothreadpin: [{ iothread: 1, cpuset: "0" }, { iothread: 2, cpuset: "1" }] } };
      const { id, outs } = await create(name, parts);
      assert.deepEqual([outs.drift, outs.restartRequired], [[], false]);
      const now = await inactive(name);
      assert.match(now, /<iothreads>2<\/iothreads>\n {2}<iothreadids>\n {4}<iothread id='2'\/>\n {4}<iothread id='4'\/>\n {2}<\/iothreadids>\n {2}<cputune>\n {4}<iothreadpin iothread='2' cpuset='0'\/>\n {4}<iothreadpin iothread='4' cpuset='1'\/>\n {2}<\/cputune>/);
      assert.doesNotMatch(now, /iothread='1'|<iothread id='1'/);
      const threads = async () => (await qemuThreads(lv, name)).filter((t) => /^IO iothread/.test(t.name)).map((t) => `${t.name}:${t.cpus}`).sort();
      assert.deepEqual(await threads(), ["IO iothread2:0", "IO iothread4:1"]);
      const r = await read(id, outs);
      assert.deepEqual([r.props.drift, r.props.restartRequired, r.inputs.parts], [[], false, parts]);
      await impl.remove(id, r.props);
      assert.equal(await inactive(name), before);
      assert.deepEqual(await threads(), ["IO iothread2:0-1", "IO iothread4:0-1"]);
      await virsh("destroy", name);
      await virsh("undefine", name);
    });
  });

  describe("restoring an adopted domain gives back what was there", () => {
    it("<vcpu placement='auto'> and <numatune><memory mode='strict' placement='auto'/>: delete restores the inactive XML byte for byte", async () => {
      const name = "kvmt-fit-auto";
      await defineDomain(lv, domainXml(name, 3, { head: "  <memory unit='KiB'>65536</memory>\n  <vcpu placement='auto'>2</vcpu>\n  <numatune>\n    <memory mode='strict' placement='auto'/>\n  </numatune>" }));
      const before = await inactive(name);
      assert.match(before, /<vcpu placement='auto'>2<\/vcpu>\n {2}<numatune>\n {4}<memory mode='strict' placement='auto'\/>\n {2}<\/numatune>/);
      const parts: Partial<OwnedParts> = { vcpu: ONE_NODE.vcpu, cputune: ONE_NODE.cputune, numatune: ONE_NODE.numatune };
      const { id, outs } = await create(name, parts);
      assert.deepEqual([outs.originals?.vcpu, outs.originals?.numatune], [
        { count: 2, placement: "auto", cpuset: null, current: null },
        { memory: { mode: "strict", nodeset: null, placement: "auto" }, memnode: [] },
      ]);
      assert.match(await inactive(name), /<vcpu placement='static'>2<\/vcpu>\n {2}<cputune>\n {4}<vcpupin vcpu='0' cpuset='0'\/>\n {4}<vcpupin vcpu='1' cpuset='1'\/>\n {4}<emulatorpin cpuset='0-1'\/>\n {2}<\/cputune>\n {2}<numatune>\n {4}<memory mode='strict' nodeset='0'\/>\n {2}<\/numatune>/);
      assert.deepEqual((await read(id, outs)).props.drift, []);
      await impl.remove(id, outs);
      assert.equal(await inactive(name), before);
      await virsh("undefine", name);
    });

    it("a memory-only cell (no cpus): adopt gives it vCPU 1, delete restores it; compare says in sync with the originals, out of sync with the plan", async () => {
      const name = "kvmt-fit-cells";
      await defineDomain(lv, domainXml(name, 4, { cpu: cpuWithCells(["<cell id='0' cpus='0-1' memory='32768' unit='KiB'/>", "<cell id='1' memory='32768' unit='KiB'/>"]) }));
      const before = await inactive(name);
      // libvirt 9.0 accepts and keeps a cell without cpus
      assert.match(before, /<numa>\n {6}<cell id='0' cpus='0-1' memory='32768' unit='KiB'\/>\n {6}<cell id='1' memory='32768' unit='KiB'\/>\n {4}<\/numa>/);
      const parts: Partial<OwnedParts> = { cpu: { numa: [{ id: 0, cpus: "0", memory: 32, unit: "MiB" }, { id: 1, cpus: "1", memory: 32, unit: "MiB" }] } };
      const { id, outs } = await create(name, parts);
      assert.deepEqual(outs.originals, { cpu: { numa: [
        { id: 0, cpus: "0-1", memory: 32768, unit: "KiB", memAccess: null, distances: null },
        { id: 1, cpus: null, memory: 32768, unit: "KiB", memAccess: null, distances: null },
      ] } });
      assert.match(await inactive(name), /<numa>\n {6}<cell id='0' cpus='0' memory='32768' unit='KiB'\/>\n {6}<cell id='1' cpus='1' memory='32768' unit='KiB'\/>\n {4}<\/numa>/);
      assert.deepEqual((await read(id, outs)).props.drift, []);
      await impl.remove(id, outs);
      const restored = await inactive(name);
      assert.equal(restored, before);
      const actual = readOwnedParts(parseDomainXml(restored));
      assert.deepEqual(diffOwnedParts(outs.originals!, actual).map(describeDiff), []);
      assert.deepEqual(diffOwnedParts(parts, actual).map(describeDiff), ["cpu.numa.cell[0].cpus: 0-1 → 0", "cpu.numa.cell[1].cpus: (absent) → 1"]);
      // and the provider's refresh of the old state names the same drift
      assert.deepEqual((await read(id, outs)).props.drift, ["cpu.numa.cell[0].cpus: 0-1 → 0", "cpu.numa.cell[1].cpus: (absent) → 1"]);
      await virsh("undefine", name);
    });
  });

  it("an interface without queues: driver queues 1 is never written, so the next updates run no define", async () => {
    const name = "kvmt-fit-net";
    const mac = "52:54:00:6b:f1:05";
    await defineDomain(lv, domainXml(name, 5, { devices: `    <interface type='bridge'>\n      <mac address='${mac}'/>\n      <source bridge='br0'/>\n      <model type='virtio'/>\n    </interface>` }));
    const before = await inactive(name);
    const parts: Partial<OwnedParts> = { interfaces: { [mac]: { driver: { name: "vhost", queues: 1 } } } };
    const [created, c0] = await counted(() => create(name, parts));
    assert.deepEqual(c0, { connections: 1, commands: 3 }, "read, write (journal + define), read-back");
    const now = await inactive(name);
    assert.notEqual(now, before);
    assert.match(now, /<model type='virtio'\/>\n {6}<driver name='vhost'\/>\n/);
    assert.doesNotMatch(now, /queues=/);
    let outs = created.outs;
    for (const round of [1, 2]) {
      const [u, c] = await counted(() => impl.update(created.id, outs, adopt(name, parts)));
      assert.deepEqual(c, { connections: 1, commands: 1 }, `update ${round}: one read, no write`);
      assert.equal(await inactive(name), now);
      outs = u.outs as Outs;
    }
    assert.deepEqual((await read(created.id, outs)).props.drift, []);
    await impl.remove(created.id, outs);
    assert.equal(await inactive(name), before);
    await virsh("undefine", name);
  });

  describe("what libvirt would refuse, domainProblems names before define (and `virsh define --validate` agrees)", () => {
    const name = "kvmt-fit-refuse";
    const xml = domainXml(name, 6, { head: "  <memory unit='KiB'>65536</memory>\n  <vcpu placement='static'>2</vcpu>\n  <numatune>\n    <memory mode='strict' nodeset='0'/>\n  </numatune>", cpu: cpuWithCells(["<cell id='0' cpus='0-1' memory='65536' unit='KiB'/>"]) });
    before(async () => defineDomain(lv, xml));
    after(async () => virsh("undefine", name));

    it("guest NUMA cells naming vCPUs the domain does not have", async () => {
      await expectBothRefuse(name, { cpu: { numa: [{ id: 0, cpus: "0-3", memory: 64, unit: "MiB" }] } },
        `parts.cpu.numa[0]: vCPU 2, 3 are beyond the domain's 2 vCPUs (libvirt: "Number of CPUs in <numa> exceeds the <vcpu> count")`,
        "internal error: Number of CPUs in <numa> exceeds the <vcpu> count");
    });

    it("a static numatune without a nodeset", async () => {
      await expectBothRefuse(name, { numatune: { memory: { mode: "strict", nodeset: null } } },
        `parts.numatune.memory: mode 'strict' without a nodeset needs placement 'auto' (libvirt: "nodeset for NUMA memory tuning must be set if 'placement' is 'static'")`,
        "unsupported configuration: nodeset for NUMA memory tuning must be set if 'placement' is 'static'");
    });

    it("a topology that does not multiply to the vCPU count", async () => {
      await expectBothRefuse(name, { cpu: { topology: { sockets: 2, cores: 2, threads: 1 } } },
        `parts.cpu.topology: sockets 2 × dies 1 × cores 2 × threads 1 = 4 CPUs, but the domain has 2 vCPUs (libvirt: "CPU topology doesn't match maximum vcpu count")`,
        "unsupported configuration: CPU topology doesn't match maximum vcpu count");
    });
  });

  /**
   * The parts pass check (preview cannot see the domain); create refuses them with `problem` and changes nothing;
   * domainProblems names the same problem in the XML libvirt is given (the domain with the fitted parts, as create
   * would define it), and `virsh define --validate` refuses that XML with `libvirtError`.
   */
  async function expectBothRefuse(name: string, parts: Partial<OwnedParts>, problem: string, libvirtError: string): Promise<void> {
    const before = await inactive(name);
    assert.deepEqual((await impl.check({}, adopt(name, parts))).failures, []);
    const [, counts] = await counted(() => assert.rejects(impl.create(adopt(name, parts)), { message: `invalid parts for domain '${name}' on ${target} (nothing was changed):\n  - ${problem}` }));
    assert.deepEqual(counts, { connections: 1, commands: 1 }, "only the read");
    const doc = parseDomainXml(before);
    const desired = fitParts(parts, doc);
    applyOwnedParts(doc, desired);
    assert.deepEqual(domainProblems(desired, readOwnedParts(doc), "0-1", "parts", readDomainFacts(doc)), [problem]);
    const r = await lv.virsh(["define", "--validate", "/dev/stdin"], { input: renderDomainXml(doc) });
    assert.deepEqual([r.code, r.stderr.trimEnd()], [1, `error: Failed to define domain from /dev/stdin\nerror: ${libvirtError}`]);
    assert.equal(await inactive(name), before);
  }
});
