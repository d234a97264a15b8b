// PCI assignment preflight on the fact fixtures: address format, IOMMU on,
// whole-group rules (management NIC, root disk controller, busy disks, bridges).
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseHostFacts, type HostFacts } from "../../provider/host/facts";
import { checkPciAddress, managementPci, planPciAssignment, rootDisks, type PciAssignmentRequest } from "../../provider/plan/passthrough";
import { FIXTURE_DIR } from "../fixtures/facts/run-script";

const load = (name: string): HostFacts => parseHostFacts(readFileSync(join(FIXTURE_DIR, `${name}.txt`), "utf8"));
const reasons = (facts: HostFacts, request: PciAssignmentRequest) => {
  const r = planPciAssignment(facts, request);
  return r.ok ? [] : r.reasons;
};
const MGMT = "(SSH session to 192.168.10.11 on br0, a bridge with port eno1)";

describe("passthrough PCI preflight", () => {
  describe("checkPciAddress", () => {
    const FORMAT = 'expected "DDDD:BB:DD.F" in hex (domain:bus:device.function), e.g. "0000:5e:00.0"';
    const cases: [unknown, string[]][] = [
      ["0000:5e:00.0", []],
      ["0000:3B:00.1", []],
      ["0000:01:00.0;reboot", [`address "0000:01:00.0;reboot" is not a PCI address; ${FORMAT}`]],
      ["$(reboot)", [`address "$(reboot)" is not a PCI address; ${FORMAT}`]],
      ["5e:00.0", [`address "5e:00.0" is not a PCI address; ${FORMAT}`]],
      ["0000:5e:00", [`address "0000:5e:00" is not a PCI address; ${FORMAT}`]],
      ["0000:5e:00.8", [`address "0000:5e:00.8" is not a PCI address; ${FORMAT}`]],
      ["0000:5g:00.0", [`address "0000:5g:00.0" is not a PCI address; ${FORMAT}`]],
      [" 0000:5e:00.0", [`address " 0000:5e:00.0" is not a PCI address; ${FORMAT}`]],
      ["0000:5e:00.0\n", [`address "0000:5e:00.0\\n" is not a PCI address; ${FORMAT}`]],
      ["0000:00:20.0", ['address "0000:00:20.0": device 20 is out of range (00-1f)']],
      [7, [`address must be a string; ${FORMAT}`]],
    ];
    for (const [address, want] of cases) {
      it(`${JSON.stringify(address)} -> ${want.length ? "refused" : "accepted"}`, () => assert.deepEqual(checkPciAddress(address), want));
    }
  });

  describe("what the host needs (hv01)", () => {
    it("finds the root disk through LVM and the management NIC through its bridge", () => {
      const f = load("hv01-2socket");
      assert.deepEqual(rootDisks(f), { disks: ["nvme0n1"], description: "/ is mounted from /dev/mapper/vg0-root (dm-0 on nvme0n1p3)" });
      assert.deepEqual(managementPci(f), {
        functions: [{ address: "0000:18:00.0", nic: "eno1", role: "nic", path: "SSH session to 192.168.10.11 on br0, a bridge with port eno1" }],
        unknown: null,
      });
    });
  });

  describe("planPciAssignment on hv01", () => {
    let hv01: HostFacts;
    beforeEach(() => {
      hv01 = load("hv01-2socket");
    });

    it("refuses shell text and unknown functions before anything else", () => {
      assert.deepEqual(reasons(hv01, { address: "0000:01:00.0;reboot" }), [
        'address "0000:01:00.0;reboot" is not a PCI address; expected "DDDD:BB:DD.F" in hex (domain:bus:device.function), e.g. "0000:5e:00.0"',
      ]);
      assert.deepEqual(reasons(hv01, { address: "0000:99:00.0" }), ['address "0000:99:00.0": no such PCI function on hv01 (see /sys/bus/pci/devices)']);
      assert.deepEqual(reasons(hv01, { address: "0000:3b:00.0", managed: "yes" as unknown as boolean }), ['managed must be true or false, got "yes"']);
    });

    it("refuses a function whose group holds the management NIC, naming it", () => {
      assert.deepEqual(reasons(hv01, { address: "0000:18:00.1" }), [
        `address "0000:18:00.1": IOMMU group 30 also holds 0000:18:00.0 (eno1), the management NIC ${MGMT}; assigning the group would cut the host off`,
      ]);
    });

    it("refuses the management NIC itself (a PF with VFs enabled, too)", () => {
      assert.deepEqual(reasons(hv01, { address: "0000:18:00.0" }), [
        'address "0000:18:00.0" is an SR-IOV physical function with 8 VF(s) enabled: vfio-pci refuses to bind a PF with VFs; set its VF count to 0 first, or assign a VF',
        `address "0000:18:00.0" (eno1) is the management NIC ${MGMT}; assigning it would cut the host off`,
      ]);
    });

    it("refuses the root disk's controller, naming the root disk", () => {
      assert.deepEqual(reasons(hv01, { address: "0000:5e:00.0" }), [
        'address "0000:5e:00.0" is the controller of the root disk nvme0n1: / is mounted from /dev/mapper/vg0-root (dm-0 on nvme0n1p3)',
      ]);
    });

    it("refuses a controller whose disks the host uses (swap, mounts)", () => {
      assert.deepEqual(reasons(hv01, { address: "0000:00:17.0" }), [
        'address "0000:00:17.0" is the controller of sda, which the host uses: partition sda1 is active swap (/dev/sda1); partition sda2 is mounted at "/srv/vm images" (xfs, from /dev/disk/by-id/wwn-0x5000c500a1b2c3d4-part2)',
      ]);
    });

    it("refuses bridges as the assigned device", () => {
      assert.deepEqual(reasons(hv01, { address: "0000:17:00.0" }), ['address "0000:17:00.0" is a bridge (class 060400); assign the devices behind it, not the bridge']);
      assert.deepEqual(reasons(hv01, { address: "0000:00:00.0" }), ['address "0000:00:00.0" is a bridge (class 060000); assign the devices behind it, not the bridge']);
    });

    it("assigns a VF of the management NIC's PF: its own group", () => {
      const r = planPciAssignment(hv01, { address: "0000:18:02.0" });
      assert.deepEqual(r, {
        ok: true,
        plan: {
          address: "0000:18:02.0", iommuGroup: 31, classCode: "020000", vendorId: "8086", deviceId: "154c", driver: "iavf", managed: true, groupMembers: [],
          notes: ["0000:18:02.0 is bound to iavf; managed='yes' lets libvirt bind it to vfio-pci when the guest starts and give it back when it stops"],
        },
      });
    });

    it("assigns a GPU and reports the other member of its multi-device group (upper-case input normalised)", () => {
      const r = planPciAssignment(hv01, { address: "0000:3B:00.0" });
      assert.ok(r.ok);
      assert.equal(r.plan.address, "0000:3b:00.0");
      assert.equal(r.plan.iommuGroup, 40);
      assert.deepEqual(r.plan.groupMembers, [
        { address: "0000:3b:00.1", classCode: "040300", vendorId: "10de", deviceId: "10f8", driver: "vfio-pci", handling: "vfio-pci", description: "0000:3b:00.1 (class 040300, 10de:10f8): already bound to vfio-pci" },
      ]);
      assert.deepEqual(r.plan.notes, ["0000:3b:00.0 is already bound to vfio-pci"]);
    });

    it("lists members still on host drivers, and bridges as staying with the host", () => {
      // put the audio function back on its host driver and a bridge into the group
      const g = hv01.iommuGroups.find((x) => x.id === 40)!;
      g.devices[1].driver = "snd_hda_intel";
      g.devices.push({ address: "0000:3a:00.0", classCode: "060400", vendorId: "8086", deviceId: "2030", driver: "pcieport" });
      const r = planPciAssignment(hv01, { address: "0000:3b:00.0", managed: false });
      assert.ok(r.ok);
      assert.deepEqual(r.plan.groupMembers.map((m) => [m.handling, m.description]), [
        ["pass-through-or-bind", "0000:3b:00.1 (class 040300, 10de:10f8): bound to snd_hda_intel: pass it through to the same guest too, or bind it to vfio-pci"],
        ["bridge", "0000:3a:00.0 (class 060400, 8086:2030): PCI bridge, stays with the host"],
      ]);
      assert.deepEqual(r.plan.notes, [
        "0000:3b:00.0 is already bound to vfio-pci",
        "IOMMU group 40 also holds 0000:3b:00.1: they are bound to host drivers, and vfio needs every non-bridge member of the group on vfio-pci (or on no driver): pass them through to the same guest, or bind them to vfio-pci",
      ]);
      assert.equal(r.plan.managed, false);
    });

    it("refuses the PF of a management VF, and notes an unknown management path", () => {
      hv01.network.ssh = { clientAddress: "192.168.10.5", serverAddress: "192.168.10.12", interface: "enp24s2" };
      assert.deepEqual(reasons(hv01, { address: "0000:18:00.1" }), [
        "address \"0000:18:00.1\": IOMMU group 30 also holds 0000:18:00.0, the SR-IOV physical function of the management NIC enp24s2 (SSH session to 192.168.10.12 on enp24s2; its VFs go away with it); assigning the group would cut the host off",
      ]);
      hv01.network.ssh = { clientAddress: "192.168.10.5", serverAddress: "192.168.10.13", interface: "bond0" };
      const r = planPciAssignment(hv01, { address: "0000:18:02.0" });
      assert.ok(r.ok);
      assert.deepEqual(r.plan.notes[0], "could not check the management NIC: the management path goes through bond0, whose lower devices the facts do not show (bond, VLAN or other virtual interface), so not every PCI function it uses is known");
    });
  });

  it("says how to turn the IOMMU on when it is off (tiny, an AMD guest)", () => {
    assert.deepEqual(reasons(load("tiny-no-numa"), { address: "0000:00:04.0" }), [
      'address "0000:00:04.0": the IOMMU is off on tiny (/sys/kernel/iommu_groups is empty), so no device can be assigned; set TunedHost kernelArgs { amd_iommu: "on" } (and enable VT-d/AMD-Vi in the firmware), then reboot',
    ]);
    const intel = load("hv01-2socket");
    intel.iommuGroups = [];
    assert.match(reasons(intel, { address: "0000:3b:00.0" })[0], /kernelArgs \{ intel_iommu: "on" \}/);
  });
});
