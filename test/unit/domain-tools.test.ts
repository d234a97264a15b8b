// The two libvirt tools the domain XML tests lean on, and checks that they are
// really there: virt-xml-validate (libvirt's RNG schemas) and virsh's built-in
// test driver (libvirt's own domain parser and formatter, no daemon needed).
// A missing tool fails these tests; nothing is skipped.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

let dir: string | null = null;
let counter = 0;

function scratchFile(xml: string): string {
  dir ??= mkdtempSync(join(tmpdir(), "kvmtune-domain-"));
  const file = join(dir, `d${counter++}.xml`);
  writeFileSync(file, xml);
  return file;
}

process.on("exit", () => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function run(cmd: string, args: string[]): { ok: boolean; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") {
    throw new Error(`${cmd} is not installed (apt-get install libvirt-clients libxml2-utils)`);
  }
  if (r.error) throw r.error;
  return { ok: r.status === 0, out: r.stdout, err: r.stderr };
}

/** Runs `virt-xml-validate <file> domain`; throws with its output unless the XML validates. */
export function assertValidDomain(xml: string, label = "domain"): void {
  const r = run("virt-xml-validate", [scratchFile(xml), "domain"]);
  if (!r.ok) throw new Error(`${label} fails virt-xml-validate:\n${r.err}\n${xml}`);
}

/**
 * Defines the domain in virsh's test driver and returns libvirt's own dump of it
 * (`virsh dumpxml` after libvirt's parser and post-parse defaults).
 */
export function libvirtRedump(xml: string, uuid: string): string {
  const file = scratchFile(xml);
  if (!/^[\w/.-]+$/.test(file) || !/^[0-9a-f-]{36}$/.test(uuid)) throw new Error(`unexpected path or uuid: ${file} ${uuid}`);
  const r = run("virsh", ["-q", "-c", "test:///default", `define ${file}; dumpxml ${uuid}`]);
  if (!r.ok) throw new Error(`libvirt rejected the domain:\n${r.err}\n${xml}`);
  return r.out;
}

describe("domain XML test tools", () => {
  it("virt-xml-validate accepts virsh's sample domain and rejects a broken one", () => {
    const sample = run("virsh", ["-c", "test:///default", "dumpxml", "test"]);
    assert.ok(sample.ok, sample.err);
    assertValidDomain(sample.out);
    assert.throws(() => assertValidDomain(sample.out.replace("<vcpu placement='static'>2</vcpu>", "<vcpu>two</vcpu>")), /fails virt-xml-validate/);
  });

  it("virsh's test driver parses and re-dumps a domain with libvirt's defaults", () => {
    const xml = "<domain type='qemu'><name>t</name><uuid>6b766d74-0000-4000-8000-0000000000ff</uuid><memory>65536</memory><os><type>hvm</type></os></domain>";
    const out = libvirtRedump(xml, "6b766d74-0000-4000-8000-0000000000ff");
    assert.match(out, /<memory unit='KiB'>65536<\/memory>/);
    assert.match(out, /<vcpu placement='static'>1<\/vcpu>/);
    assert.throws(() => libvirtRedump("<domain type='qemu'><name>t</name></domain>", "6b766d74-0000-4000-8000-0000000000fe"), /libvirt rejected/);
  });
});
