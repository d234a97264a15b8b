// GuestDevice's serialised provider through the SDK's dynamic-provider server
// against a real libvirtd (TCG domains in the test bed's namespaces): a vhost
// multiqueue interface and a block passthrough disk (a loop device made for the
// test) are hot-plugged into a guest running a real Linux kernel, read back from
// the live and persistent XML, qemu (QMP, command line) and the guest kernel's
// console, drift-checked, updated and detached (the guest kernel acknowledges
// the unplug). Every refusal is checked to leave the domain untouched.
import { strict as assert } from "node:assert";
import { guestDeviceProvider } from "../../provider/resources/guest-device";
import { stableMac } from "../../provider/plan/vhost-net";
import { dynamicUrn, serializeDynamicProvider, startDynamicProviderServer, withProvider, type DynamicProviderClient, type DynamicProviderError, type Props } from "../support/provider-server";
import { startLibvirtd, shQuote, type Libvirtd } from "../support/libvirtd";
import { defineDomain, mustVirsh, qemuPid, tinyDomainXml } from "../support/libvirtd-domain";
import { bootingGuestXml, guestConsole, waitForGuestBoot } from "../support/libvirtd-guest";

describe("GuestDevice through the SDK's dynamic-provider server (real libvirtd)", function () {
  this.timeout(240_000);
  let lv: Libvirtd;
  let server: DynamicProviderClient;
  let text: string;
  let connection: Record<string, unknown>;
  const guest = "kvmt-gd1";
  const virsh = (...args: string[]) => mustVirsh(lv, args);
  const inactive = (name = guest) => virsh("-q", "dumpxml", "--inactive", name);
  const live = (name = guest) => virsh("-q", "dumpxml", name);
  const cmdline = async (name = guest) => (await lv.ssh(`tr '\\0' ' ' < /proc/${await qemuPid(lv, name)}/cmdline`)).stdout;
  const props = (p: Props) => withProvider({ connection, domain: guest, ...p }, text);
  const failure = async (p: Promise<unknown>): Promise<string> => {
    try {
      await p;
    } catch (err) {
      return (err as DynamicProviderError).message;
    }
    throw new Error("expected a failure");
  };
  /** Polls (every 500 ms, up to 30 s): hot-plug events reach the guest and libvirt asynchronously. */
  const until = async (ok: () => boolean | Promise<boolean>, what: string) => {
    for (const t0 = Date.now(); !(await ok()); await new Promise((r) => setTimeout(r, 500))) {
      if (Date.now() - t0 > 30_000) throw new Error(`timed out waiting for ${what}; guest console:\n${guestConsole(lv, guest).slice(-1500)}`);
    }
  };
  /** Changes the persistent XML by hand, as an operator with `virsh edit` would. */
  const editByHand = async (from: RegExp, to: string) => {
    const xml = await inactive();
    assert.match(xml, from);
    await mustVirsh(lv, ["define", "/dev/stdin"], { input: xml.replace(from, to) });
  };

  before(async () => {
    [lv, server, text] = await Promise.all([startLibvirtd({ bridges: [{ name: "br0", mtu: 9000 }] }), startDynamicProviderServer(), serializeDynamicProvider(guestDeviceProvider)]);
    connection = { host: lv.host, port: lv.port, user: "root", privateKey: lv.privateKey, hostKey: lv.hostKey };
    // q35 hot-plug needs free PCIe root ports (libvirt adds none of its own) and a guest kernel to take the device.
    await defineDomain(lv, bootingGuestXml(lv, { name: guest, vcpus: 4 }));
    await virsh("start", guest);
    await waitForGuestBoot(lv, guest);
  });
  after(async () => {
    await server?.stop();
    await lv?.stop();
  });

  it("serialises to a bare require of kvmtune", () => {
    assert.ok(text.includes('require("kvmtune/dist/provider/resources/guest-device-impl")'));
    assert.ok(!text.includes("/work/"));
  });

  describe("vhost multiqueue interface on a bridge", () => {
    const mac = stableMac("kvmt-gd1-net");
    const urn = dynamicUrn("kvmt-gd1-net");
    let inputs: Props;
    let id: string;
    let outs: Props;

    it("hot-plugs it into the running domain: live and persistent XML carry vhost, 4 queues and MTU 9000; qemu runs 4 tap queues", async () => {
      const checked = await server.check(urn, {}, props({ interface: { type: "bridge", source: "br0", mac, mtu: 9000 } }));
      assert.deepEqual(checked.failures, []);
      inputs = checked.inputs;
      ({ id, outs } = await server.create(urn, inputs));
      assert.equal(id, `127.0.0.1:${lv.port}/${guest}/interface/${mac}`);
      assert.deepEqual([outs.attachedLive, outs.restartRequired, outs.drift, outs.state], [true, false, [], "running"]);
      // queues = min(vCPUs 4, 8)
      const want = new RegExp(`<interface type='bridge'>\\n\\s+<mac address='${mac}'/>\\n\\s+<source bridge='br0'/>\\n(.|\\n)*<model type='virtio'/>\\n\\s+<driver name='vhost' queues='4'/>\\n(.|\\n)*<mtu size='9000'/>`);
      assert.match(await inactive(), want);
      assert.match(await live(), want);
      // Hot-plugged: qemu got it over QMP, so ask qemu itself rather than its command line.
      const qmp = async (cmd: object) => JSON.parse(await virsh("qemu-monitor-command", guest, JSON.stringify(cmd))).return;
      const net = await virsh("qemu-monitor-command", guest, "--hmp", "info network");
      assert.deepEqual(net.match(/hostnet0: index=\d,type=tap/g), [0, 1, 2, 3].map((i) => `hostnet0: index=${i},type=tap`), "four tap queues");
      const qom = (property: string) => qmp({ execute: "qom-get", arguments: { path: "/machine/peripheral/net0", property } });
      assert.deepEqual([await qom("mq"), await qom("vectors"), await qom("host_mtu"), await qom("mac"), await qom("hotplugged")], [true, 10, 9000, mac, true]);
      // TCG: libvirt leaves vhost out of the netdev (no vhostfds); the resource says so instead of pretending.
      assert.doesNotMatch(net, /vhost/);
      // The guest kernel found the new virtio NIC (PCI class 0x020000) on a hot-plug port.
      await until(() => /pci 0000:0\d:00\.0: \[1af4:1041\] type 00 class 0x020000/.test(guestConsole(lv, guest)), "the guest kernel to see the NIC");
      assert.deepEqual(outs.notes, ["the domain is type 'qemu' (TCG, no KVM): libvirt and QEMU run its virtio-net in userspace, so <driver name='vhost'> only takes effect once the domain is type 'kvm'"]);
    });

    it("reads an untouched interface as in sync", async () => {
      const read = await server.read(id, urn, outs);
      assert.deepEqual(read.inputs, inputs);
      assert.deepEqual([read.props.drift, read.props.restartRequired], [[], false]);
      assert.equal((await server.diff(id, urn, read.props, inputs)).changes, "none");
    });

    it("names a hand-changed queue count and MTU, and update puts them back", async () => {
      await editByHand(/<driver name='vhost' queues='4'\/>/, "<driver name='vhost' queues='2'/>");
      await editByHand(/<mtu size='9000'\/>/, "<mtu size='1500'/>");
      const read = await server.read(id, urn, outs);
      assert.deepEqual(read.props.drift, [`devices.interface[${mac}].driver.queues: 2 → 4`, `devices.interface[${mac}].mtu: 1500 → 9000`]);
      assert.deepEqual(read.inputs!.interface, { type: "bridge", source: "br0", mac, mtu: 1500, queues: 2 });
      assert.equal((await server.diff(id, urn, read.props, inputs)).changes, "some");
      const updated = await server.update(id, urn, read.props, inputs);
      assert.deepEqual([updated.outs.drift, updated.outs.restartRequired], [[], false]);
      assert.match(await inactive(), /<driver name='vhost' queues='4'\/>\n(.|\n)*<mtu size='9000'\/>/);
      outs = updated.outs;
    });

    it("a queue change the running guest cannot take is written to the definition and marked restart-required", async () => {
      const news = { ...inputs, interface: { ...(inputs.interface as Props), queues: 2 } };
      const updated = await server.update(id, urn, outs, news);
      assert.deepEqual([updated.outs.restartRequired, updated.outs.restartReasons, updated.outs.drift], [true, [`devices.interface[${mac}].driver.queues: 4 → 2`], []]);
      assert.match(await inactive(), /<driver name='vhost' queues='2'\/>/);
      assert.match(await live(), /<driver name='vhost' queues='4'\/>/);
      // After a restart qemu starts with the definition: two tap queues on its command line, nothing pending.
      await virsh("destroy", guest);
      await virsh("start", guest);
      assert.match(await cmdline(), /-netdev \{"type":"tap","fds":"\d+:\d+","id":"hostnet0"\}/);
      assert.match(await cmdline(), new RegExp(`"driver":"virtio-net-pci","mq":true,"vectors":6,"host_mtu":9000,"netdev":"hostnet0","id":"net0","mac":"${mac}"`));
      const read = await server.read(id, urn, updated.outs);
      assert.deepEqual([read.props.restartRequired, read.props.drift], [false, []]);
      outs = read.props;
    });

    it("delete detaches it from the definition and from the running guest, whose kernel releases it", async () => {
      await waitForGuestBoot(lv, guest);
      await server.delete(id, urn, outs);
      assert.doesNotMatch(await inactive(), new RegExp(mac));
      await until(async () => !(await live()).includes(mac), "the running domain to drop the NIC");
    });
  });

  describe("refusals before any change", () => {
    const urn = dynamicUrn("kvmt-bad");
    const iface = (i: Props) => props({ interface: { type: "bridge", source: "br0", mac: "52:54:00:6b:00:01", ...i } });

    it("check names malformed MACs, queue and MTU ranges, shell text and unknown fields", async () => {
      const r = await server.check(urn, {}, iface({ mac: "52:54:00:6B:00:1", queues: 257, mtu: 65536, source: "br0$(reboot)", speed: 10 }));
      assert.deepEqual(r.failures.map((f) => f.reason), [
        "interface.speed: unknown field; accepted fields: type, source, mac, queues, mtu, rxQueueSize, txQueueSize, vlan",
        "interface.queues: 257 is not accepted; expected a whole number from 1 to 256",
        `interface.mac: "52:54:00:6B:00:1" is not accepted; expected six lower-case hex pairs such as 52:54:00:12:34:56`,
        "interface.mtu: 65536 is not accepted; expected 68 to 65535",
        `interface.source: "br0$(reboot)" is not accepted; expected an interface or network name (letters, digits, '_', '.', '-'; at most 15)`,
      ]);
    });

    it("create refuses queues above the vCPUs, an MTU above the bridge's, and a missing bridge or network, naming each", async () => {
      const before = await inactive();
      assert.match(await failure(server.create(urn, iface({ queues: 6, mtu: 9001 }))), /interface\.queues: 6 is more than the guest's 4 vCPUs; expected at most 4 \(one queue per vCPU\)\n\s+- interface\.mtu: 9001 is more than br0's MTU 9000; raise it on the host first/);
      assert.match(await failure(server.create(urn, iface({ source: "br9" }))), /interface\.source: bridge "br9" does not exist on this host; it has .*br0/);
      assert.match(await failure(server.create(urn, iface({ type: "network", source: "tenant" }))), /interface\.source: libvirt network "tenant" does not exist on .*; it has none/);
      assert.equal(await inactive(), before);
    });
  });

  describe("a running guest with no free hot-plug slot", () => {
    it("attaches to the definition only, says why, and marks it restart-required", async () => {
      const dom = "kvmt-gd4";
      // libvirt leaves one PCIe root port free; the first NIC takes it, so q35 has no slot for a second while running.
      await defineDomain(lv, tinyDomainXml({ name: dom, vcpus: 1 }));
      await virsh("start", dom);
      const first = await server.create(dynamicUrn("n4a"), withProvider({ connection, domain: dom, interface: { type: "bridge", source: "br0", mac: "52:54:00:6b:00:14" } }, text));
      assert.equal(first.outs.attachedLive, true);
      const mac = "52:54:00:6b:00:04";
      const { outs } = await server.create(dynamicUrn("n4"), withProvider({ connection, domain: dom, interface: { type: "bridge", source: "br0", mac } }, text));
      assert.deepEqual([outs.attachedLive, outs.restartRequired, outs.restartReasons], [false, true, [`devices.interface[${mac}]: (absent) → bridge bridge=br0 virtio`]]);
      assert.match((outs.notes as string[]).join("\n"), /the running domain refused the hot-plug \(virsh attach of 'kvmt-gd4' on 127\.0\.0\.1:\d+ failed: .*\); the persistent definition was changed, the guest sees it after its next restart/);
      assert.match(await inactive(dom), new RegExp(mac));
      assert.doesNotMatch(await live(dom), new RegExp(mac));
      await virsh("destroy", dom);
    });
  });

  describe("two devices of one domain changed at once (as pulumi up runs them)", () => {
    it("attaches and updates a NIC and a disk concurrently without either write losing the other's device", async () => {
      const dom = "kvmt-gd3";
      await defineDomain(lv, tinyDomainXml({ name: dom, vcpus: 2 }));
      const loop3 = await lv.loopDevice("kvmt-gd3.raw", 8);
      try {
        const nicIn = withProvider({ connection, domain: dom, interface: { type: "bridge", source: "br0", mac: "52:54:00:6b:00:03" } }, text);
        const diskIn = withProvider({ connection, domain: dom, disk: { path: loop3, target: "vdb" } }, text);
        const [nic, disk] = await Promise.all([server.create(dynamicUrn("n3"), nicIn), server.create(dynamicUrn("d3"), diskIn)]);
        const [n2, d2] = await Promise.all([
          server.update(nic.id, dynamicUrn("n3"), nic.outs, { ...nicIn, interface: { ...(nicIn.interface as Props), mtu: 1400 } }),
          server.update(disk.id, dynamicUrn("d3"), disk.outs, { ...diskIn, disk: { ...(diskIn.disk as Props), io: "threads" } }),
        ]);
        const xml = await inactive(dom);
        assert.match(xml, /<mac address='52:54:00:6b:00:03'\/>(.|\n)*<mtu size='1400'\/>/);
        assert.match(xml, /cache='none' io='threads'\/>/);
        await Promise.all([server.delete(nic.id, dynamicUrn("n3"), n2.outs), server.delete(disk.id, dynamicUrn("d3"), d2.outs)]);
        const after = await inactive(dom);
        assert.doesNotMatch(after, /52:54:00:6b:00:03|<disk type='block'/);
      } finally {
        await lv.ssh(`losetup -d ${shQuote(loop3)}`);
      }
    });
  });

  describe("block passthrough of a loop device made for the test", () => {
    const urn = dynamicUrn("kvmt-gd1-disk");
    let loop: string;
    let inputs: Props;
    let id: string;
    let outs: Props;

    before(async () => {
      loop = await lv.loopDevice("kvmt-pt.raw", 8);
      await waitForGuestBoot(lv, guest);
    });

    it("hot-plugs it with cache=none io=native and reads it back from libvirt and qemu", async () => {
      const checked = await server.check(urn, {}, props({ disk: { path: loop, target: "vdb" } }));
      assert.deepEqual(checked.failures, []);
      inputs = checked.inputs;
      ({ id, outs } = await server.create(urn, inputs));
      assert.deepEqual([outs.attachedLive, outs.restartRequired, outs.drift], [true, false, []]);
      const want = new RegExp(`<disk type='block' device='disk'>\\n\\s+<driver name='qemu' type='raw' cache='none' io='native'/>\\n\\s+<source dev='${loop}'( index='\\d+')?/>\\n(.|\\n)*<target dev='vdb' bus='virtio'/>`);
      assert.match(await inactive(), want);
      assert.match(await live(), want);
      // qemu holds the device open itself.
      const fds = await lv.ssh(`ls -l /proc/${await qemuPid(lv, guest)}/fd`);
      assert.match(fds.stdout, new RegExp(`-> ${loop}$`, "m"));
      assert.match((outs.notes as string[]).join("\n"), new RegExp(`no /dev/disk/by-id link points to ${loop.slice(5)}`));
      // The guest kernel has a new 8 MiB virtio disk.
      await until(() => /virtio_blk virtio\d+: \[vda\] 16384 512-byte logical blocks/.test(guestConsole(lv, guest)), "the guest kernel to see the disk");
    });

    it("refuses the same device for another domain, naming the domain", async () => {
      await defineDomain(lv, tinyDomainXml({ name: "kvmt-gd2", vcpus: 1 }));
      const msg = await failure(server.create(dynamicUrn("kvmt-gd2-disk"), withProvider({ connection, domain: "kvmt-gd2", disk: { path: loop, target: "vdb" } }, text)));
      assert.match(msg, new RegExp(`disk\\.path "${loop}" \\(${loop.slice(5)}\\) is attached to libvirt domain "${guest}" as ${loop}`));
    });

    it("refuses a character device, a symlink to a regular file, and path traversal", async () => {
      const before = await inactive();
      const disk = (path: string) => server.create(urn, props({ disk: { path, target: "vdc" } }));
      assert.match(await failure(disk("/dev/null")), /disk\.path "\/dev\/null" is a character device, not a block device/);
      await lv.ssh("ln -sf /var/lib/libvirt/images/kvmt-pt.raw /dev/shm/kvmt-link");
      try {
        assert.match(await failure(disk("/dev/shm/kvmt-link")), /disk\.path "\/dev\/shm\/kvmt-link" resolves to \/var\/lib\/libvirt\/images\/kvmt-pt\.raw, a regular file outside \/dev, not a block device/);
      } finally {
        await lv.ssh("rm -f /dev/shm/kvmt-link");
      }
      const r = await server.check(urn, {}, props({ disk: { path: "/dev/../etc/shadow", target: "vdc" } }));
      assert.deepEqual(r.failures.map((f) => f.reason), ['disk.path "/dev/../etc/shadow" has a ".." segment; give an absolute path under /dev, e.g. /dev/disk/by-id/wwn-0x5000c500a1b2c3d4 without ".."']);
      assert.equal(await inactive(), before);
    });

    it("names a hand-changed cache mode; a new io mode is restart-required", async () => {
      await editByHand(/cache='none' io='native'/, "cache='writeback' io='threads'");
      const read = await server.read(id, urn, outs);
      assert.deepEqual(read.props.drift, ["devices.disk[vdb].driver.cache: writeback → none", "devices.disk[vdb].driver.io: threads → native"]);
      assert.deepEqual(read.inputs!.disk, { path: loop, target: "vdb", cache: "writeback", io: "threads" });
      const updated = await server.update(id, urn, read.props, inputs);
      assert.deepEqual([updated.outs.drift, updated.outs.restartRequired], [[], false]);
      const news = { ...inputs, disk: { ...(inputs.disk as Props), io: "threads" } };
      outs = (await server.update(id, urn, updated.outs, news)).outs;
      assert.deepEqual([outs.restartRequired, outs.restartReasons], [true, ["devices.disk[vdb].driver.io: native → threads"]]);
    });

    it("delete detaches it from the definition and from the running guest", async () => {
      await server.delete(id, urn, outs);
      assert.doesNotMatch(await inactive(), new RegExp(loop));
      await until(async () => !(await live()).includes(loop), "the running domain to drop the disk");
    });
  });
});
