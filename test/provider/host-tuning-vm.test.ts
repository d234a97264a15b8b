// applyHostTuning / readHostTuning / restoreHostTuning against real kernels:
// the Debian cloud kernel in qemu (TCG), with emulated NUMA nodes and virtio
// disks. Every value is read back through an independent `vm.ssh` channel.
// The shared VM is left as found; tests that break things get a VM of their own.
import { strict as assert } from "node:assert";
import { applyHostTuning, PartialApplyError, readHostTuning, restoreHostTuning, type ApplyResult } from "../../provider/host/tuning";
import { BOOTLOADER_DONE } from "../../provider/host/knobs/persistence";
import type { Originals } from "../../provider/host/knobs/plan";
import { resetTransportCounts, transportCounts } from "../../provider/transport/stats";
import { sharedTestVm } from "../support/shared-vm";
import { grubCfg } from "../support/rootfs-files";
import { startTestVm, type TestVm } from "../support/vm";

const conn = (vm: TestVm) => ({ host: vm.host, port: vm.port, user: "root", privateKey: vm.privateKey, hostKey: vm.hostKey });
const target = (vm: TestVm) => `127.0.0.1:${vm.port}`;

async function sh(vm: TestVm, cmd: string): Promise<string> {
  const r = await vm.ssh(cmd);
  assert.equal(r.code, 0, `${cmd}\n${r.stderr}`);
  return r.stdout;
}

/** Everything kvmtune could touch on a test VM: live values, modules, hugetlbfs mounts, and every file under /etc (inode, size, mtime, mode, checksum). */
const STATE = String.raw`
for f in /sys/kernel/mm/transparent_hugepage/enabled /sys/kernel/mm/transparent_hugepage/defrag /sys/kernel/mm/ksm/run \
  /proc/sys/vm/swappiness /proc/sys/vm/dirty_ratio /proc/sys/net/ipv4/conf/all/arp_filter /proc/sys/net/ipv4/tcp_rmem \
  /sys/kernel/mm/hugepages/hugepages-*/nr_hugepages /sys/devices/system/node/node*/hugepages/hugepages-*/nr_hugepages \
  /sys/block/vd*/queue/scheduler /sys/block/vd*/queue/read_ahead_kb /sys/block/vd*/queue/nr_requests /sys/class/net/*/mtu; do
  printf '%s = %s\n' "$f" "$(cat "$f")"
done
echo "modules: $(cut -d' ' -f1 /proc/modules | sort | tr '\n' ' ')"
grep hugetlbfs /proc/mounts | sed 's/^/mount: /'
[ ! -e /var/lib/kvmtune ] || find /var/lib/kvmtune | sort | sed 's/^/journal: /'
find /etc -type d | sort | sed 's/^/dir /'
find /etc -type f | sort | while read -r f; do printf 'file %s %s %s\n' "$f" "$(stat -c '%i %s %y %a' "$f")" "$(md5sum < "$f" | cut -d' ' -f1)"; done
`;
const state = (vm: TestVm) => sh(vm, STATE);

/** Drop-in directories a Debian host has and the test VM's initramfs lacks. */
const DROPIN_DIRS = "/etc/tmpfiles.d /etc/default/grub.d";

const PERSISTENCE_GLOBS = "/etc/sysctl.d/* /etc/tmpfiles.d/* /etc/udev/rules.d/* /etc/modules-load.d/* /etc/modprobe.d/* /etc/default/grub.d/*";
/** Our persistence files (and fstab) by inode and nanosecond mtime: a rewrite changes both. */
const fileStamps = (vm: TestVm) => sh(vm, `for f in ${PERSISTENCE_GLOBS} /etc/fstab; do [ -e "$f" ] && stat -c '%n %i %y' "$f"; done; true`);
const persistenceListing = (vm: TestVm) => sh(vm, `ls -A /etc/sysctl.d /etc/tmpfiles.d /etc/udev/rules.d /etc/modules-load.d /etc/modprobe.d /etc/default/grub.d 2>&1; true`);
const EMPTY_LISTING =
  "/etc/default/grub.d:\n\n/etc/modprobe.d:\n\n/etc/modules-load.d:\n\n/etc/sysctl.d:\n\n/etc/tmpfiles.d:\n\n/etc/udev/rules.d:\n";

/** A state dump with one file's inode and mtime blanked (size, mode and checksum kept). */
const withoutStamps = (dump: string, path: string) => dump.replace(new RegExp(`^(file ${path}) \\d+ (\\d+) \\S+ \\S+ \\S+ `, "m"), "$1 - $2 - ");

const header = (tag: string) => `# Managed by kvmtune (${tag}). Changes here are overwritten; change the Pulumi program instead.\n`;

async function rejectsWith(p: Promise<unknown>, check: (err: Error) => void): Promise<Error> {
  let caught: Error | undefined;
  try {
    await p;
  } catch (err) {
    caught = err as Error;
  }
  assert.ok(caught, "expected the call to fail");
  check(caught);
  return caught;
}

// A realistic fstab, so the managed block is edited next to lines that are not ours.
const FSTAB = "# /etc/fstab: static file system information.\nproc /proc proc defaults 0 0\n";

describe("host tuning on a real kernel: refused input changes nothing", function () {
  this.timeout(300_000);
  let vm: TestVm;
  let initial: string;

  before(async function () {
    vm = await sharedTestVm();
    initial = await state(vm);
  });

  it("refuses malformed keys and values before connecting, each with the field, the value and what is accepted", async function () {
    resetTransportCounts();
    const err = await rejectsWith(
      applyHostTuning(conn(vm), {
        tag: "vm-bad",
        allowManagementInterface: false,
        originals: {},
        previousKeys: [],
        settings: {
          "sysctl:vm.swappiness": "$(reboot)",
          "sysctl:vm..swappiness": "10",
          "sysctl:vm/swappiness": "10",
          "sysctl:vm.swappiness;reboot": "10",
          "sysctl:vm.dirty_ratio": "10\nvm.panic_on_oom = 1",
          "thp:enabled": "madvise",
          "block:vdb:scheduler": "anticipatory",
          "block:../sda:scheduler": "none",
          "block:vda:read_ahead_kb": "-1",
          "block:vdb:read_ahead_kb": "1.5",
          "block:vdc:read_ahead_kb": "99999999",
          "mtu:lo": "67",
          "mtu:eth0": "65536",
          "cmdline:isolcpus": "1 init=/bin/sh",
          "cmdline:nohz_full": "0-3,,5",
          "cmdline:rcu_nocbs": "5-2",
          "foo:bar": "1",
          "vm.swappiness": "10",
        },
      }),
      (e) => assert.equal(e.name, "InputError"),
    );
    const SHAPE = `is not a sysctl key; expected dotted names of letters, digits, '_' and '-' (e.g. vm.swappiness)`;
    const GRAMMAR =
      "module:<name>, modparam:<module>.<param>, thp:enabled | thp:defrag, hugepages:<2M|1G>[:node<N>], hugetlbfs:<2M|1G>, ksm:run, sysctl:<dotted.key>, block:<device>:<scheduler|read_ahead_kb|nr_requests>, mtu:<interface>, sriov:<nic or PCI address>:numvfs, cpufreq:governor, cmdline:<param>";
    assert.equal(
      err.message,
      [
        "invalid settings:",
        `settings["foo:bar"]: unknown setting; keys look like ${GRAMMAR}`,
        `settings["vm.swappiness"]: unknown setting; keys look like ${GRAMMAR}`,
        `settings["sysctl:vm..swappiness"]: "vm..swappiness" ${SHAPE}`,
        `settings["sysctl:vm.dirty_ratio"]: "10\\nvm.panic_on_oom = 1" is not accepted; expected a sysctl value (one line of printable text)`,
        `settings["sysctl:vm.swappiness"]: "$(reboot)" is not accepted; expected a sysctl value of letters, digits, spaces and _ . , : / + - (e.g. 10 or "4096 87380 6291456")`,
        `settings["sysctl:vm.swappiness;reboot"]: "vm.swappiness;reboot" ${SHAPE}`,
        `settings["sysctl:vm/swappiness"]: "vm/swappiness" ${SHAPE}`,
        `settings["block:../sda:scheduler"]: "../sda" is not a block device name; expected a kernel name such as sda, vda or nvme0n1 (no '/' or '..')`,
        `settings["block:vda:read_ahead_kb"]: "-1" is not accepted; expected an integer from 0 to 65536 KiB`,
        `settings["block:vdb:scheduler"]: "anticipatory" is not accepted; expected one of none, mq-deadline, bfq, kyber (legacy noop, deadline, cfq map to none, mq-deadline, bfq)`,
        `settings["block:vdb:read_ahead_kb"]: "1.5" is not accepted; expected an integer from 0 to 65536 KiB`,
        `settings["block:vdc:read_ahead_kb"]: "99999999" is not accepted; expected an integer from 0 to 65536 KiB`,
        `settings["mtu:eth0"]: "65536" is not accepted; expected an integer from 68 to 65535`,
        `settings["mtu:lo"]: "67" is not accepted; expected an integer from 68 to 65535`,
        `settings["cmdline:isolcpus"]: "1 init=/bin/sh" is not accepted; expected one kernel argument value (letters, digits, ',', '-', '.', ':'; no spaces, quotes or '=')`,
        `settings["cmdline:nohz_full"]: "0-3,,5" is not accepted: it has an empty element (two commas in a row); expected a cpulist such as 2-15 or 2-7,10-15 (CPU numbers and low-high ranges, separated by commas)`,
        `settings["cmdline:rcu_nocbs"]: "5-2" is not accepted: range "5-2" is reversed; write it low-high, as 2-5; expected a cpulist such as 2-15 or 2-7,10-15 (CPU numbers and low-high ranges, separated by commas)`,
      ].join("\n  - "),
    );
    assert.deepEqual(transportCounts(target(vm)), { connections: 0, commands: 0 }, "not even a connection");
  });

  it("refuses what this host does not offer after one read, naming the host, and writes none of the valid keys either", async function () {
    const node1KiB = Number(/MemTotal:\s+(\d+) kB/.exec(await sh(vm, "cat /sys/devices/system/node/node1/meminfo"))![1]);
    const tooMany = Math.floor(node1KiB / 2048) + 1;
    assert.equal(await sh(vm, "cat /sys/block/vda/queue/scheduler /proc/cpuinfo | grep -c '^processor'; cat /sys/block/vda/queue/scheduler"), "4\n[none] mq-deadline \n");
    resetTransportCounts();
    const err = await rejectsWith(
      applyHostTuning(conn(vm), {
        tag: "vm-bad",
        allowManagementInterface: false,
        originals: {},
        previousKeys: [],
        settings: {
          "sysctl:vm.swappiness": "10",
          "module:bfq": "loaded",
          "thp:enabled": "sometimes",
          "thp:defrag": "always [madvise] never",
          "block:vda:scheduler": "kyber",
          "block:vdz:read_ahead_kb": "1024",
          "hugepages:2M:node1": String(tooMany),
          "hugepages:2M:node2": "1",
          "mtu:eth0": "1400",
          "cmdline:isolcpus": "2-4",
          "cmdline:irqaffinity": "0-3",
          "cpufreq:governor": "performance",
          "sysctl:vm.no_such_knob": "1",
        },
      }),
      (e) => assert.equal(e.name, "InputError"),
    );
    const mtu = (await sh(vm, "cat /sys/class/net/eth0/mtu")).trim();
    assert.equal(
      err.message,
      [
        `invalid settings for ${target(vm)} (nothing was changed):`,
        `thp:defrag: "always [madvise] never" is not offered by this host; it offers always, defer, defer+madvise, madvise, never`,
        `thp:enabled: "sometimes" is not offered by this host; it offers always, madvise, never`,
        `hugepages:2M:node1: ${tooMany} x 2M = ${Math.round((tooMany * 2048) / 1024)} MiB exceeds the ${Math.floor(node1KiB / 1024)} MiB of memory on node 1`,
        "hugepages:2M:node2: NUMA node 2 does not exist on this host; it has node(s) 0, 1",
        "sysctl:vm.no_such_knob: not present on this host (/proc/sys/vm/no_such_knob missing)",
        `block:vda:scheduler: scheduler "kyber" is not offered by vda; it offers none, mq-deadline (load it with modules: ["kyber-iosched"] if the kernel has it as a module)`,
        `block:vdz:read_ahead_kb: block device "vdz" does not exist on this host; it has vda, vdb`,
        `mtu:eth0: eth0 carries kvmtune's SSH session (10.0.2.15); a wrong MTU would cut the host off. Set allowManagementInterface: true to change it anyway`,
        "cpufreq:governor: not present on this host (/sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_governor, /sys/devices/system/cpu/cpu0/cpufreq/scaling_available_governors missing)",
        `cmdline:irqaffinity: "0-3" is not accepted: it leaves no online housekeeping CPU; this host has CPUs 0-3, keep at least one online CPU (usually CPU 0 and its sibling) out of the list`,
        `cmdline:isolcpus: "2-4" is not accepted: CPU 4 does not exist; this host has CPUs 0-3`,
      ].join("\n  - "),
    );
    assert.equal(mtu, "1500");
    assert.deepEqual(transportCounts(target(vm)), { connections: 1, commands: 1 }, "one read, no apply command");
  });

  it("left the VM exactly as it was: no value, module, mount or /etc file changed", async function () {
    assert.equal(await state(vm), initial);
  });
});

describe("host tuning on a real kernel: every knob kind (shared VM)", function () {
  this.timeout(300_000);
  const TAG = "vm-all";
  let vm: TestVm;
  let pristine: string;
  let first: ApplyResult | undefined;
  let originals: Originals = {};

  const SETTINGS: Record<string, string> = {
    "module:bfq": "loaded",
    "modparam:kvm.halt_poll_ns": "0",
    "thp:enabled": "madvise",
    "thp:defrag": "defer",
    "hugepages:2M:node1": "8",
    "hugetlbfs:2M": "/dev/hugepages2M",
    "hugetlbfs:1G": "/dev/hugepages1G",
    "ksm:run": "1",
    "sysctl:vm.swappiness": "10",
    "sysctl:net.ipv4.conf.all.arp_filter": "1",
    "sysctl:net.ipv4.tcp_rmem": "4096\t65536   1048576",
    "block:vda:scheduler": "mq-deadline",
    "block:vdb:scheduler": "cfq",
    "block:vdb:nr_requests": "64",
    "block:vdb:read_ahead_kb": "1024",
    "mtu:lo": "16384",
    "cmdline:isolcpus": "2-3",
  };
  // The state values: canonical forms (cfq is bfq, whitespace folded, no trailing '/').
  const VALUES: Record<string, string> = {
    ...SETTINGS,
    "hugetlbfs:1G": "/dev/hugepages1G",
    "sysctl:net.ipv4.tcp_rmem": "4096 65536 1048576",
    "block:vdb:scheduler": "bfq",
  };
  const LIVE_READ =
    "cat /sys/kernel/mm/transparent_hugepage/enabled /sys/kernel/mm/transparent_hugepage/defrag /sys/kernel/mm/ksm/run " +
    "/sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages /proc/sys/vm/swappiness /proc/sys/net/ipv4/conf/all/arp_filter " +
    "/proc/sys/net/ipv4/tcp_rmem /sys/block/vda/queue/scheduler /sys/block/vdb/queue/scheduler /sys/block/vdb/queue/nr_requests " +
    "/sys/block/vdb/queue/read_ahead_kb /sys/class/net/lo/mtu; grep -c '^bfq ' /proc/modules; grep hugetlbfs /proc/mounts";
  // tcp_rmem's maximum is sized from free memory at boot, so it is read, not assumed.
  let rmemMax = "";
  const pristineLive = () => `always madvise [never]\nalways defer defer+madvise madvise [never]\n0\n0\n60\n0\n4096\t131072\t${rmemMax}\n[none] mq-deadline \n[none] mq-deadline \n256\n128\n65536\n`;
  const APPLIED_LIVE =
    "always [madvise] never\nalways [defer] defer+madvise madvise never\n1\n8\n10\n1\n4096\t65536\t1048576\n[mq-deadline] bfq none\nmq-deadline [bfq] none\n64\n1024\n16384\n1\n" +
    "none /dev/hugepages1G hugetlbfs rw,relatime,pagesize=1024M 0 0\nnone /dev/hugepages2M hugetlbfs rw,relatime,pagesize=2M 0 0\n";

  const apply = (settings = SETTINGS, previousKeys: string[] = []) => applyHostTuning(conn(vm), { settings, tag: TAG, allowManagementInterface: false, originals, previousKeys });

  before(async function () {
    vm = await sharedTestVm();
    assert.equal((await vm.ssh("[ -e /etc/fstab ]")).code, 1, "the test VM has no fstab of its own");
    // Like a real host: an fstab with lines of its own, and the drop-in directories present.
    await sh(vm, `printf '%s' '${FSTAB}' > /etc/fstab && mkdir -p ${DROPIN_DIRS}`);
    pristine = await state(vm);
    const rmem = (await vm.ssh("cat /proc/sys/net/ipv4/tcp_rmem")).stdout;
    assert.match(rmem, /^4096\t131072\t\d+\n$/);
    rmemMax = rmem.trim().split("\t")[2];
    const live = await vm.ssh(LIVE_READ);
    assert.equal(live.stdout, `${pristineLive()}0\n`, "the shared VM starts from the kernel's defaults");
  });

  after(async function () {
    if (!vm) return;
    // Safety net when a test failed half-way; a no-op after the restore test.
    if (Object.keys(originals).length) await restoreHostTuning(conn(vm), originals, TAG).catch(() => undefined);
    await vm.ssh(`umount /dev/hugepages 2>/dev/null; rmdir /dev/hugepages /dev/hugepages2M /dev/hugepages1G ${DROPIN_DIRS} /etc/default 2>/dev/null; rm -f /etc/fstab`);
  });

  it("applies every knob kind in one write command; an independent ssh reads back the exact values", async function () {
    resetTransportCounts();
    first = await apply();
    originals = first.originals;
    assert.equal((await vm.ssh(LIVE_READ)).stdout, APPLIED_LIVE);
    assert.deepEqual(first.values, VALUES);
    assert.deepEqual(first.originals, {
      "module:bfq": "unloaded",
      "modparam:kvm.halt_poll_ns": null,
      "thp:defrag": "never",
      "thp:enabled": "never",
      "hugepages:2M:node1": "0",
      "hugetlbfs:1G": null,
      "hugetlbfs:2M": null,
      "ksm:run": "0",
      "sysctl:net.ipv4.conf.all.arp_filter": "0",
      "sysctl:net.ipv4.tcp_rmem": `4096 131072 ${rmemMax}`,
      "sysctl:vm.swappiness": "60",
      "block:vda:scheduler": "none",
      "block:vdb:scheduler": "none",
      "block:vdb:nr_requests": "256",
      "block:vdb:read_ahead_kb": "128",
      "mtu:lo": "65536",
      "cmdline:isolcpus": null,
    });
    assert.deepEqual(
      first.changes.map((c) => `${c.key}: ${c.from ?? "(absent)"} -> ${c.to} (${c.disruption})`),
      [
        "module:bfq: unloaded -> loaded (live)",
        "modparam:kvm.halt_poll_ns: (absent) -> 0 (host-reboot)",
        "thp:defrag: never -> defer (live)",
        "thp:enabled: never -> madvise (live)",
        "hugepages:2M:node1: 0 -> 8 (live)",
        "hugetlbfs:1G: (absent) -> /dev/hugepages1G (live)",
        "hugetlbfs:2M: (absent) -> /dev/hugepages2M (live)",
        "ksm:run: 0 -> 1 (live)",
        "sysctl:net.ipv4.conf.all.arp_filter: 0 -> 1 (live)",
        `sysctl:net.ipv4.tcp_rmem: 4096 131072 ${rmemMax} -> 4096 65536 1048576 (live)`,
        "sysctl:vm.swappiness: 60 -> 10 (live)",
        "block:vda:scheduler: none -> mq-deadline (live)",
        "block:vdb:scheduler: none -> bfq (live)",
        "block:vdb:nr_requests: 256 -> 64 (live)",
        "block:vdb:read_ahead_kb: 128 -> 1024 (live)",
        "mtu:lo: 65536 -> 16384 (live)",
        "cmdline:isolcpus: (absent) -> 2-3 (host-reboot)",
      ],
    );
    // kvm is not loaded in the test VM and isolcpus is not on its command line: both wait for a reboot.
    assert.deepEqual(first.pendingReboot, ["modparam:kvm.halt_poll_ns", "cmdline:isolcpus"]);
    assert.deepEqual(first.notes, ["block:vdb:scheduler: scheduler cfq is the legacy name; using bfq"]);
    assert.equal(first.commands, 3);
    assert.deepEqual(transportCounts(target(vm)), { connections: 1, commands: 3 }, "one connection: read, apply, read back");
    assert.equal(first.hostname, vm.name);
    assert.equal(first.kernel, vm.kernelRelease);
  });

  it("writes the persistence files with exact content, and its block into the existing fstab", async function () {
    const h = header(TAG);
    const files: [string, string][] = [
      ["/etc/sysctl.d/90-kvmtune-vm-all.conf", `${h}net.ipv4.conf.all.arp_filter = 1\nnet.ipv4.tcp_rmem = 4096 65536 1048576\nvm.swappiness = 10\n`],
      [
        "/etc/tmpfiles.d/kvmtune-vm-all.conf",
        `${h}w /sys/kernel/mm/transparent_hugepage/defrag - - - - defer\nw /sys/kernel/mm/transparent_hugepage/enabled - - - - madvise\n` +
          "w /sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages - - - - 8\nw /sys/kernel/mm/ksm/run - - - - 1\n",
      ],
      [
        "/etc/udev/rules.d/90-kvmtune-vm-all-block.rules",
        `${h}ACTION=="add|change", SUBSYSTEM=="block", KERNEL=="vda", ATTR{queue/scheduler}="mq-deadline"\n` +
          `ACTION=="add|change", SUBSYSTEM=="block", KERNEL=="vdb", ATTR{queue/scheduler}="bfq", ATTR{queue/nr_requests}="64", ATTR{queue/read_ahead_kb}="1024"\n`,
      ],
      ["/etc/udev/rules.d/90-kvmtune-vm-all-net.rules", `${h}ACTION=="add", SUBSYSTEM=="net", KERNEL=="lo", ATTR{mtu}="16384"\n`],
      ["/etc/modules-load.d/kvmtune-vm-all.conf", `${h}bfq\n`],
      ["/etc/modprobe.d/kvmtune-vm-all.conf", `${h}options kvm halt_poll_ns=0\n`],
      ["/etc/default/grub.d/kvmtune-vm-all.cfg", `${h}GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX isolcpus=2-3"\n${BOOTLOADER_DONE}\n`],
      // What the image's update-grub stand-in made of the drop-in (the facts chose update-grub).
      ["/boot/grub/grub.cfg", grubCfg(["isolcpus=2-3"])],
      ["/etc/fstab", `${FSTAB}# BEGIN kvmtune vm-all\nnone /dev/hugepages1G hugetlbfs pagesize=1G 0 0\nnone /dev/hugepages2M hugetlbfs pagesize=2M 0 0\n# END kvmtune vm-all\n`],
    ];
    const shown = await sh(vm, `for f in ${files.map(([p]) => p).join(" ")}; do echo "== $f $(stat -c %a "$f")"; cat "$f"; done`);
    assert.equal(shown, files.map(([path, content]) => `== ${path} 644\n${content}`).join(""));
    assert.equal(
      await persistenceListing(vm),
      "/etc/default/grub.d:\nkvmtune-vm-all.cfg\n\n/etc/modprobe.d:\nkvmtune-vm-all.conf\n\n/etc/modules-load.d:\nkvmtune-vm-all.conf\n\n/etc/sysctl.d:\n90-kvmtune-vm-all.conf\n\n/etc/tmpfiles.d:\nkvmtune-vm-all.conf\n\n/etc/udev/rules.d:\n90-kvmtune-vm-all-block.rules\n90-kvmtune-vm-all-net.rules\n",
      "no temp files next to them",
    );
  });

  it("makes no write at all when applied again: read + read-back only, files untouched", async function () {
    const stamps = await fileStamps(vm);
    const snapshot = await state(vm);
    resetTransportCounts();
    const again = await apply(SETTINGS, Object.keys(SETTINGS));
    assert.deepEqual(again.changes, []);
    assert.deepEqual(again.originals, originals, "originals are kept, not re-read");
    assert.deepEqual(again.values, VALUES);
    assert.equal(again.commands, 2);
    assert.deepEqual(transportCounts(target(vm)), { connections: 1, commands: 2 }, "no apply command was sent");
    assert.equal(await fileStamps(vm), stamps, "same inodes and mtimes: no file was rewritten");
    assert.equal(await state(vm), snapshot);
  });

  it("reports exactly the key changed by hand, keeps reporting our hugetlbfs mount next to another one, and converges", async function () {
    await sh(vm, "echo 33 > /proc/sys/vm/swappiness; mkdir -p /dev/hugepages && mount -t hugetlbfs none /dev/hugepages");
    resetTransportCounts();
    const read = await readHostTuning(conn(vm), Object.keys(SETTINGS), TAG);
    assert.deepEqual(read.values, { ...VALUES, "sysctl:vm.swappiness": "33" });
    assert.deepEqual(read.pendingReboot, ["modparam:kvm.halt_poll_ns", "cmdline:isolcpus"]);
    assert.deepEqual(transportCounts(target(vm)), { connections: 1, commands: 1 });

    const stamps = await fileStamps(vm);
    const r = await apply(SETTINGS, Object.keys(SETTINGS));
    assert.deepEqual(r.changes, [{ key: "sysctl:vm.swappiness", from: "33", to: "10", disruption: "live" }]);
    assert.equal(r.originals["sysctl:vm.swappiness"], "60", "the original is the value before kvmtune, not the hand-made one");
    assert.equal(r.commands, 3);
    assert.equal(await sh(vm, "cat /proc/sys/vm/swappiness; grep -c hugetlbfs /proc/mounts"), "10\n3\n");
    assert.equal(await fileStamps(vm), stamps, "the files were right: only the value was written");
    await sh(vm, "umount /dev/hugepages && rmdir /dev/hugepages");
  });

  it("reports a hand edit of its persistence files as drift naming file and line, and rewrites the file", async function () {
    const path = "/etc/sysctl.d/90-kvmtune-vm-all.conf";
    const content = await sh(vm, `cat ${path}`);
    const lines = content.split("\n");
    const at = lines.indexOf("vm.swappiness = 10") + 1;
    assert.ok(at > 1, content);
    await sh(vm, `sed -i 's/^vm.swappiness = 10$/vm.swappiness = 30/' ${path} && echo 'vm.dirty_ratio = 99' >> ${path} && sed -i 's/^# END kvmtune vm-all$/none \\/mnt hugetlbfs pagesize=2M 0 0\\n&/' /etc/fstab`);
    const read = await readHostTuning(conn(vm), Object.keys(SETTINGS), TAG, VALUES);
    assert.deepEqual(read.values, VALUES, "every live value is still right");
    assert.deepEqual(read.persistenceDrift, [
      `${path} line ${at}: "vm.swappiness = 30", expected "vm.swappiness = 10"`,
      `${path} line ${lines.length}: "vm.dirty_ratio = 99", expected nothing`,
      `/etc/fstab (kvmtune's block "vm-all") line 3: "none /mnt hugetlbfs pagesize=2M 0 0", expected nothing`,
    ]);
    const r = await apply(SETTINGS, Object.keys(SETTINGS));
    assert.deepEqual(r.changes, [], "no live value changed");
    assert.equal(r.commands, 3);
    assert.equal(await sh(vm, `cat ${path}`), content);
    assert.deepEqual((await readHostTuning(conn(vm), Object.keys(SETTINGS), TAG, VALUES)).persistenceDrift, []);
  });

  it("restores the originals on the host, removes its files and its fstab block, and leaves the rest as it was", async function () {
    const r = await restoreHostTuning(conn(vm), originals, TAG);
    assert.deepEqual(r.restored, [
      "mtu:lo",
      "block:vda:scheduler",
      "block:vdb:scheduler",
      "block:vdb:nr_requests",
      "block:vdb:read_ahead_kb",
      "sysctl:net.ipv4.conf.all.arp_filter",
      "sysctl:net.ipv4.tcp_rmem",
      "sysctl:vm.swappiness",
      "ksm:run",
      "hugetlbfs:1G",
      "hugetlbfs:2M",
      "hugepages:2M:node1",
      "thp:defrag",
      "thp:enabled",
      "module:bfq",
    ]);
    assert.equal((await vm.ssh(LIVE_READ)).stdout, `${pristineLive()}0\n`);
    assert.equal(await persistenceListing(vm), EMPTY_LISTING);
    assert.equal(await sh(vm, "cat /etc/fstab; ls -d /dev/hugepages2M /dev/hugepages1G 2>&1; true"), `${FSTAB}ls: /dev/hugepages2M: No such file or directory\nls: /dev/hugepages1G: No such file or directory\n`, "the mount points kvmtune made are gone, the fstab it found stays");
    // fstab was edited (new inode and mtime) back to its old size, mode and content; everything else is untouched
    assert.equal(withoutStamps(await state(vm), "/etc/fstab"), withoutStamps(pristine, "/etc/fstab"));
    originals = {};
  });

  it("sizes the host-wide 2M pool and puts it back", async function () {
    const pool = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages";
    const r = await apply({ "hugepages:2M": "6" });
    originals = r.originals;
    assert.deepEqual(r.originals, { "hugepages:2M": "0" });
    assert.equal(await sh(vm, `cat ${pool} /etc/tmpfiles.d/kvmtune-vm-all.conf`), `6\n${header(TAG)}w ${pool} - - - - 6\n`);
    await restoreHostTuning(conn(vm), originals, TAG);
    originals = {};
    assert.equal(await sh(vm, `cat ${pool}; ls -A /etc/tmpfiles.d`), "0\n");
  });

  it("sets a device's scheduler before its nr_requests, which the switch resets, and puts both back in that order", async function () {
    const settings = { "block:vdb:scheduler": "mq-deadline", "block:vdb:nr_requests": "100" };
    const r = await apply(settings);
    originals = r.originals;
    assert.equal(await sh(vm, "cat /sys/block/vdb/queue/scheduler /sys/block/vdb/queue/nr_requests"), "[mq-deadline] none\n100\n");
    // switching scheduler again (nr_requests already right) must still end at 100
    await sh(vm, "echo none > /sys/block/vdb/queue/scheduler; echo 100 > /sys/block/vdb/queue/nr_requests");
    const again = await apply(settings, Object.keys(settings));
    assert.deepEqual(again.changes, [{ key: "block:vdb:scheduler", from: "none", to: "mq-deadline", disruption: "live" }]);
    assert.equal(await sh(vm, "cat /sys/block/vdb/queue/scheduler /sys/block/vdb/queue/nr_requests"), "[mq-deadline] none\n100\n");
    await restoreHostTuning(conn(vm), originals, TAG);
    originals = {};
    assert.equal(await sh(vm, "cat /sys/block/vdb/queue/scheduler /sys/block/vdb/queue/nr_requests"), "[none] mq-deadline \n256\n");
  });
});

describe("host tuning on a real kernel: a CPU without pdpe1gb (own VM)", function () {
  this.timeout(300_000);
  let vm: TestVm | undefined;

  before(async function () {
    vm = await startTestVm({ name: "kvmt-no1g", cpuModel: "max,vendor=GenuineIntel,pdpe1gb=off" });
  });
  after(async () => vm?.stop());

  it("refuses 1G pages and a 1G hugetlbfs mount, and writes nothing", async function () {
    const v = vm!;
    assert.equal(await sh(v, "grep -c pdpe1gb /proc/cpuinfo; ls /sys/kernel/mm/hugepages"), "0\nhugepages-2048kB\n");
    const before = await state(v);
    await rejectsWith(
      applyHostTuning(conn(v), {
        tag: "no1g",
        allowManagementInterface: false,
        originals: {},
        previousKeys: [],
        settings: { "hugepages:1G:node0": "1", "hugetlbfs:1G": "/dev/hugepages1G", "hugetlbfs:2M": "/dev/hugepages2M", "sysctl:vm.swappiness": "10" },
      }),
      (e) =>
        assert.equal(
          e.message,
          `invalid settings for ${target(v)} (nothing was changed):\n` +
            "  - hugepages:1G:node0: 1G pages need the CPU flag pdpe1gb, which this host's CPU does not have\n" +
            "  - hugetlbfs:1G: this host has no 1G hugepage pool to mount; it offers 2M (1G pages need the CPU flag pdpe1gb)",
        ),
    );
    assert.equal(await state(v), before);
  });
});

describe("host tuning on a real kernel: faults (own VM)", function () {
  this.timeout(600_000);
  let vm: TestVm;
  const apply = (tag: string, settings: Record<string, string>, originals: Originals = {}, previousKeys: string[] = []) =>
    applyHostTuning(conn(vm), { settings, tag, allowManagementInterface: false, originals, previousKeys });

  before(async function () {
    vm = await startTestVm({ name: "kvmt-faults" });
    await sh(vm, `mkdir -p ${DROPIN_DIRS}`);
  });
  after(async () => vm?.stop());

  it("a short hugepage allocation fails naming key, wanted and got, and leaves the previous values", async function () {
    // As many pages as node 1 has memory: the check before writing lets it through, the kernel cannot give them all.
    const node1KiB = Number(/MemTotal:\s+(\d+) kB/.exec(await sh(vm, "cat /sys/devices/system/node/node1/meminfo"))![1]);
    const want = Math.floor(node1KiB / 2048);
    await sh(vm, "echo 4 > /sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages");
    const before = await state(vm);
    const err = await rejectsWith(apply("short", { "hugepages:2M:node1": String(want), "sysctl:vm.swappiness": "10" }), () => undefined);
    const m = new RegExp(`^read-back on ${target(vm)} disagrees: hugepages:2M:node1: wanted "${want}", got "(\\d+)"\\. The settings changed in this run were rolled back to their previous values\\.$`).exec(err.message);
    assert.ok(m, err.message);
    assert.ok(Number(m[1]) >= 4 && Number(m[1]) < want, `the kernel gave ${m[1]} of ${want}`);
    assert.equal(await sh(vm, "cat /sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages /proc/sys/vm/swappiness"), "4\n60\n");
    assert.equal(await persistenceListing(vm), EMPTY_LISTING);
    assert.equal(await state(vm), before);
    await sh(vm, "echo 0 > /sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages");
  });

  it("a value the kernel refuses (nr_requests above the queue depth: EINVAL) fails naming the step, and earlier steps are undone", async function () {
    const before = await state(vm);
    await rejectsWith(apply("einval", { "sysctl:vm.swappiness": "10", "block:vdb:nr_requests": "4096" }), (e) =>
      assert.equal(
        e.message,
        `on ${target(vm)}, step 4 of 6 (write "4096" to /sys/block/vdb/queue/nr_requests) failed: write /sys/block/vdb/queue/nr_requests: ` +
          "the kernel refused the value (this shell gives no reason). The settings changed in this run were rolled back to their previous values.",
      ),
    );
    assert.equal(await sh(vm, "cat /proc/sys/vm/swappiness /sys/block/vdb/queue/nr_requests"), "60\n256\n");
    assert.equal(await state(vm), before);
  });

  it("a failed step is undone from what the host shows: steps that never ran do not stop the rollback", async function () {
    const before = await state(vm);
    await rejectsWith(apply("modfail", { "module:bfq": "loaded", "module:no_such_module": "loaded", "hugetlbfs:2M": "/dev/hugepages-hp2m", "sysctl:vm.swappiness": "10" }), (e) =>
      assert.equal(
        e.message,
        `on ${target(vm)}, step 8 of 13 (load module no_such_module) failed: modprobe no_such_module: modprobe: module no_such_module not found in modules.dep. ` +
          "The settings changed in this run were rolled back to their previous values.",
      ),
    );
    assert.equal(await sh(vm, "grep -c '^bfq ' /proc/modules; grep -c hugetlbfs /proc/mounts; cat /proc/sys/vm/swappiness"), "0\n0\n60\n");
    assert.equal(await state(vm), before);
    await sh(vm, "rmdir /dev/hugepages-hp2m 2>/dev/null; true");
  });

  it("a read-only /etc/sysctl.d fails the apply, leaves the old file whole with no temp file, and rolls the live values back", async function () {
    const tag = "ro";
    const first = await apply(tag, { "sysctl:vm.swappiness": "10" });
    const file = "/etc/sysctl.d/90-kvmtune-ro.conf";
    const content = `${header(tag)}vm.swappiness = 10\n`;
    assert.equal(await sh(vm, `cat ${file}`), content);
    await sh(vm, `cp ${file} /run/sysctl-copy && mount -t tmpfs -o size=1m tmpfs /etc/sysctl.d && cp /run/sysctl-copy ${file} && mount -o remount,ro /etc/sysctl.d`);
    try {
      const before = await state(vm);
      await rejectsWith(apply(tag, { "sysctl:vm.swappiness": "20", "thp:enabled": "madvise" }, first.originals, ["sysctl:vm.swappiness"]), (e) =>
        assert.match(
          e.message,
          new RegExp(
            `^on ${target(vm)}, step 4 of 5 \\(write ${file}\\) failed: write ${file}: .*Read-only file system\\. The settings changed in this run were rolled back to their previous values\\.$`,
          ),
        ),
      );
      assert.equal(await sh(vm, `cat /proc/sys/vm/swappiness /sys/kernel/mm/transparent_hugepage/enabled; ls -A /etc/sysctl.d /etc/tmpfiles.d; cat ${file}`), `10\nalways madvise [never]\n/etc/sysctl.d:\n90-kvmtune-ro.conf\n\n/etc/tmpfiles.d:\n${content}`);
      assert.equal(await state(vm), before);
    } finally {
      await sh(vm, "umount /etc/sysctl.d; rm -f /run/sysctl-copy");
    }
    await restoreHostTuning(conn(vm), first.originals, tag);
    assert.equal(await sh(vm, "cat /proc/sys/vm/swappiness"), "60\n");
    assert.equal(await persistenceListing(vm), EMPTY_LISTING);
  });

  it("manages its own hugetlbfs mount next to systemd's /dev/hugepages, and unmounts only its own", async function () {
    await sh(vm, "mkdir -p /dev/hugepages && mount -t hugetlbfs none /dev/hugepages");
    const r = await apply("mounts", { "hugetlbfs:2M": "/dev/hugepages2M" });
    assert.deepEqual(r.originals, { "hugetlbfs:2M": "/dev/hugepages" });
    assert.deepEqual(r.values, { "hugetlbfs:2M": "/dev/hugepages2M" });
    const both = "none /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\nnone /dev/hugepages2M hugetlbfs rw,relatime,pagesize=2M 0 0\n";
    assert.equal(await sh(vm, "grep hugetlbfs /proc/mounts"), both);
    assert.deepEqual((await readHostTuning(conn(vm), ["hugetlbfs:2M"], "mounts")).values, { "hugetlbfs:2M": "/dev/hugepages2M" });
    assert.deepEqual((await apply("mounts", { "hugetlbfs:2M": "/dev/hugepages2M" }, r.originals, ["hugetlbfs:2M"])).changes, []);
    assert.equal(await sh(vm, "grep hugetlbfs /proc/mounts"), both, "not mounted twice");
    await restoreHostTuning(conn(vm), r.originals, "mounts");
    // The mount point and /etc/fstab were kvmtune's (this VM had neither): both go; systemd's mount stays.
    assert.equal(
      await sh(vm, "grep hugetlbfs /proc/mounts; ls -d /dev/hugepages* /etc/fstab 2>&1; true"),
      "none /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\nls: /etc/fstab: No such file or directory\n/dev/hugepages\n",
    );
    await sh(vm, "umount /dev/hugepages; rmdir /dev/hugepages");
  });

  it("a session cut mid-apply names the host and the step, keeps the originals, and a rerun converges", async function () {
    // A boot loader tool that, the first time it runs, kills the SSH session running it
    // (the sshd process serving the connection, then the apply script's process group).
    const hook = String.raw`#!/bin/sh
echo run >> /run/update-grub.log
if [ -e /run/kvmt-cut-once ]; then
  rm -f /run/kvmt-cut-once
  p=$$
  while [ "$p" -gt 1 ]; do
    case "$(cat /proc/$p/comm)" in sshd*) kill -9 "$p"; break ;; esac
    p=$(awk '/^PPid:/ { print $2 }' /proc/$p/status)
  done
  kill -9 -"$(cut -d' ' -f5 /proc/$$/stat)"
fi
echo "Generating grub configuration file ..."
`;
    await vm.ssh("mkdir -p /usr/local/sbin && cat > /usr/local/sbin/update-grub && chmod 755 /usr/local/sbin/update-grub && touch /run/kvmt-cut-once", "root", { input: hook });
    const tag = "cut";
    const settings = { "thp:enabled": "madvise", "sysctl:vm.swappiness": "10", "hugetlbfs:2M": "/dev/hugepages2M", "cmdline:isolcpus": "2-3" };
    const pristine = await state(vm);
    const err = await rejectsWith(apply(tag, settings), (e) => {
      assert.ok(e instanceof PartialApplyError, `${e.name}: ${e.message}`);
      assert.equal(
        e.message,
        `connection to ${target(vm)} was lost while running a command (apply settings); the step may be partly applied, so re-run to converge. ` +
          `Rolling back also failed, so the host may be partly changed (run again to converge): connection to ${target(vm)} is gone; cannot run a command (read before roll back): Not connected`,
      );
    });
    const originals = (err as PartialApplyError).originals;
    assert.deepEqual(originals, { "thp:enabled": "never", "hugetlbfs:2M": null, "sysctl:vm.swappiness": "60", "cmdline:isolcpus": null });
    // Partly applied: every live step and the files up to the boot loader update ran; the drop-in is
    // not marked done and the fstab block was not written.
    const grub = `${header(tag)}GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX isolcpus=2-3"\n`;
    assert.equal(
      await sh(vm, "cat /sys/kernel/mm/transparent_hugepage/enabled /proc/sys/vm/swappiness; grep -c hugetlbfs /proc/mounts; cat /etc/default/grub.d/kvmtune-cut.cfg; [ -e /etc/fstab ] || echo no-fstab; cat /run/update-grub.log"),
      `always [madvise] never\n10\n1\n${grub}no-fstab\nrun\n`,
    );

    const rerun = await apply(tag, settings, originals);
    assert.deepEqual(rerun.originals, originals, "the originals from before the cut, not the partly applied values");
    assert.deepEqual(rerun.changes, [], "every value was already in place");
    assert.deepEqual(rerun.values, { "thp:enabled": "madvise", "hugetlbfs:2M": "/dev/hugepages2M", "sysctl:vm.swappiness": "10", "cmdline:isolcpus": "2-3" });
    assert.equal(
      await sh(vm, "cat /etc/default/grub.d/kvmtune-cut.cfg /etc/fstab /run/update-grub.log"),
      `${grub}${BOOTLOADER_DONE}\n# BEGIN kvmtune cut\nnone /dev/hugepages2M hugetlbfs pagesize=2M 0 0\n# END kvmtune cut\nrun\nrun\n`,
      "the boot loader was regenerated again, then the drop-in marked done",
    );
    assert.deepEqual(rerun.notes, []);

    await restoreHostTuning(conn(vm), originals, tag);
    assert.equal(await sh(vm, "ls -d /dev/hugepages2M /etc/fstab 2>&1; true"), "ls: /dev/hugepages2M: No such file or directory\nls: /etc/fstab: No such file or directory\n", "what kvmtune created is gone");
    await sh(vm, "rm -f /usr/local/sbin/update-grub /run/update-grub.log");
    assert.equal(await state(vm), pristine);
  });
});
