// LibvirtDomain's serialised provider, driven through @pulumi/pulumi's own
// dynamic-provider server (plain node: it loads kvmtune from the built dist/ by
// package name, as in a user's program) against a real libvirtd over SSH. Every
// effect is checked independently: the bed's virsh, and the CPUs qemu's threads
// may run on (Cpus_allowed_list).
import { strict as assert } from "node:assert";
import { DOMParser, XMLSerializer, type Element } from "@xmldom/xmldom";
import { applyOwnedParts, parseDomainXml, renderDomainXml, type OwnedParts } from "../../provider/libvirt";
import { libvirtDomainProvider } from "../../provider/resources/libvirt-domain";
import { dynamicUrn, PROVIDER_KEY, serializeDynamicProvider, startDynamicProviderServer, withProvider, type DynamicProviderClient, type DynamicProviderError, type Props } from "../support/provider-server";
import { startLibvirtd, type Libvirtd } from "../support/libvirtd";
import { createDiskImage, defineDomain, mustVirsh, qemuThreads, tinyDomainXml, vcpuAffinity } from "../support/libvirtd-domain";

const parts = (p: Props) => p.parts as Partial<OwnedParts>;

describe("LibvirtDomain through the SDK's dynamic-provider server (real libvirtd)", function () {
  this.timeout(180_000);
  let lv: Libvirtd;
  let server: DynamicProviderClient;
  let text: string;
  let connection: Record<string, unknown>;
  let target: string;
  const virsh = (...args: string[]) => mustVirsh(lv, args);
  const inactive = (name: string) => virsh("-q", "dumpxml", "--inactive", name);
  const mainThread = async (name: string) => (await qemuThreads(lv, name)).find((t) => t.name === "qemu-system-x86" && t.vcpu === undefined)!.cpus;
  const iothread = async (name: string) => (await qemuThreads(lv, name)).find((t) => t.name === "IO iothread1")!.cpus;

  before(async () => {
    [lv, server, text] = await Promise.all([startLibvirtd({ bridges: [{ name: "br0" }] }), startDynamicProviderServer(), serializeDynamicProvider(libvirtDomainProvider)]);
    connection = { host: lv.host, port: lv.port, user: "root", privateKey: lv.privateKey, hostKey: lv.hostKey };
    target = `127.0.0.1:${lv.port}`;
  });
  after(async () => {
    await server?.stop();
    await lv?.stop();
  });

  it("serialises to a bare require of kvmtune: no repo paths, no copied code, no secrets", () => {
    assert.ok(text.includes('require("kvmtune/dist/provider/resources/libvirt-domain-impl")'));
    assert.ok(!text.includes("/work/"), "no absolute repo paths");
    assert.ok(!text.includes("PRIVATE KEY"));
  });

  describe("define mode: define -> read -> drift -> update -> delete", function () {
    const name = "kvmt-d1";
    const urn = dynamicUrn(name);
    let inputs: Props;
    let id: string;
    let outs: Props;

    it("checks and creates a started TCG domain whose vCPU and emulator threads run where the parts say", async () => {
      const img = await createDiskImage(lv, "kvmt-d1.raw", 16);
      const checked = await server.check(urn, {}, withProvider({
        connection, name, mode: "define", start: true, autostart: true,
        domain: { memoryMiB: 64, vcpus: 2, type: "qemu", osVariant: "debian12", disks: [{ path: img }] },
        parts: { cputune: { vcpupin: [{ vcpu: 0, cpuset: "1" }, { vcpu: 1, cpuset: "0" }], emulatorpin: { cpuset: "1" } }, numatune: { memory: { mode: "strict", nodeset: "0" } } },
      }, text));
      assert.deepEqual(checked.failures, []);
      inputs = checked.inputs;
      const created = await server.create(urn, inputs);
      ({ id, outs } = created);
      assert.equal(id, `${target}/${name}`);
      assert.equal(outs[PROVIDER_KEY], text);
      assert.deepEqual([outs.state, outs.drift, outs.restartRequired, outs.restartReasons, outs.originals], ["running", [], false, [], null]);
      const xml = await inactive(name);
      assert.equal(outs.xml, xml);
      assert.equal(outs.uuid, /<uuid>(.*)<\/uuid>/.exec(xml)![1]);
      assert.match(xml, /<libosinfo:os id="http:\/\/debian.org\/debian\/12"\/>/);
      assert.match(xml, /<driver name='qemu' type='raw' cache='none' io='native'\/>\n {6}<source file='\/var\/lib\/libvirt\/images\/kvmt-d1.raw'\/>/);
      assert.match(xml, /<cputune>\n {4}<vcpupin vcpu='0' cpuset='1'\/>\n {4}<vcpupin vcpu='1' cpuset='0'\/>\n {4}<emulatorpin cpuset='1'\/>\n {2}<\/cputune>\n {2}<numatune>\n {4}<memory mode='strict' nodeset='0'\/>/);
      assert.deepEqual(await vcpuAffinity(lv, name), { 0: "1", 1: "0" });
      assert.equal(await mainThread(name), "1");
      assert.match(await virsh("dominfo", name), /^Autostart: +enable$/m);
    });

    it("reads an untouched domain as in sync: the observed parts are the desired ones", async () => {
      const read = await server.read(id, urn, outs);
      assert.deepEqual(read.inputs!.parts, inputs.parts);
      assert.deepEqual(read.inputs!.domain, inputs.domain);
      assert.deepEqual([read.props.drift, read.props.restartRequired, read.props.state], [[], false, "running"]);
      assert.equal((await server.diff(id, urn, read.props, inputs)).changes, "none");
    });

    it("names a pin changed by hand (vcpupin --live --config), and update converges", async () => {
      await virsh("vcpupin", name, "1", "1", "--live", "--config");
      const read = await server.read(id, urn, outs);
      assert.deepEqual(read.props.drift, ["cputune.vcpupin[1]: 1 → 0"]);
      assert.deepEqual(parts(read.inputs!).cputune, { vcpupin: [{ vcpu: 0, cpuset: "1" }, { vcpu: 1, cpuset: "1" }], emulatorpin: { cpuset: "1" } });
      assert.deepEqual(parts(read.inputs!).numatune, parts(inputs).numatune);
      assert.equal((await server.diff(id, urn, read.props, inputs)).changes, "some");
      const updated = await server.update(id, urn, read.props, inputs);
      assert.deepEqual([updated.outs.drift, updated.outs.restartRequired], [[], false]);
      assert.deepEqual(await vcpuAffinity(lv, name), { 0: "1", 1: "0" });
      assert.match(await inactive(name), /<vcpupin vcpu='1' cpuset='0'\/>/);
      outs = updated.outs;
      assert.deepEqual((await server.read(id, urn, outs)).props.drift, []);
    });

    it("names a live-only change (vcpupin --live) as running-domain drift, and update re-pins the thread", async () => {
      await virsh("vcpupin", name, "0", "0", "--live");
      await virsh("emulatorpin", name, "0-1", "--live");
      assert.deepEqual(await vcpuAffinity(lv, name), { 0: "0", 1: "0" });
      const read = await server.read(id, urn, outs);
      assert.deepEqual(read.props.drift, ["cputune.vcpupin[0]: 0 → 1 (running domain only)", "cputune.emulatorpin: 0-1 → 1 (running domain only)"]);
      assert.deepEqual(parts(read.inputs!).cputune, { vcpupin: [{ vcpu: 0, cpuset: "0" }, { vcpu: 1, cpuset: "0" }], emulatorpin: { cpuset: "0-1" } });
      outs = (await server.update(id, urn, read.props, inputs)).outs;
      assert.deepEqual(await vcpuAffinity(lv, name), { 0: "1", 1: "0" });
      assert.equal(await mainThread(name), "1");
    });

    it("marks a numatune mode change on the running domain restart-required (not a failure), live pins still applied", async () => {
      const news = { ...inputs, parts: { ...parts(inputs), cputune: { vcpupin: [{ vcpu: 0, cpuset: "0" }, { vcpu: 1, cpuset: "1" }], emulatorpin: { cpuset: "1" } }, numatune: { memory: { mode: "preferred", nodeset: "0" } } } };
      const updated = await server.update(id, urn, outs, news);
      assert.deepEqual([updated.outs.restartRequired, updated.outs.restartReasons, updated.outs.drift], [true, ["numatune.memory.mode: strict → preferred"], []]);
      assert.deepEqual(await vcpuAffinity(lv, name), { 0: "0", 1: "1" });
      assert.equal(await virsh("numatune", name, "--config"), "numa_mode      : preferred\nnuma_nodeset   : 0\n\n");
      assert.equal(await virsh("numatune", name, "--live"), "numa_mode      : strict\nnuma_nodeset   : 0\n\n");
      const read = await server.read(id, urn, updated.outs);
      assert.deepEqual([read.props.drift, read.props.restartRequired, read.props.restartReasons], [[], true, ["numatune.memory.mode: strict → preferred"]]);
      outs = read.props;
      inputs = news;
    });

    it("names drift in what the spec stands for (memory, autostart) through domain and autostart, and update converges", async () => {
      await virsh("setmaxmem", name, "131072", "--config");
      await virsh("autostart", "--disable", name);
      const read = await server.read(id, urn, outs);
      assert.deepEqual(read.props.drift, ["memory: 131072 KiB → 64 MiB", "autostart: false → true"]);
      assert.deepEqual([(read.inputs!.domain as Props).memoryMiB, read.inputs!.autostart], [128, false]);
      assert.deepEqual(read.inputs!.parts, inputs.parts);
      assert.deepEqual(await server.diff(id, urn, read.props, inputs), { changes: "some", replaces: [], deleteBeforeReplace: true });
      const updated = await server.update(id, urn, read.props, inputs);
      assert.deepEqual([updated.outs.drift, updated.outs.restartReasons], [[], ["numatune.memory.mode: strict → preferred"]]);
      assert.match(await inactive(name), /<memory unit='KiB'>65536<\/memory>/);
      assert.match(await virsh("dominfo", name), /^Autostart: +enable$/m);
      outs = updated.outs;
    });

    it("delete destroys and undefines the domain and keeps its disk image", async () => {
      await server.delete(id, urn, outs);
      assert.equal(await virsh("list", "--all", "--name"), "\n");
      assert.equal((await lv.ssh("ls -l /var/lib/libvirt/images/kvmt-d1.raw | cut -d' ' -f5")).stdout, `${16 * 1024 * 1024}\n`);
      const read = await server.read(id, urn, outs);
      assert.equal(read.id, "");
    });
  });

  describe("adopt mode: extras survive, delete restores the original tuning", function () {
    const name = "kvmt-a1";
    const urn = dynamicUrn(name);
    let before: string;
    let inputs: Props;
    let outs: Props;
    let id: string;

    /** A hand-made domain with things kvmtune does not own: description, foreign metadata, an interface, a disk serial. */
    function handMade(img: string): string {
      const xml = tinyDomainXml({
        name, uuid: "6b766d74-0000-4000-8000-0000000000a9", vcpus: 2, vcpupin: ["0", "1"], iothreads: 1, osinfo: "http://debian.org/debian/11",
        disks: [{ type: "file", source: img, target: "vda", cache: "writeback", io: "threads", serial: "keep-me" }],
        interfaces: [{ type: "bridge", source: "br0", mac: "52:54:00:6b:76:a9", model: "virtio" }],
      });
      const doc = new DOMParser().parseFromString(xml, "text/xml");
      const domain = doc.documentElement as Element;
      const desc = doc.createElement("description");
      desc.appendChild(doc.createTextNode("owned by team db & ops"));
      domain.insertBefore(desc, domain.getElementsByTagName("metadata")[0]);
      const app = doc.createElementNS("https://example.com/app", "app:owner");
      app.appendChild(doc.createTextNode("team-db"));
      domain.getElementsByTagName("metadata")[0].appendChild(app);
      return new XMLSerializer().serializeToString(doc);
    }

    /** The XML with the saved originals put back: equal to `before` iff nothing but owned parts changed. */
    function withoutOurTuning(xml: string, originals: Partial<OwnedParts>): string {
      const doc = parseDomainXml(xml);
      applyOwnedParts(doc, originals);
      return renderDomainXml(doc);
    }

    it("adopts a running domain: saves only the owned originals, pins live, marks disk and numatune changes restart-required", async () => {
      await defineDomain(lv, handMade(await createDiskImage(lv, "kvmt-a1.raw", 8)));
      await virsh("start", name);
      before = await inactive(name);
      assert.deepEqual(await vcpuAffinity(lv, name), { 0: "0", 1: "1" });
      const checked = await server.check(urn, {}, withProvider({
        connection, name, mode: "adopt",
        parts: {
          cputune: { vcpupin: [{ vcpu: 0, cpuset: "1" }, { vcpu: 1, cpuset: "0" }], emulatorpin: { cpuset: "0" }, iothreadpin: [{ iothread: 1, cpuset: "1" }] },
          numatune: { memory: { mode: "interleave", nodeset: "0" } },
          disks: { vda: { driver: { cache: "none", io: "native" } } },
        },
      }, text));
      assert.deepEqual(checked.failures, []);
      inputs = checked.inputs;
      ({ id, outs } = await server.create(urn, inputs));
      assert.deepEqual(outs.originals, {
        cputune: { vcpupin: [{ vcpu: 0, cpuset: "0" }, { vcpu: 1, cpuset: "1" }], emulatorpin: null, iothreadpin: [] },
        numatune: { memory: null },
        disks: { vda: { driver: { cache: "writeback", io: "threads" } } },
      });
      assert.deepEqual(outs.restartReasons, [
        "numatune.memory.mode: (absent) → interleave",
        "numatune.memory.nodeset: (absent) → 0",
        "devices.disk[vda].driver.cache: writeback → none",
        "devices.disk[vda].driver.io: threads → native",
      ]);
      assert.equal(outs.restartRequired, true);
      assert.deepEqual(await vcpuAffinity(lv, name), { 0: "1", 1: "0" });
      assert.equal(await mainThread(name), "0");
      assert.equal(await iothread(name), "1");
      const now = await inactive(name);
      assert.match(now, /<description>owned by team db &amp; ops<\/description>/);
      assert.match(now, /<app:owner xmlns:app="https:\/\/example.com\/app">team-db<\/app:owner>/);
      assert.equal(withoutOurTuning(now, outs.originals as Partial<OwnedParts>), before);
    });

    it("keeps every unowned element through updates; a dropped part goes back to its original", async () => {
      const news = { ...inputs, parts: { cputune: { vcpupin: [{ vcpu: 0, cpuset: "1" }, { vcpu: 1, cpuset: "1" }], emulatorpin: { cpuset: "0" }, iothreadpin: [{ iothread: 1, cpuset: "0" }] }, disks: { vda: { driver: { cache: "none", io: "native" } } } } };
      const updated = await server.update(id, urn, outs, news);
      assert.deepEqual(Object.keys(updated.outs.originals as object), ["cputune", "disks"]);
      assert.doesNotMatch(await inactive(name), /<numatune>/);
      assert.deepEqual(await vcpuAffinity(lv, name), { 0: "1", 1: "1" });
      assert.equal(await iothread(name), "0");
      assert.equal(withoutOurTuning(await inactive(name), updated.outs.originals as Partial<OwnedParts>), before);
      outs = updated.outs;
      inputs = news;
      assert.deepEqual((await server.read(id, urn, outs)).props.drift, []);
    });

    it("delete restores the original XML byte for byte and the original live pinning; the domain stays running", async () => {
      await server.delete(id, urn, outs);
      assert.equal(await inactive(name), before);
      assert.equal(await virsh("domstate", name), "running\n\n");
      assert.deepEqual(await vcpuAffinity(lv, name), { 0: "0", 1: "1" });
      assert.equal(await mainThread(name), "0-1");
      assert.equal(await iothread(name), "0-1");
      await virsh("destroy", name);
      await virsh("undefine", name);
    });
  });

  describe("bad input is refused before anything is defined", function () {
    const urn = dynamicUrn("kvmt-bad");

    it("check lists every problem with field, value and what is accepted", async () => {
      const checked = await server.check(urn, {}, withProvider({
        connection, name: `kvmt<&'"x`, mode: "define", colour: "blue",
        domain: { memoryMiB: 64, vcpus: 2, type: "qemu", osVariant: "debian99", disks: [{ path: "/var/lib/libvirt/images/x.raw", io: "native", cache: "writeback" }] },
        parts: { cputune: { vcpupin: [{ vcpu: 2, cpuset: "0" }], pin: [] } },
      }, text));
      assert.deepEqual(checked.failures, [
        { property: "colour", reason: "colour: unknown field; accepted fields: connection, name, mode, domain, parts, start, autostart, restart, shutdownTimeoutSeconds, planProblems, owner, timeouts" },
        { property: "name", reason: `name: "kvmt<&'\\"x" is not accepted as a domain name; expected 1 to 64 characters: a letter or digit, then letters, digits, '_', '.', '+' or '-' (no spaces, '/', '<', '&' or quotes)` },
        { property: "domain", reason: `domain.osVariant: "debian99" is not a short id kvmtune knows; expected a libosinfo id "http://<vendor>/<os>/<version>" (e.g. "http://debian.org/debian/12") or a short id such as debian12, ubuntu24.04, rhel9.4, rocky9, sles15sp5, win11, win2k22 (40 short ids known; any other OS by its URI)` },
        { property: "domain", reason: `domain.disks[0]: io "native" needs cache "none" or "directsync" (O_DIRECT), got cache "writeback"; use io "threads" or "io_uring" with a host page cache` },
        { property: "parts", reason: "parts.cputune.pin: unknown field" },
      ]);
      const pins = await server.check(urn, {}, withProvider({ connection, name: "kvmt-bad", mode: "define", domain: { memoryMiB: 64, vcpus: 2 }, parts: { cputune: { vcpupin: [{ vcpu: 2, cpuset: "0" }] } } }, text));
      assert.deepEqual(pins.failures, [{ property: "parts", reason: "parts.cputune.vcpupin[0]: vCPU 2 does not exist; the domain has 2 vCPUs (0-1)" }]);
      assert.equal(await virsh("list", "--all", "--name"), "\n");
    });

    it("create refuses what only the host can tell (vCPU count of an adopted domain, host CPUs), changing nothing", async () => {
      await defineDomain(lv, tinyDomainXml({ name: "kvmt-b1", vcpus: 2 }));
      const xml = await inactive("kvmt-b1");
      const bad = withProvider({ connection, name: "kvmt-b1", mode: "adopt", parts: { cputune: { vcpupin: [{ vcpu: 0, cpuset: "7" }, { vcpu: 2, cpuset: "0" }] } } }, text);
      assert.deepEqual((await server.check(urn, {}, bad)).failures, []);
      await assert.rejects(server.create(urn, bad), (e: DynamicProviderError) => {
        assert.equal(e.message, `invalid parts for domain 'kvmt-b1' on ${target} (nothing was changed):\n  - parts.cputune.vcpupin[1]: vCPU 2 does not exist; the domain has 2 vCPUs (0-1)\n  - parts.cputune.vcpupin[0]: CPU 7 is not on this host (it has CPUs 0-1)`);
        assert.equal(e.initFailure, undefined);
        return true;
      });
      assert.equal(await inactive("kvmt-b1"), xml);
      await assert.rejects(server.create(urn, withProvider({ connection, name: "kvmt-b1", mode: "define", domain: { memoryMiB: 64, vcpus: 1, type: "qemu" } }, text)),
        { message: `domain 'kvmt-b1' already exists on ${target}; nothing was changed. To tune an existing domain use mode: "adopt"` });
      await assert.rejects(server.create(urn, withProvider({ connection, name: "kvmt-none", mode: "adopt", parts: {} }, text)),
        { message: `domain 'kvmt-none' does not exist on ${target}; nothing was changed. To create it use mode: "define" with a domain spec` });
      assert.equal(await inactive("kvmt-b1"), xml);
      await virsh("undefine", "kvmt-b1");
      assert.equal(await virsh("list", "--all", "--name"), "\n");
    });
  });

  it("a domain that is defined but cannot start (hugepages, none reserved here) is kept in state and undefined by delete", async () => {
    const name = "kvmt-huge";
    const urn = dynamicUrn(name);
    const news = withProvider({ connection, name, mode: "define", start: true, domain: { memoryMiB: 64, vcpus: 1, type: "qemu" }, parts: { memoryBacking: { hugepages: [{ size: 2048 }] } } }, text);
    const err = await server.create(urn, news).then(() => assert.fail("created"), (e: DynamicProviderError) => e);
    const message = `virsh start of '${name}' on ${target} failed: Failed to start domain '${name}': internal error: hugetlbfs filesystem is not mounted or disabled by administrator config (done before it: define)`;
    assert.equal(err.message, message);
    assert.equal(err.initFailure?.id, `${target}/${name}`);
    assert.deepEqual(err.initFailure?.reasons, [message]);
    const state = err.initFailure!.properties;
    assert.equal(state[PROVIDER_KEY], text);
    assert.deepEqual([state.parts, state.start, state.name, state.mode], [{}, false, name, "define"]);
    assert.equal(await virsh("domstate", name), "shut off\n\n");
    assert.match(await inactive(name), /<memoryBacking>\n {4}<hugepages>\n {6}<page size='2048' unit='KiB'\/>/);
    // The next up sees a change and tries again; destroy undefines it.
    assert.equal((await server.diff(err.initFailure!.id, urn, state, news)).changes, "some");
    await server.delete(err.initFailure!.id, urn, state);
    assert.equal(await virsh("list", "--all", "--name"), "\n");
  });
});
