// PCI assignment preflight against a real kernel: a q35 test VM with intel-iommu
// and an SR-IOV NVMe controller (TESTBED-NOTES recipe), so /sys/kernel/iommu_groups
// is the kernel's own. Facts come from readHostFacts over kvmtune's transport;
// every claim is read back independently over the test's own ssh, and the vfio
// claims are checked by really binding vfio-pci inside the VM.
import { strict as assert } from "node:assert";
import { readHostFacts } from "../../provider/host/read-facts";
import { parseDomainXml } from "../../provider/libvirt";
import { planGuestDevice } from "../../provider/plan/guest-device";
import { planPciAssignment, type PciAssignmentResult } from "../../provider/plan/passthrough";
import { sharedTestVm } from "../support/shared-vm";
import { startTestVm, type TestVm } from "../support/vm";

const IOMMU_VM_ARGS = [
  "-device", "intel-iommu,intremap=on,caching-mode=on",
  "-device", "pcie-root-port,id=rp0,chassis=1",
  "-device", "nvme-subsys,id=subsys0,nqn=kvmt",
  "-device", "nvme,serial=kvmt0,bus=rp0,subsys=subsys0,sriov_max_vfs=4,max_ioqpairs=12,msix_qsize=13,sriov_vq_flexible=8,sriov_vi_flexible=4",
];

describe("passthrough PCI preflight on a real kernel (intel-iommu VM)", function () {
  this.timeout(300_000);
  let vm: TestVm;
  const conn = () => ({ host: vm.host, port: vm.port, user: "root", privateKey: vm.privateKey, hostKey: vm.hostKey });
  const facts = () => readHostFacts(conn());
  const sh = async (cmd: string) => {
    const r = await vm.ssh(cmd);
    assert.equal(r.code, 0, `${cmd}\n${r.stdout}\n${r.stderr}`);
    return r.stdout.trim();
  };
  const reasons = (r: PciAssignmentResult) => (r.ok ? [] : r.reasons);
  /** Members of a function's IOMMU group as the guest kernel lists them. */
  const groupOf = async (address: string) => ({
    id: Number(await sh(`basename "$(readlink /sys/bus/pci/devices/${address}/iommu_group)"`)),
    members: (await sh(`ls /sys/bus/pci/devices/${address}/iommu_group/devices`)).split("\n"),
  });
  let pf: string;

  before(async function () {
    vm = await startTestVm({
      name: "kvmt-pt-iommu", cpus: 2, numaNodes: 1, memoryMiB: 256, disks: { count: 1, sizeMiB: 16 },
      machine: "q35,kernel-irqchip=split", kernelArgs: "intel_iommu=on", extraQemuArgs: IOMMU_VM_ARGS,
    });
    await sh("modprobe vfio-pci");
  });

  after(async () => {
    await vm?.stop();
  });

  it("reads the kernel's IOMMU groups exactly", async () => {
    const f = await facts();
    const listed = await sh('for g in /sys/kernel/iommu_groups/*; do echo "${g##*/} $(ls $g/devices | tr "\\n" " ")"; done');
    const want = listed.split("\n").map((l) => {
      const [id, ...devs] = l.trim().split(" ");
      return [Number(id), devs];
    }).sort((a, b) => (a[0] as number) - (b[0] as number));
    assert.deepEqual(f.iommuGroups.map((g) => [g.id, g.devices.map((d) => d.address)]), want);
    assert.ok(f.iommuGroups.some((g) => g.devices.length >= 3), "a multi-device group (00:1f.*)");
    pf = f.pciDevices.find((d) => d.sriovTotalVfs === 4 && d.classCode === "010802")!.address;
    assert.equal(pf, "0000:01:00.0");
  });

  it("plans the NVMe PF: its group is assignable, and vfio-pci really takes that group", async () => {
    const f = await facts();
    const g = await groupOf(pf);
    const r = planPciAssignment(f, { address: pf });
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.plan.iommuGroup, g.id);
    assert.deepEqual(r.plan.groupMembers.map((m) => m.address), g.members.filter((a) => a !== pf));
    assert.ok(r.plan.groupMembers.every((m) => m.handling === "bridge"), JSON.stringify(r.plan.groupMembers));
    assert.deepEqual(r.plan.notes, [`${pf} is bound to nvme; managed='yes' lets libvirt bind it to vfio-pci when the guest starts and give it back when it stops`]);

    // what libvirt's managed='yes' does: driver_override + rebind; /dev/vfio/<group> is the group we named
    const d = `/sys/bus/pci/devices/${pf}`;
    await sh(`echo vfio-pci > ${d}/driver_override && echo ${pf} > ${d}/driver/unbind && echo ${pf} > /sys/bus/pci/drivers_probe`);
    assert.equal(await sh(`basename "$(readlink ${d}/driver)"; ls /dev/vfio/${g.id} >/dev/null && echo viable`), "vfio-pci\nviable");
    const bound = planPciAssignment(await facts(), { address: pf });
    assert.ok(bound.ok);
    assert.deepEqual(bound.plan.notes, [`${pf} is already bound to vfio-pci`]);
    // give it back to nvme
    await sh(`echo > ${d}/driver_override && echo ${pf} > ${d}/driver/unbind && echo ${pf} > /sys/bus/pci/drivers_probe && basename "$(readlink ${d}/driver)"`);
  });

  it("refuses the PF while its VFs are enabled (vfio-pci really refuses it), and plans a VF in its own group", async () => {
    const d = `/sys/bus/pci/devices/${pf}`;
    await sh(`echo 2 > ${d}/sriov_numvfs`);
    try {
      const f = await facts();
      assert.deepEqual(reasons(planPciAssignment(f, { address: pf })), [
        `address "${pf}" is an SR-IOV physical function with 2 VF(s) enabled: vfio-pci refuses to bind a PF with VFs; set its VF count to 0 first, or assign a VF`,
      ]);
      const vf = f.pciDevices.find((x) => x.physfn === pf)!;
      const vg = await groupOf(vf.address);
      const r = planPciAssignment(f, { address: vf.address });
      assert.ok(r.ok, JSON.stringify(r));
      assert.equal(r.plan.iommuGroup, vg.id);
      assert.deepEqual(vg.members, [vf.address]);
      // the kernel agrees: with VFs enabled, vfio-pci will not take the PF
      await sh(`echo vfio-pci > ${d}/driver_override && echo ${pf} > ${d}/driver/unbind; echo ${pf} > /sys/bus/pci/drivers_probe; true`);
      assert.equal(await sh(`readlink ${d}/driver || echo unbound`), "unbound");
      assert.match(await sh("dmesg | tail -n 20"), /vfio-pci 0000:01:00\.0: Cannot bind to PF with SR-IOV enabled/);
    } finally {
      const back = await sh(`echo > ${d}/driver_override; [ -e ${d}/driver ] || echo ${pf} > /sys/bus/pci/drivers_probe; echo 0 > ${d}/sriov_numvfs; basename "$(readlink ${d}/driver)"; cat ${d}/sriov_numvfs`);
      assert.equal(back, "nvme\n0");
    }
  });

  it("refuses the management NIC's group, naming the NIC", async () => {
    const f = await facts();
    const nicPci = (await sh("cd -P /sys/class/net/eth0/device/.. && basename $PWD"));
    assert.equal(f.network.ssh?.interface, "eth0");
    assert.deepEqual(reasons(planPciAssignment(f, { address: nicPci })), [
      `address "${nicPci}" (eth0) is the management NIC (SSH session to 10.0.2.15 on eth0); assigning it would cut the host off`,
    ]);
  });

  it("as a guest interface (type hostdev): refuses the management NIC and a function that is not a NIC, on the real facts", async () => {
    const f = await facts();
    const nicPci = await sh("cd -P /sys/class/net/eth0/device/.. && basename $PWD");
    const domain = parseDomainXml("<domain type='kvm'><name>g</name><vcpu>2</vcpu><devices/></domain>");
    const plan = (source: string) => planGuestDevice({ connection: {}, domain: "g", interface: { type: "hostdev", source, mac: "52:54:00:00:00:42", vlan: 7 } }, { facts: f, domain, inventory: { networks: [], attachments: [] } });
    assert.deepEqual(plan(nicPci), { ok: false, reasons: [`interface.source "${nicPci}" (eth0) is the management NIC (SSH session to 10.0.2.15 on eth0); assigning it would cut the host off`] });
    const nvmeClass = await sh(`cut -c3-8 /sys/bus/pci/devices/${pf}/class`);
    assert.deepEqual(plan(pf), { ok: false, reasons: [`interface.source "${pf}" is not a network function (PCI class ${nvmeClass}); assign it with PassthroughDisk pciAddress instead`] });
  });

  it("lists every other member of the multi-device group (00:1f.*)", async () => {
    const f = await facts();
    const g = await groupOf("0000:00:1f.2");
    assert.deepEqual(g.members, ["0000:00:1f.0", "0000:00:1f.2", "0000:00:1f.3"]);
    const r = planPciAssignment(f, { address: "0000:00:1f.2" });
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.plan.iommuGroup, g.id);
    const drivers = await sh('for a in 0000:00:1f.0 0000:00:1f.3; do d=$(readlink /sys/bus/pci/devices/$a/driver) && basename "$d" || echo -; done');
    const [lpc, smbus] = drivers.split("\n").map((x) => (x === "-" ? null : x));
    assert.deepEqual(r.plan.groupMembers.map((m) => [m.address, m.classCode, m.driver]), [["0000:00:1f.0", "060100", lpc], ["0000:00:1f.3", "0c0500", smbus]]);
    for (const m of r.plan.groupMembers) assert.equal(m.handling, m.driver === null ? "unbound" : "pass-through-or-bind");
  });

  it("refuses shell text as an address and an absent function, on the real facts", async () => {
    const f = await facts();
    assert.deepEqual(reasons(planPciAssignment(f, { address: "0000:01:00.0;reboot" })), [
      'address "0000:01:00.0;reboot" is not a PCI address; expected "DDDD:BB:DD.F" in hex (domain:bus:device.function), e.g. "0000:5e:00.0"',
    ]);
    assert.deepEqual(reasons(planPciAssignment(f, { address: "0000:05:00.0" })), ['address "0000:05:00.0": no such PCI function on kvmt-pt-iommu (see /sys/bus/pci/devices)']);
  });

  // Last: it mounts the virtio disk over "/".
  it("refuses the root disk's controller once a disk holds /", async () => {
    await sh("mke2fs -q /dev/vda >/dev/null 2>&1 && mount -t ext4 /dev/vda /");
    const f = await facts();
    const vdaPci = f.blockDevices.find((b) => b.name === "vda")!.pciAddress!;
    assert.equal(vdaPci, await sh("cd -P /sys/block/vda/device/.. && basename $PWD"));
    assert.deepEqual(reasons(planPciAssignment(f, { address: vdaPci })), [
      `address "${vdaPci}" is the controller of the root disk vda: / is mounted from /dev/vda (vda)`,
    ]);
  });

  it("says how to turn the IOMMU on, on a VM booted without it", async () => {
    const plain = await sharedTestVm();
    const f = await readHostFacts({ host: plain.host, port: plain.port, user: "root", privateKey: plain.privateKey, hostKey: plain.hostKey });
    assert.equal((await plain.ssh("ls /sys/kernel/iommu_groups | wc -l")).stdout.trim(), "0");
    const nic = f.network.nics.find((n) => n.name === "eth0")!.pciAddress!;
    const [reason] = reasons(planPciAssignment(f, { address: nic }));
    assert.match(reason, new RegExp(`^address "${nic}": the IOMMU is off on kvmt-shared \\(/sys/kernel/iommu_groups is empty\\), so no device can be assigned; set TunedHost kernelArgs \\{ (intel_iommu|amd_iommu): "on"`));
  });
});
