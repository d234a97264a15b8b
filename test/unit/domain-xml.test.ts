// parseDomainXml / renderDomainXml / readOwnedParts: byte-identical round trips
// of real `virsh dumpxml` output (test/fixtures/domains, captured from a real
// libvirtd) and of our own inputs, escaping, and refusing bad input.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DOMParser, XMLSerializer } from "@xmldom/xmldom";
import {
  applyOwnedParts, parseDomainXml, readOwnedParts, renderDomainXml,
} from "../../provider/libvirt";
import { assertValidDomain, libvirtRedump } from "./domain-tools.test";

const FIXTURES = join(__dirname, "../fixtures");

function xmlFiles(dir: string, filter: (f: string) => boolean = () => true): [string, string][] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith(".xml") && filter(f)).sort().map((f) => [f, readFileSync(join(dir, f), "utf8")]);
}

/** What the schema needs besides a name, so small test documents validate. */
const SKELETON = "<memory unit='KiB'>65536</memory><os><type arch='x86_64'>hvm</type></os>";

const withoutDeclaration = (xml: string) => xml.replace(/^<\?xml[^?]*\?>\s*/, "");
/** xmldom's own serialisation of a parse: equal means the same DOM. */
const canonical = (xml: string) => new XMLSerializer().serializeToString(new DOMParser().parseFromString(xml, "text/xml"));

const virshSample = (() => {
  const r = spawnSync("virsh", ["-c", "test:///default", "dumpxml", "test"], { encoding: "utf8" });
  if (r.error || r.status !== 0) throw new Error(`virsh -c test:///default dumpxml test failed: ${r.error?.message ?? r.stderr}`);
  return r.stdout;
})();

describe("domain XML round trip", () => {
  const captured = xmlFiles(join(FIXTURES, "domains"));
  const ours = xmlFiles(join(FIXTURES, "domain-golden"));
  const all: [string, string][] = [
    ...captured.map(([f, x]) => [`domains/${f}`, x] as [string, string]),
    ...ours.map(([f, x]) => [`domain-golden/${f}`, x] as [string, string]),
    ["virsh test:///default dumpxml test", virshSample],
  ];

  it("has inputs: captured dumps (when present), golden files and virsh's sample", () => {
    assert.ok(ours.length >= 16);
    if (existsSync(join(FIXTURES, "domains"))) assert.ok(captured.length > 0);
  });

  for (const [name, xml] of all) {
    it(`${name}: parse -> render is identical, schema-valid, and reads`, () => {
      const out = renderDomainXml(parseDomainXml(xml));
      assert.equal(out, withoutDeclaration(xml));
      assertValidDomain(out, name);
      readOwnedParts(parseDomainXml(out));
    });
  }

  it("drops the XML declaration and keeps comments and processing instructions", () => {
    const body = `<!-- edited by hand -->\n<domain type='kvm'><name>x</name>${SKELETON}<?kvmtune keep?></domain>\n`;
    const out = renderDomainXml(parseDomainXml(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`));
    assert.equal(out, body);
    assertValidDomain(out);
  });

  it("renders the same DOM xmldom does, for every captured dump after an edit", () => {
    for (const [name, xml] of all) {
      const doc = parseDomainXml(xml);
      applyOwnedParts(doc, { osinfo: "http://example.org/os/1", vcpu: { count: 3, cpuset: "0-2" } });
      const out = renderDomainXml(doc);
      assert.equal(canonical(out), new XMLSerializer().serializeToString(doc.document).replace(/^<\?xml[^?]*\?>/, "").trimStart(), name);
      assertValidDomain(out, name);
    }
  });

  it("keeps an element's spelling until its attributes change, then writes it in the source's quote style", () => {
    const xml = "<domain type=\"kvm\">\n  <name>x</name>\n  <memory>65536</memory>\n  <vcpu  placement = \"static\"  >2</vcpu>\n  <os><type arch='x86_64'>hvm</type><boot dev='hd'></boot></os>\n</domain>\n";
    assert.equal(renderDomainXml(parseDomainXml(xml)), xml);
    const doc = parseDomainXml(xml);
    applyOwnedParts(doc, { vcpu: { count: 2, cpuset: "1" } });
    const out = renderDomainXml(doc);
    assert.equal(out, xml.replace(`<vcpu  placement = "static"  >2</vcpu>`, `<vcpu placement="static" cpuset="1">2</vcpu>`));
    assertValidDomain(out);
  });
});

describe("domain XML escaping", () => {
  const name = `a<&'"]]>b`;

  it("a libvirt dump of a name with <&'\" round-trips as text, and libvirt reads our rendering back", () => {
    const xml = readFileSync(join(FIXTURES, "domain-golden", "escaping.input.xml"), "utf8");
    const doc = parseDomainXml(xml);
    assert.equal(doc.domain.getElementsByTagName("name")[0].textContent, `db<&'">1`);
    const out = renderDomainXml(doc);
    assert.match(out, /<name>db&lt;&amp;&apos;&quot;&gt;1<\/name>/);
    assert.equal(parseDomainXml(out).domain.getElementsByTagName("name")[0].textContent, `db<&'">1`);
    assert.match(libvirtRedump(out, "6b766d74-0000-4000-8000-0000000000a2"), /<name>db&lt;&amp;&apos;&quot;&gt;1<\/name>/);
  });

  it("text and attribute values set through the DOM are escaped, in libvirt's style and in libxml2's (metadata)", () => {
    const doc = parseDomainXml(`<domain type='kvm'>\n  <name>x</name>\n  ${SKELETON}\n</domain>\n`);
    doc.domain.getElementsByTagName("name")[0].textContent = name;
    applyOwnedParts(doc, {
      osinfo: `id'"<&>\t\n`,
      interfaces: { "52:54:00:00:00:01": { type: "network", source: { attributes: { network: `n'"<&>\t\r\n` } } } },
    });
    const out = renderDomainXml(doc);
    assert.match(out, /<name>a&lt;&amp;&apos;&quot;\]\]&gt;b<\/name>/);
    assert.match(out, /<libosinfo:os id="id'&quot;&lt;&amp;&gt;&#9;&#10;"\/>/);
    assert.match(out, /<source network='n&apos;&quot;&lt;&amp;&gt;&#9;&#13;&#10;'\/>/);
    const back = parseDomainXml(out);
    assert.equal(back.domain.getElementsByTagName("name")[0].textContent, name);
    const parts = readOwnedParts(back);
    assert.equal(parts.osinfo, `id'"<&>\t\n`);
    assert.equal(parts.interfaces["52:54:00:00:00:01"]!.source!.attributes.network, `n'"<&>\t\r\n`);
    assertValidDomain(out);
  });

  it("any mix of markup characters, whitespace and non-ASCII survives render -> parse (seeded random strings)", () => {
    const pool = ["<", ">", "&", "'", '"', "]]>", "&amp;", "\t", "\n", "\r", " ", "a", "Z", "9", "é", "€", "𝄞", "中", "-", "--"];
    let seed = 42;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let i = 0; i < 300; i++) {
      const s = Array.from({ length: 1 + rnd(12) }, () => pool[rnd(pool.length)]).join("");
      const doc = parseDomainXml(`<domain type='kvm'><name>x</name><metadata><m:x xmlns:m='urn:m'/></metadata>${SKELETON}</domain>`);
      doc.domain.getElementsByTagName("name")[0].textContent = s;
      const meta = doc.domain.getElementsByTagName("m:x")[0];
      meta.setAttribute("v", s);
      meta.textContent = s;
      applyOwnedParts(doc, { interfaces: { "52:54:00:00:00:01": { type: "network", source: { attributes: { network: s } } } } });
      const back = parseDomainXml(renderDomainXml(doc));
      assert.equal(back.domain.getElementsByTagName("name")[0].textContent, s);
      assert.equal(back.domain.getElementsByTagName("m:x")[0].getAttribute("v"), s);
      assert.equal(back.domain.getElementsByTagName("m:x")[0].textContent, s);
      assert.equal(readOwnedParts(back).interfaces["52:54:00:00:00:01"]!.source!.attributes.network, s);
    }
  });

  it("refuses to render characters XML cannot carry", () => {
    const doc = parseDomainXml("<domain type='kvm'><name>x</name></domain>");
    doc.domain.getElementsByTagName("name")[0].textContent = "bell\u0007";
    assert.throws(() => renderDomainXml(doc), /character XML does not allow/);
    doc.domain.getElementsByTagName("name")[0].textContent = "lone \ud800 surrogate";
    assert.throws(() => renderDomainXml(doc), /character XML does not allow/);
  });
});

describe("parseDomainXml rejects bad input", () => {
  const cases: [string, string, RegExp][] = [
    ["empty", "", /not well-formed XML: .*missing root element/],
    ["not XML", "name: db1\nvcpus: 4\n", /not well-formed XML/],
    ["unclosed", "<domain type='kvm'><name>x</name>", /not well-formed XML: .*unclosed/],
    ["mismatched", "<domain><name>x</nam></domain>", /not well-formed XML/],
    ["unquoted attribute", "<domain type=kvm/>", /not well-formed XML/],
    ["duplicate attribute", "<domain type='a' type='b'/>", /not well-formed XML: .*redefined/],
    ["raw < in a name", "<domain><name>a<b</name></domain>", /not well-formed XML/],
    ["raw & in a name", "<domain><name>a & b</name></domain>", /not well-formed XML/],
    ["unknown entity", "<domain><name>&nbsp;</name></domain>", /not well-formed XML/],
    ["DOCTYPE with entities", "<!DOCTYPE domain [<!ENTITY x 'y'>]><domain><name>x</name></domain>", /DOCTYPE|not well-formed/],
    ["trailing content", "<domain/><domain/>", /not well-formed XML/],
    ["not a domain", "<network><name>default</name></network>", /not a libvirt domain: root element is <network>/],
    ["a namespaced domain", "<d:domain xmlns:d='urn:x'/>", /not a libvirt domain/],
    ["a domain in a namespace", "<domain xmlns='urn:x'/>", /not a libvirt domain/],
  ];
  for (const [what, xml, err] of cases) {
    it(what, () => assert.throws(() => parseDomainXml(xml), err));
  }

  it("a DOCTYPE without entities", () => assert.throws(() => parseDomainXml("<!DOCTYPE domain><domain/>"), /must not have a DOCTYPE/));
  it("a non-string", () => assert.throws(() => parseDomainXml(42 as unknown as string), /must be a string/));

  it("values libvirt never writes, when reading owned parts", () => {
    assert.throws(() => readOwnedParts(parseDomainXml("<domain><vcpu>four</vcpu></domain>")), /vcpu is "four", expected a decimal integer/);
    assert.throws(() => readOwnedParts(parseDomainXml("<domain><cputune><vcpupin vcpu='x' cpuset='1'/></cputune></domain>")), /vcpupin vcpu/);
  });
});
