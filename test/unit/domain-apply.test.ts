// applyOwnedParts: golden files (input XML + parts -> expected XML) in
// test/fixtures/domain-golden, each checked against libvirt's schema, our own
// reader, libvirt's own parser (virsh test driver) and for idempotence; plus the
// promise that everything we do not own survives. UPDATE_GOLDEN=1 rewrites the
// expected files (review the diff before committing).
import { strict as assert } from "node:assert";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DOMParser } from "@xmldom/xmldom";
import type { Element } from "@xmldom/xmldom";
import {
  applyOwnedParts, describeDiff, diffOwnedParts, parseDomainXml, readOwnedParts, renderDomainXml,
  type OwnedParts,
} from "../../provider/libvirt";
import { assertValidDomain, libvirtRedump } from "./domain-tools.test";

const GOLDEN = join(__dirname, "../fixtures/domain-golden");
const UPDATE = process.env.UPDATE_GOLDEN === "1";

function applied(xml: string, parts: Partial<OwnedParts>): string {
  const doc = parseDomainXml(xml);
  applyOwnedParts(doc, parts);
  return renderDomainXml(doc);
}

function uuidOf(xml: string): string {
  return /<uuid>([^<]+)<\/uuid>/.exec(xml)![1];
}

/** Child element names per owned container, keyed so ours and libvirt's line up. */
function orderSignature(xml: string): Map<string, string[]> {
  const root = new DOMParser().parseFromString(xml, "text/xml").documentElement!;
  const sig = new Map<string, string[]>();
  const kids = (el: Element) => Array.from(el.childNodes).filter((n) => n.nodeType === 1) as Element[];
  const attrs = (el: Element) => Array.from({ length: el.attributes.length }, (_, i) => `@${el.attributes.item(i)!.name}`);
  const visit = (key: string, el: Element) => sig.set(key, [...attrs(el), ...kids(el).map((c) => c.nodeName)]);
  visit("domain", root);
  for (const c of kids(root)) {
    if (["cputune", "numatune", "memoryBacking", "cpu", "vcpu"].includes(c.nodeName)) visit(c.nodeName, c);
    if (c.nodeName === "cpu") for (const g of kids(c)) visit(`cpu/${g.nodeName}`, g);
    if (c.nodeName !== "devices") continue;
    for (const dev of kids(c)) {
      const id = dev.getElementsByTagName("mac")[0]?.getAttribute("address") ?? dev.getElementsByTagName("target")[0]?.getAttribute("dev");
      if (!id || !["interface", "disk"].includes(dev.nodeName)) continue;
      visit(`${dev.nodeName}[${id}]`, dev);
      const drv = kids(dev).find((k) => k.nodeName === "driver");
      if (drv) visit(`${dev.nodeName}[${id}]/driver`, drv);
    }
  }
  return sig;
}

const cases = readdirSync(GOLDEN).filter((f) => f.endsWith(".input.xml")).map((f) => f.slice(0, -".input.xml".length)).sort();

describe("applyOwnedParts golden files", () => {
  it("has the golden cases", () => assert.ok(cases.length >= 8, cases.join(", ")));

  for (const name of cases) {
    const input = readFileSync(join(GOLDEN, `${name}.input.xml`), "utf8");
    const parts = JSON.parse(readFileSync(join(GOLDEN, `${name}.parts.json`), "utf8")) as Partial<OwnedParts>;
    const expectedFile = join(GOLDEN, `${name}.expected.xml`);

    describe(name, () => {
      const out = applied(input, parts);

      it("renders the expected XML, which passes virt-xml-validate", () => {
        if (UPDATE) writeFileSync(expectedFile, out);
        assert.ok(existsSync(expectedFile), `missing ${expectedFile}; run with UPDATE_GOLDEN=1`);
        assert.equal(out, readFileSync(expectedFile, "utf8"));
        assertValidDomain(out, `${name}.expected.xml`);
      });

      it("reads back in sync with the parts, and applying again changes nothing", () => {
        assert.deepEqual(diffOwnedParts(parts, readOwnedParts(parseDomainXml(out))).map(describeDiff), []);
        assert.equal(applied(out, parts), out);
      });

      it("is accepted by libvirt's parser, whose dump is in sync and orders things as we did", () => {
        const dump = libvirtRedump(out, uuidOf(out));
        assert.deepEqual(diffOwnedParts(parts, readOwnedParts(parseDomainXml(dump))).map(describeDiff), []);
        const ours = orderSignature(out);
        for (const [key, theirs] of orderSignature(dump)) {
          const mine = ours.get(key);
          if (!mine) continue;
          // libvirt adds and drops things (defaults, test-driver targets): compare the common names only.
          const common = (a: string[], b: string[]) => a.filter((x) => b.includes(x));
          assert.deepEqual(common(mine, theirs), common(theirs, mine), `order of ${key}`);
        }
      });
    });
  }
});

describe("applyOwnedParts keeps what it does not own", () => {
  const foreign = readFileSync(join(GOLDEN, "foreign.input.xml"), "utf8");

  it("keeps unknown elements, attributes and namespaced metadata through every kind of apply (schema-invalid on purpose)", () => {
    const xml = foreign
      .replace("<domain type='kvm'", "<domain type='kvm' xmlns:x='urn:x' x:owner='team-a'")
      .replace("  <vcpu placement='static'>4</vcpu>", "  <x:note level='1'>keep &amp; me</x:note>\n  <vcpu placement='static' future='yes'>4</vcpu>")
      .replace("    <shares>2048</shares>", "    <shares>2048</shares>\n    <vcpupin vcpu='0' cpuset='1' x:why='latency'/>\n    <futuretune weight='3'/>")
      .replace("  <memoryBacking>", "  <memoryBacking x:src='y'>")
      .replace("    <model fallback='allow'>qemu64</model>", "    <model fallback='allow'>qemu64</model>\n    <x:hint/>")
      .replace("<driver name='qemu' type='qcow2'", "<driver name='qemu' type='qcow2' future_policy='x'")
      .replace("      <rom bar='off'/>", "      <rom bar='off'/>\n      <x:tag v='1'>t</x:tag>")
      .replace("  </metadata>", "    <y:z xmlns:y='urn:y'><y:w a=\"1\">v</y:w></y:z>\n  </metadata>");
    const keep = [
      "xmlns:x='urn:x' x:owner='team-a'", "<x:note level='1'>keep &amp; me</x:note>", "future='yes'",
      "x:why='latency'", "<futuretune weight='3'/>", "x:src='y'", "<x:hint/>", "future_policy='x'",
      "<x:tag v='1'>t</x:tag>", "<y:z xmlns:y='urn:y'><y:w a=\"1\">v</y:w></y:z>",
      "<app:owner xmlns:app=\"https://example.org/app/1\" team=\"storage\" tier=\"gold\">",
      "<qemu:arg value='-no-user-config'/>", "<title>Database &amp; cache &quot;primary&quot;</title>",
    ];
    for (const k of keep) assert.ok(xml.includes(k), `setup: ${k}`);
    const all: Partial<OwnedParts>[] = [
      JSON.parse(readFileSync(join(GOLDEN, "foreign.parts.json"), "utf8")) as Partial<OwnedParts>,
      { vcpu: { count: 2, placement: null, cpuset: null }, cputune: { vcpupin: [{ vcpu: 0, cpuset: "2" }] } },
      { cputune: null, numatune: null, memoryBacking: null, cpu: null, osinfo: null, iothreads: null },
      { memoryBacking: { hugepages: [], locked: false }, cpu: { mode: "host-passthrough", topology: null } },
      { disks: { vda: { driver: null } }, interfaces: { "52:54:00:a1:00:01": { driver: null, model: null, mtu: null } } },
    ];
    for (const parts of all) {
      const out = applied(xml, parts);
      for (const k of keep) {
        // An owned element we were told to remove may take its unknown attribute along.
        if (k === "x:why='latency'" && (parts.cputune === null || parts.cputune?.vcpupin)) continue;
        assert.ok(out.includes(k), `${k} lost after applying ${JSON.stringify(parts)}`);
      }
    }
  });

  it("removing owned parts leaves unowned siblings and containers", () => {
    const out = applied(foreign, { cputune: { vcpupin: [{ vcpu: 0, cpuset: "1" }] } });
    const removed = applied(out, { cputune: null, memoryBacking: null, osinfo: null, numatune: null });
    assert.match(removed, /<cputune>\n {4}<shares>2048<\/shares>\n {4}<period>100000<\/period>/);
    assert.doesNotMatch(removed, /vcpupin/);
    assert.match(removed, /<memoryBacking>\n {4}<source type='memfd'\/>\n {4}<access mode='shared'\/>/);
    assert.match(removed, /<app:owner /);
    assert.equal(removed, foreign, "applying then removing gives back the input");
    assertValidDomain(removed);
    // cpu: null drops the owned attributes; model and features are someone else's.
    const noCpu = applied(foreign, { cpu: null });
    assert.match(noCpu, /<cpu>\n {4}<model fallback='allow'>qemu64<\/model>\n {4}<feature policy='require' name='x2apic'\/>/);
    assertValidDomain(noCpu);
  });

  it("rejects bad parts with every problem at once and leaves the document untouched", () => {
    const doc = parseDomainXml(foreign);
    const bad = {
      vcpu: { count: 0 },
      cputune: { vcpupin: [{ vcpu: 0, cpuset: "1-" }, { vcpu: 0, cpuset: "2" }] },
      numatune: { memory: { mode: "lenient" } },
      cpu: { topology: { sockets: 1, cores: 2 } },
      interfaces: { "01:00:5e:00:00:01": { type: "bridge", source: { attributes: { "bad name": "x" } } } },
      colour: "blue",
    } as unknown as Partial<OwnedParts>;
    assert.throws(() => applyOwnedParts(doc, bad), (e: Error) => {
      for (const want of [
        "vcpu.count: 0 is not an integer 1..65535",
        'cputune.vcpupin[0].cpuset: "1-" is not a cpuset',
        "cputune.vcpupin[1]: duplicate vcpu 0",
        'numatune.memory.mode: "lenient" is not one of strict, preferred, interleave, restrictive',
        "cpu.topology.threads: required",
        "devices.interface[01:00:5e:00:00:01]: key is not a unicast MAC address",
        'devices.interface[01:00:5e:00:00:01].source.attributes: "bad name" is not an attribute name',
        "colour: unknown part",
      ]) assert.ok(e.message.includes(want), `missing "${want}" in:\n${e.message}`);
      return true;
    });
    assert.equal(renderDomainXml(doc), foreign);
  });

  it("names devices it cannot find or create", () => {
    const doc = parseDomainXml(foreign);
    assert.throws(() => applyOwnedParts(doc, { disks: { vdz: { driver: { cache: "none" } } } }), /devices.disk\[vdz\]: no disk has this target dev/);
    assert.throws(() => applyOwnedParts(doc, { interfaces: { "52:54:00:00:00:09": { model: "virtio" } } }), /a new interface needs a type/);
    assert.throws(() => applyOwnedParts(doc, { hostdevs: { "usb:vendor=0x1": { managed: true } } }), /only PCI host devices/);
    assert.throws(() => applyOwnedParts(doc, { os: null }), /os: cannot be removed/);
    assert.throws(() => applyOwnedParts(doc, { vcpu: { count: 2, current: 3 } }), /vcpu.current: 3 is more than vcpu.count 2/);
    assert.throws(() => applyOwnedParts(doc, { interfaces: { "52:54:00:a1:00:02": { type: "bridge" } } }), /changing the type to 'bridge' needs its source too/);
    assert.equal(renderDomainXml(doc), foreign);
  });

  it("`cpu.numa: []` removes <numa> as null does (an empty <numa/> fails libvirt's schema: \"Extra element cpu in interleave\")", () => {
    const xml = readFileSync(join(GOLDEN, "retune.input.xml"), "utf8");
    assert.match(xml, /<numa>\n {6}<cell id='0'/);
    const none: Partial<OwnedParts> = { numatune: { memnode: [] }, cpu: { numa: [] } };
    const out = applied(xml, none);
    assert.doesNotMatch(out, /<numa[>/]/);
    assert.equal(out, applied(xml, { numatune: { memnode: [] }, cpu: { numa: null } }));
    assert.match(out, /<cpu mode='custom' match='exact' check='none'>\n {4}<model fallback='allow'>qemu64<\/model>\n {4}<topology sockets='2' dies='1' cores='1' threads='1'\/>\n {2}<\/cpu>/);
    assertValidDomain(out);
    assert.deepEqual(diffOwnedParts(none, readOwnedParts(parseDomainXml(libvirtRedump(out, uuidOf(out))))).map(describeDiff), []);
    assert.equal(applied(out, none), out);
    // A <cpu> holding nothing else goes with it.
    const bare = xml.replace(/<cpu mode='custom' match='exact' check='none'>[\s\S]*?<\/cpu>/, "<cpu>\n    <numa>\n      <cell id='0' cpus='0-1' memory='131072' unit='KiB'/>\n    </numa>\n  </cpu>");
    assert.doesNotMatch(applied(bare, none), /<cpu[ >]/);
  });

  it("keeps an existing spelling that means the same (cpusets, sizes)", () => {
    const xml = readFileSync(join(GOLDEN, "retune.input.xml"), "utf8");
    const same: Partial<OwnedParts> = {
      memory: { value: 128, unit: "MiB" },
      vcpu: { count: 2, placement: "static" },
      cputune: { vcpupin: [{ vcpu: 0, cpuset: "0,0" }, { vcpu: 1, cpuset: "0-1,^0" }], emulatorpin: { cpuset: "0" }, iothreadpin: [{ iothread: 1, cpuset: "1" }] },
      numatune: { memory: { mode: "strict", nodeset: "0" } },
      cpu: { topology: { sockets: 2, cores: 1, threads: 1 }, numa: [{ id: 0, cpus: "0", memory: 64, unit: "MiB" }, { id: 1, cpus: "1", memory: 67108864, unit: "bytes" }] },
    };
    assert.equal(applied(xml, same), xml);
  });
});
