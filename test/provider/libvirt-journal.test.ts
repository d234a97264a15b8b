// The journal of originals for libvirt resources, on a real libvirtd (the bed
// keeps /var/lib/kvmtune private). What a killed CLI leaves, a host changed and
// a state without the resource, is played by calling create a second time with
// the same inputs: an adopted domain keeps its true originals, and a domain or
// device kvmtune made itself is converged instead of refused as "already exists".
import { strict as assert } from "node:assert";
import * as domainImpl from "../../provider/resources/libvirt-domain-impl";
import * as deviceImpl from "../../provider/resources/guest-device-impl";
import { startLibvirtd, type Libvirtd } from "../support/libvirtd";
import { createDiskImage, defineDomain, mustVirsh, tinyDomainXml } from "../support/libvirtd-domain";

const A = { stack: "acme/kvm/prod", resource: "db1-domain" };
const B = { stack: "acme/kvm/lab", resource: "db9-domain" };

describe("journal of originals for libvirt domains and devices (real libvirtd)", function () {
  this.timeout(300_000);
  let lv: Libvirtd;
  let connection: Record<string, unknown>;
  const virsh = (...args: string[]) => mustVirsh(lv, args);
  const sh = async (cmd: string) => (await lv.ssh(cmd)).stdout;
  /** The journal's lines without their times; "none" when there is no journal. */
  const journal = () => sh(`if [ -e /var/lib/kvmtune/journal ]; then sed 's/,"since":"[^"]*"//' /var/lib/kvmtune/journal; else echo none; fi`);
  const pins = async (name: string) => /<cputune>[\s\S]*<\/cputune>/.exec(await virsh("-q", "dumpxml", "--inactive", name))?.[0] ?? "(none)";

  before(async () => {
    lv = await startLibvirtd({ bridges: [{ name: "br0" }] });
    connection = { host: lv.host, port: lv.port, user: "root", privateKey: lv.privateKey, hostKey: lv.hostKey };
    assert.equal(await journal(), "none\n", "the bed starts without a journal");
  });
  after(async () => lv?.stop());

  it("an adopted domain re-created with lost state keeps the originals recorded before the first write; delete puts them back", async () => {
    await defineDomain(lv, tinyDomainXml({ name: "kvmt-j1", vcpus: 2, vcpupin: ["0", "0"] }));
    const original = await pins("kvmt-j1");
    const inputs = { connection, name: "kvmt-j1", mode: "adopt" as const, parts: { cputune: { vcpupin: [{ vcpu: 0, cpuset: "1" }, { vcpu: 1, cpuset: "1" }] } }, owner: A };
    const first = await domainImpl.create(inputs);
    const recorded = JSON.stringify({ parts: { cputune: first.outs.originals!.cputune }, autostart: null });
    assert.equal(await journal(), `${JSON.stringify({ key: "domain:kvmt-j1", ...A, tag: "(libvirt)", original: recorded })}\n`);
    assert.notEqual(await pins("kvmt-j1"), original);

    const again = await domainImpl.create(inputs);
    assert.deepEqual(again.outs.originals, first.outs.originals, "the originals from before kvmtune, not its own pins");

    await domainImpl.remove(again.id, { ...again.outs, originals: { cputune: again.outs.parts!.cputune } } as never);
    assert.equal(await pins("kvmt-j1"), original, "the journal's originals, even where state held the tuned ones");
    assert.equal(await journal(), "none\n");
    await virsh("undefine", "kvmt-j1");
  });

  it("a domain adopted by another stack is refused before any write, naming its owner", async () => {
    await defineDomain(lv, tinyDomainXml({ name: "kvmt-j2", vcpus: 2 }));
    const a = await domainImpl.create({ connection, name: "kvmt-j2", mode: "adopt", parts: { cputune: { emulatorpin: { cpuset: "1" } } }, owner: A });
    const before = await virsh("-q", "dumpxml", "--inactive", "kvmt-j2");
    await assert.rejects(domainImpl.create({ connection, name: "kvmt-j2", mode: "adopt", parts: { cputune: { emulatorpin: { cpuset: "0" } } }, owner: B }), (err: Error) => {
      assert.match(err.message, new RegExp(`^invalid domain 'kvmt-j2' on 127\\.0\\.0\\.1:${lv.port} \\(nothing was changed\\):\\n  - domain:kvmt-j2 is owned by resource "db1-domain" of stack acme/kvm/prod since \\S+ \\(journal /var/lib/kvmtune/journal\\); remove that resource first, or remove its line from the journal if it no longer exists$`));
      return true;
    });
    assert.equal(await virsh("-q", "dumpxml", "--inactive", "kvmt-j2"), before);
    await domainImpl.remove(a.id, a.outs as never);
    assert.equal(await journal(), "none\n");
    await virsh("undefine", "kvmt-j2");
  });

  it("a domain kvmtune defined is converged, not refused, when created again with lost state; delete undefines it and drops its line", async () => {
    const img = await createDiskImage(lv, "kvmt-j3.raw", 16);
    const inputs = { connection, name: "kvmt-j3", mode: "define" as const, domain: { memoryMiB: 64, vcpus: 2, type: "qemu" as const, disks: [{ path: img }] }, parts: { cputune: { emulatorpin: { cpuset: "1" } } }, owner: A };
    const first = await domainImpl.create(inputs);
    assert.equal(await journal(), `${JSON.stringify({ key: "domain:kvmt-j3", ...A, tag: "(libvirt)", original: null })}\n`);
    const again = await domainImpl.create(inputs);
    assert.equal(again.outs.uuid, first.outs.uuid, "the same domain, converged");
    await domainImpl.remove(again.id, again.outs as never);
    assert.equal((await lv.virsh(["domstate", "kvmt-j3"])).code, 1, "undefined");
    assert.equal(await journal(), "none\n");
  });

  it("a device kvmtune attached is converged, not refused, when created again with lost state; delete detaches it and drops its line", async () => {
    await defineDomain(lv, tinyDomainXml({ name: "kvmt-j4", vcpus: 2 }));
    const inputs = { connection, domain: "kvmt-j4", interface: { type: "bridge" as const, source: "br0", mac: "52:54:00:6b:00:41" }, owner: { stack: A.stack, resource: "db1-net-nic" } };
    const first = await deviceImpl.create(inputs);
    assert.equal(await journal(), `${JSON.stringify({ key: "device:kvmt-j4:interface:52:54:00:6b:00:41", stack: A.stack, resource: "db1-net-nic", tag: "(libvirt)", original: null })}\n`);
    const again = await deviceImpl.create(inputs);
    assert.equal(again.outs.xml, first.outs.xml);
    assert.equal((await virsh("-q", "dumpxml", "--inactive", "kvmt-j4")).match(/52:54:00:6b:00:41/g)?.length, 1, "attached once");
    // A device of the same MAC that kvmtune did not attach is still refused.
    await assert.rejects(deviceImpl.create({ ...inputs, owner: { stack: B.stack, resource: "other-nic" } }), /is owned by resource "db1-net-nic" of stack acme\/kvm\/prod/);
    await deviceImpl.remove(again.id, again.outs as never);
    assert.doesNotMatch(await virsh("-q", "dumpxml", "--inactive", "kvmt-j4"), /52:54:00:6b:00:41/);
    assert.equal(await journal(), "none\n");
    await virsh("undefine", "kvmt-j4");
  });
});
