// VhostNetwork and PassthroughDisk wiring under Pulumi mocks: which GuestDevice
// (and TunedHost for the host side) they register, with which inputs, and the
// argument errors raised before anything is registered.
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parseHostFacts } from "../../provider/host/facts";
import { stableMac } from "../../provider/plan/vhost-net";
import { deviceInputProblems } from "../../provider/spec/guest-device";
import { FIXTURE_DIR } from "../fixtures/facts/run-script";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC4R9z/TIOObTKEO64Ptvl8pVbxNHFg9yEu4dEiJJdIx";
const facts = parseHostFacts(readFileSync(join(FIXTURE_DIR, "hv01-2socket.txt"), "utf8"));
/** Another resource of the user's program; under the mocks its output is the value it was given. */
class Made extends pulumi.CustomResource {
  declare readonly value: pulumi.Output<string>;
  constructor(name: string, value: unknown) {
    super("test:index:Made", name, { value });
  }
}
const registered: { type: string; name: string; inputs: Record<string, any> }[] = [];
const settle = () => new Promise((r) => setTimeout(r, 100));
const find = (name: string) => registered.find((r) => r.name === name);

describe("VhostNetwork and PassthroughDisk components (mocks)", function () {
  let kvmtune: typeof import("../../index");
  const connection = { host: "10.1.0.9", privateKey: pulumi.secret("k"), hostKey: HOST_KEY };
  const guest = { connection, domain: "db9" };

  before(async () => {
    await pulumi.runtime.setMocks(
      {
        newResource: (a) => {
          registered.push({ type: a.type, name: a.name, inputs: a.inputs });
          return { id: `${a.name}-id`, state: { ...a.inputs, name: a.inputs.name, xml: "<x/>", attachedLive: true, restartRequired: false, restartReasons: [], drift: [], notes: [], device: null } };
        },
        call: () => ({}),
      },
      "proj",
      "stack",
      false,
    );
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    kvmtune = require("../../index");
  });
  after(() => {
    (require("@pulumi/pulumi/runtime/debuggable") as { leakedPromises: () => unknown }).leakedPromises();
  });

  it("VhostNetwork: a vhost NIC keyed by a MAC derived from its name, with vhost_net, arp_filter and the bridge MTU on a TunedHost", async () => {
    const net = new kvmtune.VhostNetwork("db9-net", { guest, facts, source: "br0", mtu: 9000, bridgeMtu: 9000, arpFilter: true, queues: 4 });
    await settle();
    assert.equal(net.mac, stableMac("db9-net"));
    const nic = find("db9-net-nic")!;
    assert.equal(nic.type, "pulumi-nodejs:dynamic/kvmtune:GuestDevice");
    assert.deepEqual([nic.inputs.domain, nic.inputs.interface], ["db9", { type: "bridge", source: "br0", mac: stableMac("db9-net"), queues: 4, mtu: 9000 }]);
    const host = find("db9-net-host-tuning")!;
    assert.deepEqual(Object.keys(host.inputs.settings.live).sort(), ["module:vhost_net", "mtu:br0", "sysctl:net.ipv4.conf.all.arp_filter"]);
  });

  it("VhostNetwork sriov mode: a hostdev interface on the VF with its VLAN, and the PF's VF count on the TunedHost", async () => {
    new kvmtune.VhostNetwork("db9-vf", { guest, facts, mode: "sriov", vf: "0000:18:02.0", vlan: 42, pf: "0000:18:00.0", numVfs: 4, mac: "52:54:00:00:00:42" });
    await settle();
    assert.deepEqual(find("db9-vf-nic")!.inputs.interface, { type: "hostdev", source: "0000:18:02.0", mac: "52:54:00:00:00:42", vlan: 42 });
    const tuning = find("db9-vf-host-tuning")!;
    assert.deepEqual(Object.values(tuning.inputs.settings).flatMap((g) => Object.keys(g as object)), ["sriov:0000:18:00.0:numvfs"]);
    assert.equal(tuning.inputs.allowVfRecreate, false);
  });

  it("VhostNetwork's host side and a TunedHost owning vhost_net too: an error naming both, and the way out", async () => {
    const other = { host: "10.1.0.7", privateKey: pulumi.secret("k"), hostKey: HOST_KEY };
    new kvmtune.TunedHost("hv07", { connection: other, preset: "virtual-host", facts });
    const net = new kvmtune.VhostNetwork("db7-net", { guest: { connection: other, domain: "db7" }, facts, source: "br0" });
    await new Promise<void>((resolve) => net.host!.settings.apply(() => resolve()));
    await settle();
    assert.deepEqual(find("db7-net-host-tuning")!.inputs.hostProblems, ['VhostNetwork "db7-net" (its host side; set manageHost: false to leave these settings to the other owner) and TunedHost "hv07" both set module:vhost_net on 10.1.0.7:22; each setting needs exactly one owner']);
  });

  it("VhostNetwork with manageHost false registers no TunedHost", async () => {
    new kvmtune.VhostNetwork("db9-shared", { guest, facts, source: "virbr0", type: "network", manageHost: false });
    await settle();
    assert.ok(find("db9-shared-nic"));
    assert.equal(find("db9-shared-host-tuning"), undefined);
  });

  it("retainOnDelete on a component reaches every child (Pulumi passes only protect down by itself)", async () => {
    const retained = new Map<string, boolean | undefined>();
    // A component's transformations run in the SDK for each child, so they see its options under mocks too.
    const record: pulumi.ResourceTransformation = (a) => {
      retained.set(a.name, a.opts.retainOnDelete);
      return undefined;
    };
    const keep = { retainOnDelete: true, transformations: [record] };
    new kvmtune.VhostNetwork("rt-net", { guest, facts, source: "br0" }, keep);
    new kvmtune.PassthroughDisk("rt-disk", { guest, facts, path: "/dev/sdc" }, keep);
    new kvmtune.NumaPinnedGuest("rt-guest", { host: connection, facts, vcpus: 2, memoryMiB: 512 }, keep);
    new kvmtune.TunedHost("rt-host", { connection: { ...connection, host: "10.1.0.10" }, isolateCpus: "2-3", reboot: "when-pending", facts }, keep);
    await settle();
    assert.deepEqual(
      ["rt-net-nic", "rt-net-host-tuning", "rt-disk-dev", "rt-guest-domain", "rt-host-tuning", "rt-host-reboot"].map((n) => [n, retained.get(n)]),
      [["rt-net-nic", true], ["rt-net-host-tuning", true], ["rt-disk-dev", true], ["rt-guest-domain", true], ["rt-host-tuning", true], ["rt-host-reboot", true]],
    );
  });

  it("VhostNetwork and PassthroughDisk hand their customTimeouts to their GuestDevice (and VhostNetwork to its TunedHost's HostTuning)", async () => {
    const t = { create: "5m", update: "2m", delete: "90s" };
    new kvmtune.VhostNetwork("to-net", { guest: { connection: { ...connection, host: "10.1.0.11" }, domain: "db11" }, facts, source: "br0" }, { customTimeouts: t });
    new kvmtune.PassthroughDisk("to-disk", { guest, facts, path: "/dev/sdc" }, { customTimeouts: { delete: "30s" } });
    new kvmtune.PassthroughDisk("to-none", { guest, facts, path: "/dev/sdd", target: "vdc" });
    await settle();
    assert.deepEqual(find("to-net-nic")!.inputs.timeouts, t);
    assert.deepEqual(find("to-net-host-tuning")!.inputs.timeouts, t);
    assert.deepEqual(find("to-disk-dev")!.inputs.timeouts, { delete: "30s" });
    assert.equal("timeouts" in find("to-none-dev")!.inputs, false);
  });

  it("VhostNetwork refuses args of the other mode, a missing source or VF, and unknown fields", () => {
    assert.throws(() => new kvmtune.VhostNetwork("bad1", { guest, vf: "0000:3b:02.1", queues: 2, colour: "red" } as never), {
      message: `invalid VhostNetwork "bad1" args:\n  - colour: unknown field; accepted fields: guest, mode, type, source, mac, queues, mtu, rxQueueSize, txQueueSize, vf, vlan, manageHost, arpFilter, bridgeMtu, pf, numVfs, allowVfRecreate, live, facts\n  - vf: only used in sriov mode\n  - source: required in vhost mode (the bridge, libvirt network or host NIC)`,
    });
    assert.throws(() => new kvmtune.VhostNetwork("bad2", { guest, mode: "sriov", mtu: 9000, pf: "ens1f0" }), {
      message: `invalid VhostNetwork "bad2" args:\n  - mtu: only used in vhost mode\n  - vf: required in sriov mode (the VF's PCI address, e.g. "0000:3b:02.1")\n  - pf and numVfs: give both (the PF and its VF count) or neither`,
    });
  });

  it("PassthroughDisk: a block disk with the talk's defaults left to the resource, or a PCI function", async () => {
    new kvmtune.PassthroughDisk("db9-data", { guest, facts, path: "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4" });
    new kvmtune.PassthroughDisk("db9-lun", { guest, facts, path: "/dev/sdc", bus: "scsi", device: "lun" });
    new kvmtune.PassthroughDisk("db9-gpu", { guest, facts, pciAddress: "0000:3b:00.0" });
    await settle();
    assert.deepEqual(find("db9-data-dev")!.inputs.disk, { path: "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4", target: "vdb" });
    assert.deepEqual(find("db9-lun-dev")!.inputs.disk, { path: "/dev/sdc", target: "sda", device: "lun", bus: "scsi" });
    assert.deepEqual(find("db9-gpu-dev")!.inputs.hostdev, { address: "0000:3b:00.0" });
  });

  it("take other resources' outputs for a VF address, a PF, a bridge, a disk path and a PCI address; the host's facts judge the values they resolve to", async () => {
    // A resource whose output is the value it was given (the mocks echo inputs as state).
    const out = (name: string, value: string) => new Made(name, value).value;
    new kvmtune.VhostNetwork("o-vf", { guest, facts, mode: "sriov", vf: out("o-vf-addr", "0000:18:02.0"), pf: out("o-pf", "0000:18:00.0"), numVfs: 4, mac: "52:54:00:00:00:43" });
    new kvmtune.VhostNetwork("o-br", { guest, facts, source: out("o-br-name", "br0"), bridgeMtu: 9000, mtu: 9000 });
    new kvmtune.PassthroughDisk("o-disk", { guest, facts, path: out("o-disk-path", "/dev/sdc") });
    new kvmtune.PassthroughDisk("o-gpu", { guest, facts, pciAddress: out("o-gpu-addr", "0000:5e:00.0") });
    await settle();
    assert.deepEqual(find("o-vf-nic")!.inputs.interface, { type: "hostdev", source: "0000:18:02.0", mac: "52:54:00:00:00:43" });
    assert.deepEqual(Object.values(find("o-vf-host-tuning")!.inputs.settings).flatMap((g) => Object.keys(g as object)), ["sriov:0000:18:00.0:numvfs"]);
    assert.deepEqual(find("o-br-nic")!.inputs.interface, { type: "bridge", source: "br0", mac: stableMac("o-br"), mtu: 9000 });
    assert.deepEqual(Object.keys(find("o-br-host-tuning")!.inputs.settings.live).sort(), ["module:vhost_net", "mtu:br0"]);
    assert.deepEqual(find("o-disk-dev")!.inputs.disk, { path: "/dev/sdc", target: "vdb" });
    assert.deepEqual(find("o-gpu-dev")!.inputs.hostdev, { address: "0000:5e:00.0" });
    assert.deepEqual(find("o-gpu-dev")!.inputs.hostProblems, [`hostdev.address "0000:5e:00.0" is the controller of the root disk nvme0n1: / is mounted from /dev/mapper/vg0-root (dm-0 on nvme0n1p3) (on hv01, from its facts)`]);
  });

  it("PassthroughDisk refuses both or neither of path and pciAddress, and block options with a PCI function", () => {
    assert.throws(() => new kvmtune.PassthroughDisk("bad3", { guest }), { message: `invalid PassthroughDisk "bad3" args:\n  - path or pciAddress: give exactly one (a block device path, or a PCI function)` });
    assert.throws(() => new kvmtune.PassthroughDisk("bad4", { guest, pciAddress: "0000:5e:00.0", cache: "none" }), { message: `invalid PassthroughDisk "bad4" args:\n  - cache: only used with path (block mode)` });
  });

  it("finds in the program what the host's facts rule out (a missing bridge, an MTU above it, queues above the guest's vCPUs, the root disk's controller, the management NIC's IOMMU group) for the device's check to report in preview", async () => {
    const db = new kvmtune.NumaPinnedGuest("db6", { host: connection, facts, vcpus: 2, memoryMiB: 1024 });
    new kvmtune.VhostNetwork("db6-net", { guest: db, source: "br9", manageHost: false });
    new kvmtune.VhostNetwork("db6-net2", { guest: db, source: "br0", queues: 4, mtu: 9216, manageHost: false });
    new kvmtune.PassthroughDisk("db6-nvme", { guest: db, pciAddress: "0000:5e:00.0" });
    new kvmtune.VhostNetwork("db6-vf", { guest: db, mode: "sriov", vf: "0000:18:00.1" });
    new kvmtune.VhostNetwork("db6-ok", { guest: db, source: "br0", mtu: 9000, manageHost: false });
    await settle();
    const on = " (on hv01, from its facts)";
    assert.deepEqual(find("db6-net-nic")!.inputs.hostProblems, [`interface.source: bridge "br9" does not exist on this host; it has br0, eno1, eno2, enp24s2, lo, virbr0, vnet0${on}`]);
    assert.deepEqual(find("db6-net2-nic")!.inputs.hostProblems, [
      `interface.queues: 4 is more than the guest's 2 vCPUs; expected at most 2 (one queue per vCPU)${on}`,
      `interface.mtu: 9216 is more than br0's MTU 9000; raise it on the host first (TunedHost mtu: { br0: 9216 })${on}`,
    ]);
    assert.deepEqual(find("db6-nvme-dev")!.inputs.hostProblems, [`hostdev.address "0000:5e:00.0" is the controller of the root disk nvme0n1: / is mounted from /dev/mapper/vg0-root (dm-0 on nvme0n1p3)${on}`]);
    assert.deepEqual(find("db6-vf-nic")!.inputs.hostProblems, [`interface.source "0000:18:00.1": IOMMU group 30 also holds 0000:18:00.0 (eno1), the management NIC (SSH session to 192.168.10.11 on br0, a bridge with port eno1); assigning the group would cut the host off${on}`]);
    assert.deepEqual(find("db6-ok-nic")!.inputs.hostProblems, []);
  });

  it("the device's check turns those findings into failures, so preview stops there", async () => {
    assert.deepEqual(deviceInputProblems({ domain: "db6", interface: { type: "bridge", source: "br9", mac: "52:54:00:00:00:06" }, hostProblems: ["interface.source: bridge \"br9\" does not exist"] }), [
      { property: "interface", reason: 'interface.source: bridge "br9" does not exist' },
    ]);
  });

  it("attaches to a NumaPinnedGuest: its domain name and connection, after its domain exists", async () => {
    const db = new kvmtune.NumaPinnedGuest("db8", { host: connection, facts, vcpus: 2, memoryMiB: 1024 });
    new kvmtune.PassthroughDisk("db8-data", { guest: db, path: "/dev/sdb" });
    await settle();
    const dev = find("db8-data-dev")!;
    assert.equal(dev.inputs.domain, "db8");
    // Stored encrypted as a whole (the secret signature), reaching the same host.
    assert.equal(dev.inputs.connection["4dabf18193072939515e22adb298388d"], "1b47061264138c4ac30d75fd1eb44270");
    assert.equal(dev.inputs.connection.value.host, "10.1.0.9");
  });
});
