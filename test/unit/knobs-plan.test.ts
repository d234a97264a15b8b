// Persistence files (golden text) and the pure apply/rollback planner on
// synthetic host snapshots: what is written, in which order, what is saved.
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseHostFacts } from "../../provider/host/facts";
import { resolveKnob } from "../../provider/host/knobs/catalogue";
import { cmdlineTokens, configuredValue, fileTag, managedBlock, persistenceOps, persistencePaths, renderPersistence } from "../../provider/host/knobs/persistence";
import { normaliseSettings, observe, planApply, planRollback, readList, type Originals } from "../../provider/host/knobs/plan";
import type { Knob, RemoteOp } from "../../provider/host/knobs/types";
import { FIXTURE_DIR } from "../fixtures/facts/run-script";

const HV01 = parseHostFacts(readFileSync(join(FIXTURE_DIR, "hv01-2socket.txt"), "utf8"));
const TAG = "hv01";
const P = persistencePaths(TAG);
const HEADER = "# Managed by kvmtune (hv01). Changes here are overwritten; change the Pulumi program instead.\n";

function knob(key: string): Knob {
  const k = resolveKnob(key);
  if ("problem" in k) throw new Error(k.problem);
  return k;
}

function knobs(keys: string[]): Map<string, Knob> {
  return new Map(keys.map((k) => [k, knob(k)]));
}

function render(settings: Record<string, string>, tag = TAG): Map<string, string> {
  const n = normaliseSettings(settings);
  assert.deepEqual(n.problems, []);
  return renderPersistence(tag, [...n.knobs].map(([key, k]) => ({ knob: k, value: n.desired.get(key)! })));
}

// --- a synthetic host -------------------------------------------------------

const F = {
  bfq: "/sys/module/bfq/uevent",
  thp: "/sys/kernel/mm/transparent_hugepage/enabled",
  hp1: "/sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages",
  mounts: "/proc/mounts",
  swap: "/proc/sys/vm/swappiness",
  dirty: "/proc/sys/vm/dirty_ratio",
  sched: "/sys/block/sda/queue/scheduler",
  nr: "/sys/block/sda/queue/nr_requests",
  mtu: "/sys/class/net/eno1/mtu",
  cmdline: "/proc/cmdline",
};

const SETTINGS: Record<string, string> = {
  "module:bfq": "loaded",
  "thp:enabled": "madvise",
  "hugepages:2M:node1": "16",
  "hugetlbfs:2M": "/mnt/huge2M",
  "sysctl:vm.swappiness": "10",
  "block:sda:scheduler": "cfq",
  "block:sda:nr_requests": "64",
  "mtu:eno1": "9000",
  "cmdline:isolcpus": "2-7",
};

const SYSTEMD_HUGEPAGES = "hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0";

/** The host before kvmtune: no persistence files; systemd's /dev/hugepages is mounted. */
function before(): Map<string, string | undefined> {
  const m = new Map<string, string | undefined>([
    [F.bfq, undefined],
    [F.thp, "always madvise [never]"],
    [F.hp1, "0"],
    [F.mounts, `proc /proc proc rw 0 0\n${SYSTEMD_HUGEPAGES}`],
    [F.swap, "60"],
    [F.sched, "none [mq-deadline] kyber bfq"],
    [F.nr, "256"],
    [F.mtu, "1500"],
    [F.cmdline, "BOOT_IMAGE=/vmlinuz ro quiet"],
  ]);
  for (const p of Object.values(P)) m.set(p, undefined);
  return m;
}

/** What READ_SCRIPT returns for a file we wrote: the content without its final newline. */
const asRead = (content: string) => content.replace(/\n$/, "");

/** The host after a complete apply of SETTINGS. */
function applied(): Map<string, string | undefined> {
  const m = before();
  m.set(F.bfq, "");
  m.set(F.thp, "always [madvise] never");
  m.set(F.hp1, "16");
  m.set(F.mounts, `proc /proc proc rw 0 0\n${SYSTEMD_HUGEPAGES}\nnone /mnt/huge2M hugetlbfs rw,relatime,pagesize=2M 0 0`);
  m.set(F.swap, "10");
  m.set(F.sched, "none mq-deadline kyber [bfq]");
  m.set(F.nr, "64");
  m.set(F.mtu, "9000");
  for (const [p, c] of render(SETTINGS)) m.set(p, c === "" ? undefined : p === P.fstab ? `# BEGIN kvmtune ${TAG}\n${c}# END kvmtune ${TAG}` : asRead(c));
  return m;
}

function plan(settings: Record<string, string>, files: Map<string, string | undefined>, originals: Originals = {}, previousKeys: string[] = []) {
  const n = normaliseSettings(settings);
  assert.deepEqual(n.problems, []);
  const dropped = knobs(previousKeys.filter((k) => !n.desired.has(k)));
  return planApply({ desired: n.desired, knobs: n.knobs, facts: HV01, files, tag: TAG, allowManagementInterface: false, originals, dropped });
}

const SYSCTL_FILE = `${HEADER}vm.swappiness = 10\n`;
const TMPFILES_FILE = `${HEADER}w /sys/kernel/mm/transparent_hugepage/enabled - - - - madvise\nw /sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages - - - - 16\n`;
const UDEV_BLOCK_FILE = `${HEADER}ACTION=="add|change", SUBSYSTEM=="block", KERNEL=="sda", ATTR{queue/scheduler}="bfq", ATTR{queue/nr_requests}="64"\n`;
const UDEV_NET_FILE = `${HEADER}ACTION=="add", SUBSYSTEM=="net", KERNEL=="eno1", ATTR{mtu}="9000"\n`;
const MODULES_FILE = `${HEADER}bfq\n`;
const DONE = "# kvmtune: boot loader configuration regenerated with this file\n";
const GRUB_WRITTEN = `${HEADER}GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX isolcpus=2-7"\n`;
const GRUB_FILE = `${GRUB_WRITTEN}${DONE}`;
const FSTAB_BLOCK = "none /mnt/huge2M hugetlbfs pagesize=2M 0 0\n";

describe("host knobs: persistence files", function () {
  it("renders one file per kind, named after the resource, with exact content", function () {
    const files = render({
      "sysctl:vm.swappiness": "10",
      "sysctl:net.ipv4.tcp_rmem": "4096\t87380 6291456",
      "sysctl:net.ipv4.conf.eth0/100.rp_filter": "2",
      "thp:enabled": "madvise",
      "thp:defrag": "never",
      "ksm:run": "1",
      "hugepages:2M:node1": "16",
      "hugepages:2M:node0": "8",
      "cpufreq:governor": "performance",
      "block:sda:scheduler": "cfq",
      "block:sda:read_ahead_kb": "4096",
      "block:sda:nr_requests": "128",
      "block:nvme0n1:nr_requests": "1023",
      "mtu:eno1": "9000",
      "mtu:br0": "9000",
      "module:vhost_net": "loaded",
      "module:bfq": "loaded",
      "module:floppy": "unloaded",
      "modparam:kvm.halt_poll_ns": "0",
      "modparam:kvm_intel.nested": "Y",
      "modparam:kvm.ignore_msrs": "1",
      "cmdline:isolcpus": "2-7",
      "cmdline:iommu": "pt",
      "hugepages:1G:node0": "4",
      "hugepages:1G:node1": "2",
      "hugetlbfs:1G": "/dev/hugepages1G",
      "hugetlbfs:2M": "/mnt/huge2M",
    });
    assert.deepEqual(Object.fromEntries(files), {
      "/etc/sysctl.d/90-kvmtune-hv01.conf": `${HEADER}net.ipv4.conf.eth0/100.rp_filter = 2\nnet.ipv4.tcp_rmem = 4096 87380 6291456\nvm.swappiness = 10\n`,
      "/etc/tmpfiles.d/kvmtune-hv01.conf":
        HEADER +
        "w /sys/kernel/mm/transparent_hugepage/defrag - - - - never\n" +
        "w /sys/kernel/mm/transparent_hugepage/enabled - - - - madvise\n" +
        "w /sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages - - - - 8\n" +
        "w /sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages - - - - 16\n" +
        "w /sys/kernel/mm/ksm/run - - - - 1\n" +
        "w /sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_governor - - - - performance\n",
      // the scheduler is set before nr_requests (a switch resets it), as the live steps do
      "/etc/udev/rules.d/90-kvmtune-hv01-block.rules":
        HEADER +
        'ACTION=="add|change", SUBSYSTEM=="block", KERNEL=="nvme0n1", ATTR{queue/nr_requests}="1023"\n' +
        'ACTION=="add|change", SUBSYSTEM=="block", KERNEL=="sda", ATTR{queue/scheduler}="bfq", ATTR{queue/nr_requests}="128", ATTR{queue/read_ahead_kb}="4096"\n',
      "/etc/udev/rules.d/90-kvmtune-hv01-net.rules": `${HEADER}ACTION=="add", SUBSYSTEM=="net", KERNEL=="br0", ATTR{mtu}="9000"\nACTION=="add", SUBSYSTEM=="net", KERNEL=="eno1", ATTR{mtu}="9000"\n`,
      "/etc/udev/rules.d/90-kvmtune-hv01-sriov.rules": "",
      "/etc/modules-load.d/kvmtune-hv01.conf": `${HEADER}bfq\nvhost_net\n`,
      "/etc/modprobe.d/kvmtune-hv01.conf": `${HEADER}options kvm halt_poll_ns=0 ignore_msrs=1\noptions kvm_intel nested=Y\n`,
      "/etc/default/grub.d/kvmtune-hv01.cfg": `${HEADER}GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX iommu=pt isolcpus=2-7 hugepagesz=1G hugepages=0:4,1:2"\n${DONE}`,
      "/etc/fstab": "none /dev/hugepages1G hugetlbfs pagesize=1G 0 0\nnone /mnt/huge2M hugetlbfs pagesize=2M 0 0\n",
    });
  });

  it("renders nothing (every file to remove) for no settings", function () {
    assert.deepEqual(Object.fromEntries(renderPersistence(TAG, [])), Object.fromEntries(Object.values(P).map((p) => [p, ""])));
  });

  it("reserves 1G pages at boot as a total or per node", function () {
    const entries = (s: Record<string, string>) => [...normaliseSettings(s).knobs].map(([key, k]) => ({ knob: k, value: s[key] }));
    assert.deepEqual(cmdlineTokens(entries({ "hugepages:1G": "8" })), ["hugepagesz=1G", "hugepages=8"]);
    assert.deepEqual(cmdlineTokens(entries({ "hugepages:1G:node1": "2", "hugepages:1G:node0": "4", "cmdline:intel_iommu": "on" })), ["intel_iommu=on", "hugepagesz=1G", "hugepages=0:4,1:2"]);
    assert.deepEqual(cmdlineTokens(entries({ "hugepages:2M": "8" })), []);
  });

  it("names files after a tag made from the resource name", function () {
    assert.equal(fileTag("hv01"), "hv01");
    // Other names are made tags with a hash of the name (test/unit/file-tag.test.ts).
    assert.match(fileTag("HV 01/../etc"), /^hv-01-etc-[0-9a-f]{8}$/);
    assert.deepEqual(persistencePaths("hv01"), {
      sysctl: "/etc/sysctl.d/90-kvmtune-hv01.conf",
      tmpfiles: "/etc/tmpfiles.d/kvmtune-hv01.conf",
      "udev-block": "/etc/udev/rules.d/90-kvmtune-hv01-block.rules",
      "udev-net": "/etc/udev/rules.d/90-kvmtune-hv01-net.rules",
      "udev-sriov": "/etc/udev/rules.d/90-kvmtune-hv01-sriov.rules",
      "modules-load": "/etc/modules-load.d/kvmtune-hv01.conf",
      modprobe: "/etc/modprobe.d/kvmtune-hv01.conf",
      bootloader: "/etc/default/grub.d/kvmtune-hv01.cfg",
      fstab: "/etc/fstab",
    });
  });

  it("touches only files whose content differs; a drop-in change regenerates the boot loader, then marks the file done", function () {
    const wanted = render({ "sysctl:vm.swappiness": "10", "cmdline:isolcpus": "2-7", "hugetlbfs:2M": "/mnt/huge2M" });
    const fstab = "UUID=1 / ext4 defaults 0 1\n# BEGIN kvmtune other\nnone /mnt/o hugetlbfs pagesize=2M 0 0\n# END kvmtune other";
    const current = new Map<string, string | undefined>([
      [P.sysctl, asRead(SYSCTL_FILE)],
      [P.bootloader, `${HEADER}GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX isolcpus=1-7"`],
      [P.fstab, fstab],
      [P.tmpfiles, undefined],
      [P.modprobe, `${HEADER}options kvm halt_poll_ns=0`],
    ]);
    assert.deepEqual(persistenceOps(TAG, wanted, current, "update-grub"), [
      { op: "file", path: P.modprobe, content: "" },
      { op: "file", path: P.bootloader, content: GRUB_WRITTEN },
      { op: "update-bootloader", tool: "update-grub" },
      { op: "file", path: P.bootloader, content: GRUB_FILE },
      { op: "managed-block", path: P.fstab, tag: TAG, content: FSTAB_BLOCK },
    ]);
    // cut before the regeneration finished: the drop-in lacks its last line, so it is done again
    current.set(P.bootloader, asRead(GRUB_WRITTEN));
    assert.deepEqual(persistenceOps(TAG, wanted, current, "update-grub").slice(1, 4), [
      { op: "file", path: P.bootloader, content: GRUB_WRITTEN },
      { op: "update-bootloader", tool: "update-grub" },
      { op: "file", path: P.bootloader, content: GRUB_FILE },
    ]);
    current.set(P.fstab, `${fstab}\n# BEGIN kvmtune hv01\n${FSTAB_BLOCK}# END kvmtune hv01`);
    current.set(P.bootloader, asRead(GRUB_FILE));
    current.set(P.modprobe, undefined);
    assert.deepEqual(persistenceOps(TAG, wanted, current, "update-grub"), []);
  });

  it("finds our block of a shared file among other lines and other resources' blocks", function () {
    const fstab = "UUID=1 / ext4 defaults 0 1\n# BEGIN kvmtune hv01\na\nb\n# END kvmtune hv01\n# BEGIN kvmtune hv02\nc\n# END kvmtune hv02\n";
    assert.equal(managedBlock(fstab, "hv01"), "a\nb\n");
    assert.equal(managedBlock(fstab, "hv02"), "c\n");
    assert.equal(managedBlock(fstab, "hv03"), "");
    assert.equal(managedBlock("# BEGIN kvmtune hv01\n# END kvmtune hv01\n", "hv01"), "");
    assert.equal(managedBlock("# END kvmtune hv01\n# BEGIN kvmtune hv01\nx\n", "hv01"), "");
    assert.equal(managedBlock(undefined, "hv01"), "");
  });

  it("reads configured boot-time values and our hugetlbfs mount points back from our own files", function () {
    const files = new Map<string, string | undefined>([
      [P.bootloader, asRead(`${HEADER}GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX iommu=pt isolcpus=2-7 hugepagesz=1G hugepages=0:4"\n`)],
      [P.modprobe, asRead(`${HEADER}options kvm halt_poll_ns=0 ignore_msrs=1\noptions kvm_intel nested=Y\n`)],
      [P.fstab, `UUID=1 / ext4 defaults 0 1\n# BEGIN kvmtune hv01\nnone /dev/hugepages1G hugetlbfs pagesize=1G 0 0\n# END kvmtune hv01\n# BEGIN kvmtune x\nnone /mnt/x hugetlbfs pagesize=2M 0 0\n# END kvmtune x`],
    ]);
    assert.equal(configuredValue(knob("cmdline:isolcpus"), TAG, files), "2-7");
    assert.equal(configuredValue(knob("cmdline:iommu"), TAG, files), "pt");
    assert.equal(configuredValue(knob("cmdline:nohz_full"), TAG, files), undefined);
    assert.equal(configuredValue(knob("modparam:kvm.ignore_msrs"), TAG, files), "1");
    assert.equal(configuredValue(knob("modparam:kvm_intel.nested"), TAG, files), "Y");
    assert.equal(configuredValue(knob("modparam:kvm.nx_huge_pages"), TAG, files), undefined);
    assert.equal(configuredValue(knob("hugetlbfs:1G"), TAG, files), "/dev/hugepages1G");
    assert.equal(configuredValue(knob("hugetlbfs:2M"), TAG, files), undefined, "another resource's block is not ours");
    // 1G pools are boot-time: their configured value is the hugepages= token of our drop-in.
    assert.equal(configuredValue(knob("hugepages:1G:node0"), TAG, files), "4");
    assert.equal(configuredValue(knob("hugepages:1G:node1"), TAG, files), undefined);
    assert.equal(configuredValue(knob("hugepages:1G"), TAG, files), undefined, "a per-node list is not a total");
    files.set(P.bootloader, asRead(`${HEADER}GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX hugepagesz=1G hugepages=8"\n`));
    assert.equal(configuredValue(knob("hugepages:1G"), TAG, files), "8");
    assert.equal(configuredValue(knob("hugepages:1G:node0"), TAG, files), undefined);
    assert.equal(knob("hugepages:1G:node0").disruption, "host-reboot");
    assert.deepEqual(knob("hugepages:1G:node0").apply("4", "0"), [], "never allocated live: reserved at boot");
    assert.equal(configuredValue(knob("sysctl:vm.swappiness"), TAG, files), undefined);
  });
});

describe("host knobs: observing a host", function () {
  it("reports boot-time knobs by their configured value, and pendingReboot while the running one differs", function () {
    const k = knobs(["cmdline:isolcpus", "modparam:kvm.halt_poll_ns", "sysctl:vm.swappiness"]);
    const files = new Map<string, string | undefined>([
      [F.cmdline, "ro quiet isolcpus=1"],
      ["/sys/module/kvm/parameters/halt_poll_ns", "200000"],
      [F.swap, "60"],
      [P.bootloader, asRead(GRUB_FILE)],
      [P.modprobe, asRead(`${HEADER}options kvm halt_poll_ns=200000\n`)],
    ]);
    const seen = observe(k, TAG, files);
    assert.deepEqual(Object.fromEntries(seen.values), { "cmdline:isolcpus": "2-7", "modparam:kvm.halt_poll_ns": "200000", "sysctl:vm.swappiness": "60" });
    assert.deepEqual(seen.pendingReboot, ["cmdline:isolcpus"]);
    files.set(P.bootloader, undefined);
    assert.deepEqual(observe(k, TAG, files).values.get("cmdline:isolcpus"), undefined);
  });

  it("reports our hugetlbfs mount (from the desired value, else our fstab block) when another of that size exists", function () {
    const k = knobs(["hugetlbfs:2M"]);
    const files = applied();
    files.set(F.mounts, `proc /proc proc rw 0 0\nnone /mnt/huge2M hugetlbfs rw,relatime,pagesize=2M 0 0\n${SYSTEMD_HUGEPAGES}`);
    assert.equal(observe(k, TAG, files, new Map([["hugetlbfs:2M", "/mnt/huge2M"]])).values.get("hugetlbfs:2M"), "/mnt/huge2M");
    assert.equal(observe(k, TAG, files).values.get("hugetlbfs:2M"), "/mnt/huge2M", "hint from our fstab block");
    files.set(P.fstab, undefined);
    assert.equal(observe(k, TAG, files).values.get("hugetlbfs:2M"), "/dev/hugepages", "no hint: the most recent mount");
  });

  it("reads every knob file and every persistence file in one list", function () {
    const paths = readList(knobs(["sysctl:vm.swappiness", "hugetlbfs:2M", "cmdline:isolcpus", "block:sda:scheduler"]).values(), TAG);
    assert.deepEqual(paths, [F.swap, F.mounts, F.cmdline, F.sched, ...Object.values(P)]);
  });
});

describe("host knobs: planning an apply", function () {
  it("writes every differing key in apply order, then the persistence files, and saves the originals", function () {
    const p = plan(SETTINGS, before());
    assert.deepEqual(p.problems, []);
    assert.deepEqual(p.ops, [
      { op: "modprobe", module: "bfq" },
      { op: "write", path: F.thp, value: "madvise" },
      { op: "write", path: F.hp1, value: "16" },
      { op: "mount-hugetlbfs", dir: "/mnt/huge2M", pageSize: "2M" },
      { op: "write", path: F.swap, value: "10" },
      { op: "write", path: F.sched, value: "bfq" },
      { op: "write", path: F.nr, value: "64" },
      { op: "write", path: F.mtu, value: "9000" },
      { op: "file", path: P.sysctl, content: SYSCTL_FILE },
      { op: "file", path: P.tmpfiles, content: TMPFILES_FILE },
      { op: "file", path: P["udev-block"], content: UDEV_BLOCK_FILE },
      { op: "file", path: P["udev-net"], content: UDEV_NET_FILE },
      { op: "file", path: P["modules-load"], content: MODULES_FILE },
      { op: "file", path: P.bootloader, content: GRUB_WRITTEN },
      { op: "update-bootloader", tool: "update-grub" },
      { op: "file", path: P.bootloader, content: GRUB_FILE },
      { op: "managed-block", path: P.fstab, tag: TAG, content: FSTAB_BLOCK },
    ]);
    assert.deepEqual(p.changes, [
      { key: "module:bfq", from: "unloaded", to: "loaded", disruption: "live" },
      { key: "thp:enabled", from: "never", to: "madvise", disruption: "live" },
      { key: "hugepages:2M:node1", from: "0", to: "16", disruption: "live" },
      { key: "hugetlbfs:2M", from: "/dev/hugepages", to: "/mnt/huge2M", disruption: "live" },
      { key: "sysctl:vm.swappiness", from: "60", to: "10", disruption: "live" },
      { key: "block:sda:scheduler", from: "mq-deadline", to: "bfq", disruption: "live" },
      { key: "block:sda:nr_requests", from: "256", to: "64", disruption: "live" },
      { key: "mtu:eno1", from: "1500", to: "9000", disruption: "live" },
      { key: "cmdline:isolcpus", from: undefined, to: "2-7", disruption: "host-reboot" },
    ]);
    assert.deepEqual(p.originals, {
      "module:bfq": "unloaded",
      "thp:enabled": "never",
      "hugepages:2M:node1": "0",
      "hugetlbfs:2M": "/dev/hugepages",
      "sysctl:vm.swappiness": "60",
      "block:sda:scheduler": "mq-deadline",
      "block:sda:nr_requests": "256",
      "mtu:eno1": "1500",
      "cmdline:isolcpus": null,
    });
  });

  it("undoes in reverse: kinds backwards (scheduler before its module), the device's scheduler before nr_requests, then the files", function () {
    const p = plan(SETTINGS, before());
    assert.deepEqual(p.rollback, [
      { op: "write", path: F.mtu, value: "1500" },
      { op: "write", path: F.sched, value: "mq-deadline" },
      { op: "write", path: F.nr, value: "256" },
      { op: "write", path: F.swap, value: "60" },
      { op: "umount", dir: "/mnt/huge2M" },
      { op: "write", path: F.hp1, value: "0" },
      { op: "write", path: F.thp, value: "never" },
      { op: "rmmod", module: "bfq" },
      { op: "file", path: P.sysctl, content: "" },
      { op: "file", path: P.tmpfiles, content: "" },
      { op: "file", path: P["udev-block"], content: "" },
      { op: "file", path: P["udev-net"], content: "" },
      { op: "file", path: P["modules-load"], content: "" },
      { op: "file", path: P.bootloader, content: "" },
      { op: "update-bootloader", tool: "update-grub" },
      { op: "managed-block", path: P.fstab, tag: TAG, content: "" },
    ]);
  });

  it("plans zero ops when the host already matches, files included", function () {
    const originals = { ...plan(SETTINGS, before()).originals };
    const p = plan(SETTINGS, applied(), originals, Object.keys(SETTINGS));
    assert.deepEqual([p.problems, p.ops, p.changes, p.rollback], [[], [], [], []]);
    assert.deepEqual(p.originals, originals);
  });

  it("writes only the key that drifted, and keeps the original saved the first time", function () {
    const originals = { ...plan(SETTINGS, before()).originals };
    const files = applied();
    files.set(F.swap, "30");
    const p = plan(SETTINGS, files, originals, Object.keys(SETTINGS));
    assert.deepEqual(p.ops, [{ op: "write", path: F.swap, value: "10" }]);
    assert.deepEqual(p.changes, [{ key: "sysctl:vm.swappiness", from: "30", to: "10", disruption: "live" }]);
    assert.equal(p.originals["sysctl:vm.swappiness"], "60");
    assert.deepEqual(p.rollback, [{ op: "write", path: F.swap, value: "30" }]);
  });

  it("saves originals of newly added keys only, and a missing value as null", function () {
    const originals = { ...plan(SETTINGS, before()).originals };
    const files = applied();
    files.set(F.dirty, "20");
    const p = plan({ ...SETTINGS, "sysctl:vm.dirty_ratio": "5" }, files, originals, Object.keys(SETTINGS));
    assert.deepEqual(p.originals, { ...originals, "sysctl:vm.dirty_ratio": "20" });
    assert.deepEqual(p.ops, [
      { op: "write", path: F.dirty, value: "5" },
      { op: "file", path: P.sysctl, content: `${HEADER}vm.dirty_ratio = 5\nvm.swappiness = 10\n` },
    ]);
  });

  it("restores dropped keys to their originals first, forgets them, and rewrites the files without them", function () {
    const originals: Originals = { ...plan(SETTINGS, before()).originals, "sysctl:vm.dirty_ratio": "20", "hugetlbfs:1G": null, "thp:defrag": "madvise" };
    const files = applied();
    files.set(F.dirty, "5");
    files.set(F.mounts, `${files.get(F.mounts)}\nnone /mnt/huge1G hugetlbfs rw,relatime,pagesize=1024M 0 0`);
    files.set("/sys/kernel/mm/transparent_hugepage/defrag", "always defer defer+madvise [madvise] never");
    files.set(P.sysctl, asRead(`${HEADER}vm.dirty_ratio = 5\nvm.swappiness = 10\n`));
    const { "sysctl:vm.swappiness": _, ...rest } = SETTINGS;
    void _;
    const p = plan(rest, files, originals, [...Object.keys(SETTINGS), "sysctl:vm.dirty_ratio", "hugetlbfs:1G", "thp:defrag"]);
    assert.deepEqual(p.ops, [
      { op: "write", path: F.swap, value: "60" },
      { op: "write", path: F.dirty, value: "20" },
      { op: "umount", dir: "/mnt/huge1G" },
      { op: "file", path: P.sysctl, content: "" },
    ]);
    assert.deepEqual(p.changes, [
      { key: "sysctl:vm.swappiness", from: "10", to: "60", disruption: "live" },
      { key: "sysctl:vm.dirty_ratio", from: "5", to: "20", disruption: "live" },
      { key: "hugetlbfs:1G", from: "/mnt/huge1G", to: undefined, disruption: "live" },
    ]);
    const { "sysctl:vm.swappiness": _s, "sysctl:vm.dirty_ratio": _d, "hugetlbfs:1G": _h, "thp:defrag": _t, ...kept } = originals;
    void [_s, _d, _h, _t];
    assert.deepEqual(p.originals, kept);
    assert.deepEqual(p.rollback, [
      { op: "write", path: F.dirty, value: "5" },
      { op: "write", path: F.swap, value: "10" },
      { op: "mount-hugetlbfs", dir: "/mnt/huge1G", pageSize: "1G" },
      { op: "file", path: P.sysctl, content: `${HEADER}vm.dirty_ratio = 5\nvm.swappiness = 10\n` },
    ]);
  });

  it("writes nr_requests again after a scheduler switch, even when it already has the wanted value", function () {
    const files = applied();
    files.set(F.sched, "none [mq-deadline] kyber bfq");
    const originals = plan(SETTINGS, before()).originals;
    const p = plan(SETTINGS, files, originals, Object.keys(SETTINGS));
    assert.deepEqual(p.ops, [
      { op: "write", path: F.sched, value: "bfq" },
      { op: "write", path: F.nr, value: "64" },
    ]);
    assert.deepEqual(p.changes, [{ key: "block:sda:scheduler", from: "mq-deadline", to: "bfq", disruption: "live" }]);
    assert.deepEqual(p.rollback, [
      { op: "write", path: F.sched, value: "mq-deadline" },
      { op: "write", path: F.nr, value: "64" },
    ]);
  });

  it("lists every host problem, including keys the host does not have", function () {
    const files = before();
    files.set("/proc/sys/vm/no_such_knob", undefined);
    files.set("/sys/kernel/mm/ksm/run", undefined);
    const n = normaliseSettings({ "sysctl:vm.no_such_knob": "1", "ksm:run": "1", "hugepages:2M:node1": "70000", "hugepages:2M": "4", "block:sdb:scheduler": "none" });
    const p = planApply({ desired: n.desired, knobs: n.knobs, facts: HV01, files, tag: TAG, allowManagementInterface: false, originals: {}, dropped: new Map() });
    assert.deepEqual(p.problems, [
      "hugepages:2M: set either hugepages:2M (a host total) or per-node hugepages:2M:node<N> counts, not both: writing one changes the other",
      "hugepages:2M:node1: 70000 x 2M = 140000 MiB exceeds the 129020 MiB of memory on node 1",
      "ksm:run: not present on this host (/sys/kernel/mm/ksm/run missing)",
      "sysctl:vm.no_such_knob: not present on this host (/proc/sys/vm/no_such_knob missing)",
      `block:sdb:scheduler: block device "sdb" does not exist on this host; it has dm-0, dm-1, nvme0n1, sda, sr0`,
    ]);
  });
});

describe("host knobs: rolling back a failed apply from what the host shows", function () {
  const all = () => {
    const n = normaliseSettings(SETTINGS);
    return { knobs: n.knobs, desired: n.desired };
  };
  const rollback = (after: Map<string, string | undefined>) => planRollback(all().knobs, TAG, before(), after, "update-grub", all().desired);

  it("after a complete run it is the reverse of the apply", function () {
    assert.deepEqual(rollback(applied()), plan(SETTINGS, before()).rollback);
  });

  it("undoes only the steps that ran, so a step that never ran cannot stop it", function () {
    const after = before();
    after.set(F.bfq, "");
    after.set(F.thp, "always [madvise] never");
    assert.deepEqual(rollback(after), [
      { op: "write", path: F.thp, value: "never" },
      { op: "rmmod", module: "bfq" },
    ]);
    assert.deepEqual(rollback(before()), []);
  });

  it("puts nr_requests back after switching the scheduler back, and restores files that changed", function () {
    const after = before();
    after.set(F.sched, "none mq-deadline kyber [bfq]");
    after.set(P.sysctl, asRead(SYSCTL_FILE));
    after.set(P.bootloader, asRead(GRUB_FILE));
    after.set(P.fstab, `# BEGIN kvmtune hv01\n${FSTAB_BLOCK}# END kvmtune hv01`);
    assert.deepEqual(rollback(after), [
      { op: "write", path: F.sched, value: "mq-deadline" },
      { op: "write", path: F.nr, value: "256" },
      { op: "file", path: P.sysctl, content: "" },
      { op: "file", path: P.bootloader, content: "" },
      { op: "update-bootloader", tool: "update-grub" },
      { op: "managed-block", path: P.fstab, tag: TAG, content: "" },
    ]);
  });

  it("gives an edited file its previous content back", function () {
    const b = before();
    b.set(P.sysctl, asRead(`${HEADER}vm.swappiness = 20\n`));
    const after = new Map(b);
    after.set(P.sysctl, asRead(SYSCTL_FILE));
    const ops: RemoteOp[] = planRollback(all().knobs, TAG, b, after, "update-grub", all().desired);
    assert.deepEqual(ops, [{ op: "file", path: P.sysctl, content: `${HEADER}vm.swappiness = 20\n` }]);
  });
});
