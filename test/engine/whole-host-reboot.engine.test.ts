// Every setting README calls "persisted", proven across a real reboot of a whole
// Debian host (GRUB, systemd, udev from its own disk) through the real engine:
// up -> reboot (TunedHost reboot: "when-pending", through GRUB) -> each value is
// back, put there by the host's own boot -> preview --refresh --expect-no-changes
// is clean and pendingReboot is false. Then destroy -> reboot -> the host is as
// it was before kvmtune: the same files byte for byte, the same runtime values.
import { strict as assert } from "node:assert";
import { TunedHost } from "../../components/tuned-host";
import { SRIOV_PF, startDebianHost, type DebianHost } from "../support/debian-host";
import { inlineStack, type EngineStack } from "../support/engine";
import { nicByMac, readRuntime, snapshotFiles, type RuntimeValues } from "../support/host-snapshot";

describe("Whole Debian host: persisted settings survive a real reboot (real engine, GRUB, systemd, udev)", function () {
  this.timeout(1_800_000);
  let host: DebianHost;
  let engine: EngineStack;
  let nic: string;
  let baselineFiles: string;
  let baseline: RuntimeValues;

  before(async () => {
    // With QEMU's SR-IOV NVMe controller behind an emulated IOMMU: a real PF for the VF count.
    host = await startDebianHost({ name: "kvmt-whole", sriovNvme: true });
    process.stderr.write(`      (Debian host booted by GRUB in ${Math.round(host.bootMs / 1000)} s; image ${host.image.cached ? "cached" : `built in ${Math.round(host.image.buildMs / 1000)} s`})\n`);
    nic = await nicByMac(host, host.dataNicMac);
    baselineFiles = await snapshotFiles(host);
    baseline = await readRuntime(host, nic);
    engine = await inlineStack("kvmtune-whole-host", async () => {
      const hv = new TunedHost("whole", {
        connection: host.connection(),
        thp: { enabled: "madvise", defrag: "defer" },
        hugepages: { "2M": [16, 8], "1G": { node0: 1, node1: 1 } },
        sysctl: { "vm.swappiness": 10 },
        arpFilter: true,
        schedulers: { vdb: "mq-deadline" },
        readaheadKb: { vdb: 1024 },
        nrRequests: { vdb: 32 },
        modules: ["vhost_net"],
        moduleOptions: { vhost: { max_mem_regions: 128 } },
        mtu: { [nic]: 4000 },
        ksm: true,
        sriov: { [SRIOV_PF]: 2 },
        isolateCpus: "2-3",
        kernelArgs: { intel_iommu: "on" },
        reboot: "when-pending",
        rebootTimeoutSeconds: 400,
      });
      return { pendingReboot: hv.pendingReboot, pendingRebootKeys: hv.pendingRebootKeys };
    });
  });
  after(async () => {
    await engine?.stack.workspace.removeStack("dev", { force: true }).catch(() => undefined);
    await host?.stop();
  });

  it("starts from a host where every value differs from what the program sets", () => {
    assert.equal(baseline.cmdline.includes("isolcpus"), false);
    assert.equal(baseline.isolated, "");
    assert.notEqual(baseline.swappiness, "10");
    assert.equal(baseline.arpFilter, "0");
    assert.doesNotMatch(baseline.thpEnabled, /\[madvise\]/);
    assert.doesNotMatch(baseline.thpDefrag, /\[defer\]/);
    assert.deepEqual([baseline.pages2M, baseline.pages1G], [["0", "0"], ["0", "0"]]);
    assert.deepEqual(baseline.hugetlbfsMounts, ["/dev/hugepages:rw,relatime,pagesize=2M"]);
    assert.doesNotMatch(baseline.scheduler, /\[mq-deadline\]/);
    assert.notEqual(baseline.readAheadKb, "1024");
    assert.notEqual(baseline.nrRequests, "32");
    assert.equal(baseline.vhostNetLoaded, false);
    assert.equal(baseline.dataNicMtu, "1500");
    assert.equal(baseline.ksmRun, "0");
    assert.equal(baseline.sriovNumVfs, "0");
  });

  it("up applies, reboots once through GRUB, and every value comes back from the host's own boot", async () => {
    const up = await engine.run((onOutput) => engine.stack.up({ onOutput }));
    assert.equal(up.summary.result, "succeeded");
    assert.match(engine.output(), /\+ +.*kvmtune:HostReboot/);
    // The wait is not a bare "creating…": the reboot's own row says what it waits for, and when the host is back.
    assert.match(engine.output(), /kvmtune:HostReboot +\S+ +creating \(\d+s\) +127\.0\.0\.1: reboot requested/);
    assert.match(engine.output(), /kvmtune:HostReboot +\S+ +creating \(\d+s\) +waiting for 127\.0\.0\.1 to come back: \d+ s of \d+ s/);
    assert.match(engine.output(), /kvmtune:HostReboot +\S+ +created \(\d+s\) +127\.0\.0\.1 is back after \d+ s \(new boot id\)/);
    const after = await readRuntime(host, nic);
    // The boot loader wrote the new command line; the kernel took it.
    const tokens = ["isolcpus=managed_irq,domain,2-3", "nohz_full=2-3", "rcu_nocbs=2-3", "intel_iommu=on", "hugepagesz=1G", "hugepages=0:1,1:1"];
    assert.deepEqual(tokens.filter((t) => !after.cmdline.split(" ").includes(t)), [], `/proc/cmdline: ${after.cmdline}`);
    // Every other value at once, so one run names every setting the boot did not bring back.
    assert.deepEqual({ ...after, cmdline: "(above)" }, {
      cmdline: "(above)",
      isolated: "2-3", // isolcpus, from GRUB's command line
      pages1G: ["1", "1"], // hugepages=0:1,1:1, reserved per node at boot
      swappiness: "10", // sysctl.d
      arpFilter: "1", // sysctl.d
      thpEnabled: "always [madvise] never", // tmpfiles.d
      thpDefrag: "always [defer] defer+madvise madvise never", // tmpfiles.d
      pages2M: ["16", "8"], // tmpfiles.d, per node
      hugetlbfsMounts: ["/dev/hugepages1G:rw,relatime,pagesize=1024M", "/dev/hugepages2M:rw,relatime,pagesize=2M", "/dev/hugepages:rw,relatime,pagesize=2M"], // fstab
      scheduler: "[mq-deadline] none", // udev
      readAheadKb: "1024", // udev
      nrRequests: "32", // udev, after the scheduler
      vhostNetLoaded: true, // modules-load.d
      vhostMaxMemRegions: "128", // modprobe.d, the running parameter
      dataNicMtu: "4000", // udev, on a NIC renamed by udev in the same event
      ksmRun: "1", // tmpfiles.d
      sriovNumVfs: "2", // udev rule on the PF's add event
    });
  });

  it("after the reboot, preview --refresh --expect-no-changes is clean and pendingReboot is false", async () => {
    await engine.run((onOutput) => engine.stack.preview({ onOutput, refresh: true, expectNoChanges: true }));
    const up = await engine.run((onOutput) => engine.stack.up({ onOutput, refresh: true }));
    assert.deepEqual(up.summary.resourceChanges, { same: 4 });
    assert.equal(up.outputs.pendingReboot.value, false);
    assert.deepEqual(up.outputs.pendingRebootKeys.value, []);
  });

  it("destroy, then a reboot: the same files byte for byte, the same runtime values, GRUB without kvmtune's arguments", async () => {
    const d = await engine.run((onOutput) => engine.stack.destroy({ onOutput }));
    assert.equal(d.summary.result, "succeeded");
    await host.reboot();
    assert.equal(await snapshotFiles(host), baselineFiles);
    assert.deepEqual(await readRuntime(host, nic), baseline);
  });
});
