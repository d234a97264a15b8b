// GuestDevice's pure parts: the device XML it attaches, in-place edits, drift
// paths, static input checks and the host-aware plan, on fixture hosts.
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ResolvedBlockDevice } from "../../provider/host/block-preflight";
import { parseHostFacts } from "../../provider/host/facts";
import { describeDiff, parseDomainXml, renderDomainXml } from "../../provider/libvirt";
import { applyDevicePart, deviceElementXml, diffDevicePart, readDevicePart, renderDeviceXml, type DevicePart } from "../../provider/libvirt/device-xml";
import { parseInventory } from "../../provider/libvirt/virsh-devices";
import { planGuestDevice } from "../../provider/plan/guest-device";
import { observedInputs } from "../../provider/resources/guest-device-observe";
import { deviceInputProblems } from "../../provider/spec/guest-device";
import { FIXTURE_DIR } from "../fixtures/facts/run-script";
import { assertValidDomain } from "./domain-tools.test";

const hv01 = parseHostFacts(readFileSync(join(FIXTURE_DIR, "hv01-2socket.txt"), "utf8"));
const MINIMAL = readFileSync(join(__dirname, "..", "fixtures", "domains", "minimal.inactive.xml"), "utf8");
const MAC = "52:54:00:aa:bb:01";
const VHOST: DevicePart = { kind: "interface", key: MAC, part: { type: "bridge", source: { attributes: { bridge: "br0" } }, model: "virtio", driver: { name: "vhost", queues: 4, rx_queue_size: 512 }, mtu: 9000 } };
const DISK: DevicePart = { kind: "disk", key: "vdb", part: { device: "disk", source: "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4", bus: "virtio", cache: "none", io: "native" } };
const CONN = { host: "h", user: "root", insecureIgnoreHostKey: true, password: "pw" };
const inventory = { networks: ["default"], attachments: [] };
const kvm = (vcpus: number) => parseDomainXml(MINIMAL.replace("<domain type='qemu'>", "<domain type='kvm'>").replace(">1</vcpu>", `>${vcpus}</vcpu>`));

describe("guest device XML", () => {
  it("renders each device kind as libvirt's attach-device takes it", () => {
    assert.equal(renderDeviceXml(VHOST), "<interface type='bridge'><mac address='52:54:00:aa:bb:01'/><source bridge='br0'/><model type='virtio'/><driver name='vhost' queues='4' rx_queue_size='512'/><mtu size='9000'/></interface>");
    assert.equal(
      renderDeviceXml({ kind: "interface", key: MAC, part: { type: "hostdev", source: { attributes: {}, pciAddress: "0000:3b:02.1" }, vlan: 42 } }),
      "<interface type='hostdev' managed='yes'><mac address='52:54:00:aa:bb:01'/><source><address type='pci' domain='0x0000' bus='0x3b' slot='0x02' function='0x1'/></source><vlan><tag id='42'/></vlan></interface>",
    );
    assert.equal(renderDeviceXml(DISK), "<disk type='block' device='disk'><driver name='qemu' type='raw' cache='none' io='native'/><source dev='/dev/disk/by-id/wwn-0x5000c500a1b2c3d4'/><target dev='vdb' bus='virtio'/></disk>");
    assert.equal(renderDeviceXml({ kind: "hostdev", key: "0000:3b:00.0", part: { type: "pci", managed: true } }), "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x3b' slot='0x00' function='0x0'/></source></hostdev>");
  });

  it("adds devices to a domain that libvirt's schema accepts, reads them back, and diffs nothing", () => {
    const doc = parseDomainXml(MINIMAL);
    const hostdevIface: DevicePart = { kind: "interface", key: "52:54:00:aa:bb:02", part: { type: "hostdev", source: { attributes: {}, pciAddress: "0000:3b:02.1" }, vlan: 42 } };
    for (const d of [VHOST, DISK, hostdevIface, { kind: "hostdev", key: "0000:3b:00.0", part: { type: "pci", managed: true } } as DevicePart]) applyDevicePart(doc, d);
    const xml = renderDomainXml(doc);
    assertValidDomain(xml, "devices");
    const back = parseDomainXml(xml);
    for (const d of [VHOST, DISK, hostdevIface]) {
      assert.deepEqual(diffDevicePart(d, back), [], d.key);
    }
    assert.deepEqual(readDevicePart(back, "disk", "vdb"), { kind: "disk", key: "vdb", part: { type: "block", device: "disk", source: DISK.part.source, bus: "virtio", cache: "none", io: "native", format: "raw" } });
  });

  it("edits a device in place, keeping what libvirt added (its PCI address), and names each changed value", () => {
    const doc = parseDomainXml(MINIMAL);
    applyDevicePart(doc, VHOST);
    const withAddress = renderDomainXml(doc).replace("<mtu size='9000'/>", "<mtu size='9000'/><address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>");
    const edited = parseDomainXml(withAddress);
    const changed: DevicePart = { ...VHOST, part: { ...VHOST.part, driver: { name: "vhost", queues: 2, rx_queue_size: null }, mtu: 1500 } } as DevicePart;
    assert.deepEqual(diffDevicePart(changed, edited).map(describeDiff), [
      "devices.interface[52:54:00:aa:bb:01].driver.queues: 4 → 2",
      "devices.interface[52:54:00:aa:bb:01].driver.rx_queue_size: 512 → (absent)",
      "devices.interface[52:54:00:aa:bb:01].mtu: 9000 → 1500",
    ]);
    applyDevicePart(edited, changed);
    assert.equal(
      deviceElementXml(edited, "interface", MAC),
      ["<interface type='bridge'>", "<mac address='52:54:00:aa:bb:01'/>", "<source bridge='br0'/>", "<model type='virtio'/>", "<driver name='vhost' queues='2'/>",
        "<mtu size='1500'/><address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>"].join("\n      ") + "\n    </interface>",
    );
    const disk = parseDomainXml(MINIMAL);
    applyDevicePart(disk, DISK);
    assert.deepEqual(diffDevicePart({ ...DISK, part: { ...DISK.part, cache: "writeback", io: "threads", bus: "scsi" } } as DevicePart, disk).map(describeDiff), [
      "devices.disk[vdb].bus: virtio → scsi",
      "devices.disk[vdb].driver.cache: none → writeback",
      "devices.disk[vdb].driver.io: native → threads",
    ]);
    assert.deepEqual(diffDevicePart(DISK, parseDomainXml(MINIMAL)).map(describeDiff), ["devices.disk[vdb]: (absent) → block /dev/disk/by-id/wwn-0x5000c500a1b2c3d4"]);
  });

  it("takes an absent queue count as libvirt's default of 1 (libvirt drops queues='1')", () => {
    const doc = parseDomainXml(MINIMAL);
    applyDevicePart(doc, { ...VHOST, part: { ...VHOST.part, driver: { name: "vhost" } } } as DevicePart);
    assert.deepEqual(diffDevicePart({ ...VHOST, part: { ...VHOST.part, driver: { name: "vhost", queues: 1, rx_queue_size: null } } } as DevicePart, doc), []);
    assert.deepEqual(diffDevicePart(VHOST, doc).map(describeDiff), ["devices.interface[52:54:00:aa:bb:01].driver.queues: 1 → 4", "devices.interface[52:54:00:aa:bb:01].driver.rx_queue_size: (absent) → 512"]);
    const props = { connection: CONN, domain: "g", interface: { type: "bridge" as const, source: "br0", mac: MAC, mtu: 9000, rxQueueSize: 512 }, device: VHOST };
    assert.deepEqual(observedInputs(props, readDevicePart(doc, "interface", MAC)!).interface, { type: "bridge", source: "br0", mac: MAC, mtu: 9000, queues: 1 });
  });

  it("turns a hand-changed device into observed inputs naming only what changed", () => {
    const doc = parseDomainXml(MINIMAL);
    applyDevicePart(doc, { ...VHOST, part: { ...VHOST.part, driver: { name: "vhost", queues: 3, rx_queue_size: 512 } } } as DevicePart);
    const props = { connection: CONN, domain: "g", interface: { type: "bridge" as const, source: "br0", mac: MAC, mtu: 9000, rxQueueSize: 512 }, device: VHOST };
    assert.deepEqual(observedInputs(props, readDevicePart(doc, "interface", MAC)!), { connection: CONN, domain: "g", interface: { type: "bridge", source: "br0", mac: MAC, mtu: 9000, rxQueueSize: 512, queues: 3 } });
  });

  it("parses libvirt's networks and every domain's disk sources", () => {
    assert.deepEqual(parseInventory("net\tdefault\nnet\tsriov-pool\ndisk\tweb1\t/var/lib/libvirt/images/web1.qcow2\ndisk\tdb1\t/dev/disk/by-id/wwn-0x5\ndisk\tdb1\t-\nend\n"), {
      networks: ["default", "sriov-pool"],
      attachments: [{ domain: "web1", source: "/var/lib/libvirt/images/web1.qcow2" }, { domain: "db1", source: "/dev/disk/by-id/wwn-0x5" }, { domain: "db1", source: "-" }],
    });
    assert.throws(() => parseInventory("net\tdefault\n"), /ended early/);
  });
});

describe("guest device inputs", () => {
  it("lists every bad field at once: unknown fields, MAC, queues, MTU, shell text, path traversal, PCI address", () => {
    const failures = deviceInputProblems({
      connection: CONN, domain: "a b", extra: 1,
      interface: { type: "bridge", source: "br0;reboot", mac: "52:54:00:XX:00:01", queues: 300, mtu: 40, colour: 1 },
      disk: { path: "/dev/../etc/shadow", target: "sdb" },
      hostdev: { address: "0000:00:01.0;rm -rf /" },
    });
    assert.deepEqual(failures.map((f) => `${f.property} | ${f.reason}`), [
      "extra | extra: unknown field; accepted fields: connection, domain, interface, disk, hostdev, live, hostProblems, owner, timeouts",
      `domain | domain: "a b" is not accepted as a domain name; expected 1 to 64 characters: a letter or digit, then letters, digits, '_', '.', '+' or '-' (no spaces, '/', '<', '&' or quotes)`,
      "disk | exactly one of interface, disk and hostdev is needed; got interface and disk and hostdev",
      "interface | interface.colour: unknown field; accepted fields: type, source, mac, queues, mtu, rxQueueSize, txQueueSize, vlan",
      "interface | interface.queues: 300 is not accepted; expected a whole number from 1 to 256",
      `interface | interface.mac: "52:54:00:XX:00:01" is not accepted; expected six lower-case hex pairs such as 52:54:00:12:34:56`,
      "interface | interface.mtu: 40 is not accepted; expected 68 to 65535",
      `interface | interface.source: "br0;reboot" is not accepted; expected an interface or network name (letters, digits, '_', '.', '-'; at most 15)`,
      `disk | disk.path "/dev/../etc/shadow" has a ".." segment; give an absolute path under /dev, e.g. /dev/disk/by-id/wwn-0x5000c500a1b2c3d4 without ".."`,
      `disk | disk.target: "sdb" does not fit bus "virtio"; expected "vdX"`,
      `hostdev | hostdev.address "0000:00:01.0;rm -rf /" is not a PCI address; expected "DDDD:BB:DD.F" in hex (domain:bus:device.function), e.g. "0000:5e:00.0"`,
    ]);
  });

  it("names at most 10 unknown fields of an object, each cut to 80 characters, then counts the rest", () => {
    const colours = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`colour${i}`, 1]));
    const reasons = deviceInputProblems({ connection: CONN, domain: "g", interface: { type: "bridge", source: "br0", mac: "52:54:00:00:00:01", ...colours, ["k".repeat(500)]: 1 } }).map((x) => x.reason);
    assert.equal(reasons.length, 11);
    assert.equal(reasons[0], "interface.colour0: unknown field; accepted fields: type, source, mac, queues, mtu, rxQueueSize, txQueueSize, vlan");
    assert.equal(reasons[10], "interface: \u2026 and 16 more unknown fields");
    const long = deviceInputProblems({ connection: CONN, domain: "g", hostdev: { address: "0000:00:01.0", ["k".repeat(500)]: 1 } }).map((x) => x.reason);
    assert.deepEqual(long, [`hostdev.${"k".repeat(80)}\u2026 (500 characters): unknown field; accepted fields: address, managed`]);
  });

  it("checks SR-IOV VF interfaces and disk options", () => {
    const f = (i: Record<string, unknown>) => deviceInputProblems({ connection: CONN, domain: "g", ...i }).map((x) => x.reason);
    assert.deepEqual(f({ interface: { type: "hostdev", source: "0000:3b:02.1", mac: "01:00:5e:00:00:01", queues: 2, vlan: 5000 } }), [
      `interface.queues: not accepted for type "hostdev" (a VF has its own queues and MTU, set on the host)`,
      `interface.mac: "01:00:5e:00:00:01" is a multicast address; expected a unicast MAC (even first octet)`,
      "interface.vlan: 5000 is not accepted; expected a VLAN id from 0 to 4095",
    ]);
    assert.deepEqual(f({ interface: { type: "bridge", source: "br0", mac: MAC, vlan: 10 } }), [
      `interface.vlan: not accepted for type "bridge"; tag on the host, or use type "hostdev" or an Open vSwitch "network"`,
    ]);
    assert.deepEqual(f({ disk: { path: "/dev/sdb", target: "vdb", device: "lun", io: "native", cache: "writeback" } }), [
      `disk.device "lun" needs bus "scsi" (SCSI commands go through virtio-scsi), got bus "virtio"`,
      `disk.io "native" needs cache "none" or "directsync" (O_DIRECT), got cache "writeback"; use io "io_uring" or "threads" with a host-cached mode`,
    ]);
    assert.deepEqual(f({}), ["exactly one of interface, disk and hostdev is needed; got none"]);
    assert.deepEqual(f({ disk: { path: "/dev/sdb", target: "vdb" } }), []);
  });
});

describe("guest device plan", () => {
  const plan = (i: Record<string, unknown>, domain = kvm(4), facts = hv01) => planGuestDevice({ connection: CONN, domain: "g", ...i } as never, { facts, domain, inventory });

  it("plans a vhost interface with queues = min(vCPUs, 8) from the domain's own vCPU count", () => {
    assert.deepEqual(plan({ interface: { type: "bridge", source: "br0", mac: MAC, mtu: 9000 } }), {
      ok: true,
      notes: [],
      device: { kind: "interface", key: MAC, part: { type: "bridge", source: { attributes: { bridge: "br0" } }, model: "virtio", driver: { name: "vhost", queues: 4, rx_queue_size: null, tx_queue_size: null }, mtu: 9000, vlan: null } },
    });
    const r = plan({ interface: { type: "network", source: "default", mac: MAC } }, kvm(16));
    assert.ok(r.ok && r.device.kind === "interface" && r.device.part.driver?.queues === 8);
  });

  it("refuses queues above the vCPUs, an MTU above the bridge's, a missing bridge or network, and no /dev/vhost-net on a KVM domain", () => {
    assert.deepEqual(plan({ interface: { type: "bridge", source: "br0", mac: MAC, queues: 6, mtu: 9001 } }), {
      ok: false,
      reasons: [
        "interface.queues: 6 is more than the guest's 4 vCPUs; expected at most 4 (one queue per vCPU)",
        "interface.mtu: 9001 is more than br0's MTU 9000; raise it on the host first (TunedHost mtu: { br0: 9001 })",
      ],
    });
    assert.deepEqual(plan({ interface: { type: "bridge", source: "br9", mac: MAC } }), { ok: false, reasons: ['interface.source: bridge "br9" does not exist on this host; it has br0, eno1, eno2, enp24s2, lo, virbr0, vnet0'] });
    assert.deepEqual(plan({ interface: { type: "network", source: "nope", mac: MAC } }), { ok: false, reasons: ['interface.source: libvirt network "nope" does not exist on hv01; it has default'] });
    const noVhost = { ...hv01, virt: { ...hv01.virt, vhostNetDevice: false } };
    assert.deepEqual(plan({ interface: { type: "bridge", source: "br0", mac: MAC } }, kvm(2), noVhost), {
      ok: false,
      reasons: ['/dev/vhost-net is missing on hv01; load vhost_net (TunedHost modules: ["vhost_net"]). kvmtune never falls back to userspace virtio'],
    });
    // A TCG domain never gets vhost from libvirt: allowed, with a note saying so.
    const tcg = plan({ interface: { type: "bridge", source: "br0", mac: MAC } }, parseDomainXml(MINIMAL), noVhost);
    assert.ok(tcg.ok);
    assert.match(tcg.notes[0], /type 'qemu' \(TCG, no KVM\): libvirt and QEMU run its virtio-net in userspace/);
  });

  it("plans a block disk from the host's answer and refuses a character device", () => {
    const resolved = (over: Partial<ResolvedBlockDevice>): ResolvedBlockDevice => ({ path: "/dev/null", realpath: "/dev/null", kind: "char", isBlock: false, majorMinor: null, name: null, disk: null, partition: null, byId: [], loops: [], ...over });
    const r = planGuestDevice({ connection: CONN, domain: "g", disk: { path: "/dev/null", target: "vdb" } }, { facts: hv01, domain: kvm(2), inventory, resolved: resolved({}) });
    assert.deepEqual(r, { ok: false, reasons: ['disk.path "/dev/null" is a character device, not a block device'] });
  });
});
