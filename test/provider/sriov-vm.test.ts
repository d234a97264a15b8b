// SR-IOV VF counts on a real kernel: QEMU's emulated NVMe controller is a real
// PF to the kernel's PCI core (sriov_totalvfs, EBUSY on N -> M), the same code
// path as a NIC's PF (Debian kernels have no netdevsim).
import { strict as assert } from "node:assert";
import { readHostFacts } from "../../provider/host/read-facts";
import { applyHostTuning, readHostTuning, restoreHostTuning } from "../../provider/host/tuning";
import { InputError } from "../../provider/spec/issues";
import { startTestVm, type TestVm } from "../support/vm";

const PF = "0000:01:00.0";
const NUMVFS = `/sys/bus/pci/devices/${PF}/sriov_numvfs`;

describe("SR-IOV VF count on a real kernel (emulated NVMe PF, intel-iommu)", function () {
  this.timeout(300_000);
  let vm: TestVm;
  const conn = () => ({ host: vm.host, port: vm.port, privateKey: vm.privateKey, hostKey: vm.hostKey });
  const apply = (vfs: number, allowVfRecreate = false, originals: Record<string, string | null> = {}) =>
    applyHostTuning(conn(), { settings: { [`sriov:${PF}:numvfs`]: String(vfs) }, tag: "sriov", allowManagementInterface: false, allowVfRecreate, originals, previousKeys: [`sriov:${PF}:numvfs`] });

  before(async () => {
    vm = await startTestVm({
      name: "kvmt-sriov",
      machine: "q35,kernel-irqchip=split",
      kernelArgs: "intel_iommu=on",
      extraQemuArgs: [
        "-device", "intel-iommu,intremap=on,caching-mode=on",
        "-device", "pcie-root-port,id=rp0,chassis=1",
        "-device", "nvme-subsys,id=subsys0,nqn=kvmt",
        "-device", "nvme,serial=kvmt0,bus=rp0,subsys=subsys0,sriov_max_vfs=4,max_ioqpairs=12,msix_qsize=13,sriov_vq_flexible=8,sriov_vi_flexible=4",
      ],
    });
  });
  after(async () => {
    await vm?.stop();
  });

  it("sees the PF's sriov_totalvfs in the host facts", async () => {
    const facts = await readHostFacts(conn());
    const pf = facts.pciDevices.find((d) => d.address === PF)!;
    assert.deepEqual({ total: pf.sriovTotalVfs, now: pf.sriovNumVfs }, { total: 4, now: 0 });
  });

  it("goes 0 -> 2 live, refuses 2 -> 3 without allowVfRecreate (nothing written), recreates 2 -> 0 -> 3 with it, restores 0", async () => {
    const first = await apply(2);
    assert.deepEqual(first.originals, { [`sriov:${PF}:numvfs`]: "0" });
    assert.equal((await vm.ssh(`cat ${NUMVFS}; ls -d /sys/bus/pci/devices/${PF}/virtfn*`)).stdout, `2\n/sys/bus/pci/devices/${PF}/virtfn0\n/sys/bus/pci/devices/${PF}/virtfn1\n`);
    // The kernel itself refuses a direct change: the reason the rule exists.
    const direct = await vm.ssh(`echo 3 > ${NUMVFS}`);
    assert.match(direct.stderr, /Device or resource busy/);

    await assert.rejects(apply(3, false, first.originals), (err: InputError) => {
      assert.deepEqual(err.problems, [`sriov:${PF}:numvfs: changing ${PF} from 2 to 3 VFs destroys and recreates every VF (the kernel refuses a direct change); set allowVfRecreate: true to allow it`]);
      return true;
    });
    assert.equal((await vm.ssh(`cat ${NUMVFS}`)).stdout, "2\n");

    const again = await apply(3, true, first.originals);
    assert.deepEqual(again.changes, [{ key: `sriov:${PF}:numvfs`, from: "2", to: "3", disruption: "live" }]);
    assert.equal((await vm.ssh(`cat ${NUMVFS}; ls -d /sys/bus/pci/devices/${PF}/virtfn* | wc -l`)).stdout, "3\n3\n");
    assert.equal((await vm.ssh("cat /etc/udev/rules.d/90-kvmtune-sriov-sriov.rules")).stdout, `# Managed by kvmtune (sriov). Changes here are overwritten; change the Pulumi program instead.\nACTION=="add", SUBSYSTEM=="pci", KERNEL=="${PF}", ATTR{sriov_numvfs}="3"\n`);
    assert.deepEqual((await readHostTuning(conn(), [`sriov:${PF}:numvfs`], "sriov")).values, { [`sriov:${PF}:numvfs`]: "3" });

    await restoreHostTuning(conn(), again.originals, "sriov");
    assert.equal((await vm.ssh(`cat ${NUMVFS}; ls /etc/udev/rules.d`)).stdout, "0\n");
  });

  it("refuses more VFs than the PF offers, a non-SR-IOV device, and a malformed PF, before any write", async () => {
    await assert.rejects(apply(5), (err: InputError) => {
      assert.deepEqual(err.problems, [`sriov:${PF}:numvfs: 5 VFs exceeds what ${PF} offers (sriov_totalvfs = 4)`]);
      return true;
    });
    await assert.rejects(
      applyHostTuning(conn(), { settings: { "sriov:eth0:numvfs": "2", "sriov:0000:01:00.0;reboot:numvfs": "1" }, tag: "sriov", allowManagementInterface: false, originals: {}, previousKeys: [] }),
      (err: InputError) => {
        assert.deepEqual(err.problems, [`settings["sriov:0000:01:00.0;reboot:numvfs"]: "0000:01:00.0;reboot" is not a physical function; expected sriov:<interface>:numvfs or sriov:<dddd:bb:dd.f>:numvfs (lower-case hex PCI address)`]);
        return true;
      },
    );
    await assert.rejects(applyHostTuning(conn(), { settings: { "sriov:eth0:numvfs": "2" }, tag: "sriov", allowManagementInterface: false, originals: {}, previousKeys: [] }), (err: InputError) => {
      assert.deepEqual(err.problems, ["sriov:eth0:numvfs: eth0 has no SR-IOV (no sriov_totalvfs); choose a physical function that offers VFs"]);
      return true;
    });
    assert.equal((await vm.ssh(`cat ${NUMVFS}`)).stdout, "0\n");
  });
});
