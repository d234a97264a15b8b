// Host knob catalogue: key grammar, value normalisation, reading the current
// value from file contents, and host checks against captured facts. Pure.
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseHostFacts, type HostFacts } from "../../provider/host/facts";
import { KNOB_KINDS, knobOrder, resolveKnob, undoOrder } from "../../provider/host/knobs/catalogue";
import { cmdlineValue } from "../../provider/host/knobs/cmdline";
import { normaliseSettings } from "../../provider/host/knobs/plan";
import { NO_TOOL_REFUSAL } from "../../provider/host/bootloader";
import { sysctlPath } from "../../provider/host/knobs/sysctl";
import type { Knob } from "../../provider/host/knobs/types";
import { FIXTURE_DIR } from "../fixtures/facts/run-script";

const facts = (name: string): HostFacts => parseHostFacts(readFileSync(join(FIXTURE_DIR, `${name}.txt`), "utf8"));

function knob(key: string): Knob {
  const k = resolveKnob(key);
  if ("problem" in k) throw new Error(`${key}: ${k.problem}`);
  return k;
}

const problemOf = (key: string) => {
  const k = resolveKnob(key);
  return "problem" in k ? k.problem : "(accepted)";
};

const files = (entries: Record<string, string | undefined>) => new Map(Object.entries(entries));

const GRAMMAR =
  "module:<name>, modparam:<module>.<param>, thp:enabled | thp:defrag, hugepages:<2M|1G>[:node<N>], hugetlbfs:<2M|1G>, ksm:run, sysctl:<dotted.key>, block:<device>:<scheduler|read_ahead_kb|nr_requests>, mtu:<interface>, sriov:<nic or PCI address>:numvfs, cpufreq:governor, cmdline:<param>";
const SYSCTL_SHAPE = `is not a sysctl key; expected dotted names of letters, digits, '_' and '-' (e.g. vm.swappiness)`;
const BLOCK_NAME = `is not a block device name; expected a kernel name such as sda, vda or nvme0n1 (no '/' or '..')`;
const IFNAME = `is not an interface name; expected up to 15 letters, digits, '_', '.', '-'`;
const CMDLINE_PARAMS = "isolcpus, nohz_full, rcu_nocbs, irqaffinity, default_hugepagesz, intel_iommu, amd_iommu, iommu, transparent_hugepage";

describe("host knobs: keys", function () {
  it("resolves each kind's keys to the files it reads, its persistence and its disruption", function () {
    const table: [string, string[], string, string, boolean][] = [
      ["thp:enabled", ["/sys/kernel/mm/transparent_hugepage/enabled"], "tmpfiles", "live", false],
      ["thp:defrag", ["/sys/kernel/mm/transparent_hugepage/defrag"], "tmpfiles", "live", false],
      ["ksm:run", ["/sys/kernel/mm/ksm/run"], "tmpfiles", "live", false],
      ["hugepages:2M", ["/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"], "tmpfiles", "live", false],
      ["hugepages:2M:node1", ["/sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages"], "tmpfiles", "live", false],
      ["hugepages:1G:node0", ["/sys/devices/system/node/node0/hugepages/hugepages-1048576kB/nr_hugepages"], "bootloader", "host-reboot", true],
      ["hugetlbfs:1G", ["/proc/mounts"], "fstab", "live", false],
      ["sysctl:vm.swappiness", ["/proc/sys/vm/swappiness"], "sysctl", "live", false],
      ["sysctl:net.ipv4.conf.eth0/100.rp_filter", ["/proc/sys/net/ipv4/conf/eth0.100/rp_filter"], "sysctl", "live", false],
      ["block:nvme0n1:scheduler", ["/sys/block/nvme0n1/queue/scheduler"], "udev-block", "live", false],
      ["block:dm-0:read_ahead_kb", ["/sys/block/dm-0/queue/read_ahead_kb"], "udev-block", "live", false],
      ["block:sda:nr_requests", ["/sys/block/sda/queue/nr_requests"], "udev-block", "live", false],
      ["module:vhost_net", ["/sys/module/vhost_net/uevent"], "modules-load", "live", false],
      ["module:kyber-iosched", ["/sys/module/kyber_iosched/uevent"], "modules-load", "live", false],
      ["modparam:kvm.halt_poll_ns", ["/sys/module/kvm/parameters/halt_poll_ns"], "modprobe", "host-reboot", true],
      ["mtu:eno1", ["/sys/class/net/eno1/mtu"], "udev-net", "live", false],
      ["cpufreq:governor", ["/sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_governor", "/sys/devices/system/cpu/cpu0/cpufreq/scaling_available_governors"], "tmpfiles", "live", false],
      ["cmdline:isolcpus", ["/proc/cmdline"], "bootloader", "host-reboot", true],
    ];
    for (const [key, reads, persistence, disruption, bootTime] of table) {
      const k = knob(key);
      assert.deepEqual([k.key, k.reads, k.persistence, k.disruption, Boolean(k.bootTime)], [key, reads, persistence, disruption, bootTime], key);
    }
  });

  it("refuses every malformed key with a text naming the key and what is accepted", function () {
    const table: [string, string][] = [
      // sysctl: path traversal, separators and shell characters never reach a path
      ["sysctl:vm..swappiness", `"vm..swappiness" ${SYSCTL_SHAPE}`],
      ["sysctl:net.ipv4.conf.a/../../../b.x", `"net.ipv4.conf.a/../../../b.x" ${SYSCTL_SHAPE}`],
      ["sysctl:net.ipv4.conf.a/./b.x", `"net.ipv4.conf.a/./b.x" ${SYSCTL_SHAPE}`],
      ["sysctl:net.ipv4.conf./a.x", `"net.ipv4.conf./a.x" ${SYSCTL_SHAPE}`],
      ["sysctl:net.ipv4.conf.a//b.x", `"net.ipv4.conf.a//b.x" ${SYSCTL_SHAPE}`],
      ["sysctl:net.core.a/", `"net.core.a/" ${SYSCTL_SHAPE}`],
      ["sysctl:vm/swappiness", `"vm/swappiness" ${SYSCTL_SHAPE}`],
      ["sysctl:/vm.swappiness", `"/vm.swappiness" ${SYSCTL_SHAPE}`],
      ["sysctl:vm.swappiness;reboot", `"vm.swappiness;reboot" ${SYSCTL_SHAPE}`],
      ["sysctl:vm.swappiness x", `"vm.swappiness x" ${SYSCTL_SHAPE}`],
      ["sysctl:vm.$(id)", `"vm.$(id)" ${SYSCTL_SHAPE}`],
      ["sysctl:vm.*", `"vm.*" ${SYSCTL_SHAPE}`],
      ["sysctl:vm.", `"vm." ${SYSCTL_SHAPE}`],
      ["sysctl:swappiness", `"swappiness" ${SYSCTL_SHAPE}`],
      ["sysctl:", `"" ${SYSCTL_SHAPE}`],
      [
        "sysctl:kernel.core_pattern",
        `"kernel.core_pattern" is not on kvmtune's sysctl allowlist; accepted: vm.*, net.{core,ipv4,ipv6,bridge,netfilter,unix}.*, kernel.numa_balancing/sched_*/watchdog/... and fs.aio-max-nr/file-max/...`,
      ],
      [
        "sysctl:kernel.modprobe",
        `"kernel.modprobe" is not on kvmtune's sysctl allowlist; accepted: vm.*, net.{core,ipv4,ipv6,bridge,netfilter,unix}.*, kernel.numa_balancing/sched_*/watchdog/... and fs.aio-max-nr/file-max/...`,
      ],
      [
        "sysctl:vm.Swappiness",
        `"vm.Swappiness" is not on kvmtune's sysctl allowlist; accepted: vm.*, net.{core,ipv4,ipv6,bridge,netfilter,unix}.*, kernel.numa_balancing/sched_*/watchdog/... and fs.aio-max-nr/file-max/...`,
      ],
      ["thp:foo", `unknown THP setting "foo"; expected thp:enabled or thp:defrag`],
      ["thp:", `unknown THP setting ""; expected thp:enabled or thp:defrag`],
      ["ksm:sleep_millisecs", `unknown KSM setting "sleep_millisecs"; expected ksm:run`],
      ["hugepages:4M", "malformed key; expected hugepages:<2M|1G> or hugepages:<2M|1G>:node<N>"],
      ["hugepages:2m", "malformed key; expected hugepages:<2M|1G> or hugepages:<2M|1G>:node<N>"],
      ["hugepages:2M:node", "malformed key; expected hugepages:<2M|1G> or hugepages:<2M|1G>:node<N>"],
      ["hugepages:2M:node-1", "malformed key; expected hugepages:<2M|1G> or hugepages:<2M|1G>:node<N>"],
      ["hugepages:2M:node1:x", "malformed key; expected hugepages:<2M|1G> or hugepages:<2M|1G>:node<N>"],
      ["hugepages:2M:node12345", "malformed key; expected hugepages:<2M|1G> or hugepages:<2M|1G>:node<N>"],
      ["hugepages:2M:node01", "malformed key; expected hugepages:<2M|1G> or hugepages:<2M|1G>:node<N>"],
      ["hugetlbfs:4M", `"4M" is not a page size; expected 2M or 1G`],
      ["hugetlbfs:", `"" is not a page size; expected 2M or 1G`],
      ["block:../sda:scheduler", `"../sda" ${BLOCK_NAME}`],
      ["block:sda/..:scheduler", `"sda/.." ${BLOCK_NAME}`],
      ["block:SDA:scheduler", `"SDA" ${BLOCK_NAME}`],
      ["block::scheduler", `"" ${BLOCK_NAME}`],
      ["block:sda$(id):scheduler", `"sda$(id)" ${BLOCK_NAME}`],
      ["block:sda", "malformed key; expected block:<device>:<scheduler|read_ahead_kb|nr_requests>, e.g. block:sda:scheduler"],
      ["block:sda:scheduler:x", "malformed key; expected block:<device>:<scheduler|read_ahead_kb|nr_requests>, e.g. block:sda:scheduler"],
      ["block:sda:rotational", `unknown block setting "rotational"; expected scheduler, read_ahead_kb or nr_requests`],
      ["module:../x", `"../x" is not a module name; expected letters, digits, '_' and '-' (e.g. vhost_net)`],
      ["module:", `"" is not a module name; expected letters, digits, '_' and '-' (e.g. vhost_net)`],
      ["module:bfq;reboot", `"bfq;reboot" is not a module name; expected letters, digits, '_' and '-' (e.g. vhost_net)`],
      ["modparam:kvm", `"kvm" is not <module>.<parameter>; expected e.g. kvm_intel.nested`],
      ["modparam:kvm.a.b", `"kvm.a.b" is not <module>.<parameter>; expected e.g. kvm_intel.nested`],
      ["modparam:kvm.", `"kvm." is not <module>.<parameter>; expected e.g. kvm_intel.nested`],
      ["modparam:../kvm.x", `"../kvm.x" is not <module>.<parameter>; expected e.g. kvm_intel.nested`],
      ["modparam:kvm.Halt", `"kvm.Halt" is not <module>.<parameter>; expected e.g. kvm_intel.nested`],
      ["mtu:../eth0", `"../eth0" ${IFNAME}`],
      ["mtu:..", `".." ${IFNAME}`],
      ["mtu:", `"" ${IFNAME}`],
      ["mtu:eth0:1", `"eth0:1" ${IFNAME}`],
      ["mtu:a_very_long_ifname", `"a_very_long_ifname" ${IFNAME}`],
      ["cpufreq:min_freq", "unknown cpufreq setting; expected cpufreq:governor"],
      ["cmdline:init", `"init" is not a kernel parameter kvmtune manages; accepted: ${CMDLINE_PARAMS}`],
      ["cmdline:", `"" is not a kernel parameter kvmtune manages; accepted: ${CMDLINE_PARAMS}`],
      ["cmdline:hugepages", "set boot-time hugepages with the hugepages knobs (hugepages:1G:node0 = N), which write hugepagesz=/hugepages= in the right order"],
      ["cmdline:hugepagesz", "set boot-time hugepages with the hugepages knobs (hugepages:1G:node0 = N), which write hugepagesz=/hugepages= in the right order"],
      ["vm.swappiness", `unknown setting; keys look like ${GRAMMAR}`],
      ["foo:bar", `unknown setting; keys look like ${GRAMMAR}`],
      ["", `unknown setting; keys look like ${GRAMMAR}`],
      ["Sysctl:vm.swappiness", `unknown setting; keys look like ${GRAMMAR}`],
      [`sysctl:vm.${"x".repeat(250)}`, "keys are strings of at most 256 characters"],
    ];
    for (const [key, problem] of table) assert.equal(problemOf(key), problem, key);
  });

  it("maps sysctl keys to /proc/sys paths, with '/' standing for a '.' in a name (VLANs)", function () {
    assert.equal(sysctlPath("vm.swappiness"), "/proc/sys/vm/swappiness");
    assert.equal(sysctlPath("net.ipv4.conf.eth0/100.rp_filter"), "/proc/sys/net/ipv4/conf/eth0.100/rp_filter");
    for (const key of ["vm.nr_hugepages", "net.core.somaxconn", "net.bridge.bridge-nf-call-iptables", "net.ipv6.conf.all.disable_ipv6", "kernel.numa_balancing", "kernel.sched_migration_cost_ns", "kernel.watchdog_thresh", "fs.aio-max-nr", "fs.inotify.max_user_watches"]) {
      assert.equal(problemOf(`sysctl:${key}`), "(accepted)", key);
    }
    for (const key of ["kernel.core_pattern", "kernel.modprobe", "kernel.sysrq", "fs.suid_dumpable", "fs.binfmt_misc.register", "dev.tty.ldisc_autoload", "user.max_user_namespaces", "debug.exception-trace"]) {
      assert.match(problemOf(`sysctl:${key}`), /is not on kvmtune's sysctl allowlist/, key);
    }
  });

  it("orders live steps by kind (modules first, cmdline last), a device's scheduler before its other attributes", function () {
    const keys = ["cmdline:isolcpus", "block:vdb:read_ahead_kb", "sysctl:vm.swappiness", "block:vda:nr_requests", "block:vdb:scheduler", "module:bfq", "block:vda:scheduler", "mtu:lo", "thp:enabled", "block:vdb:nr_requests", "hugepages:2M", "modparam:kvm.halt_poll_ns"];
    assert.deepEqual([...keys].sort(knobOrder), [
      "module:bfq",
      "modparam:kvm.halt_poll_ns",
      "thp:enabled",
      "hugepages:2M",
      "sysctl:vm.swappiness",
      "block:vda:scheduler",
      "block:vda:nr_requests",
      "block:vdb:scheduler",
      "block:vdb:nr_requests",
      "block:vdb:read_ahead_kb",
      "mtu:lo",
      "cmdline:isolcpus",
    ]);
    // Undoing: kinds reversed (a scheduler is put back before its module is unloaded), the scheduler still first.
    assert.deepEqual([...keys].sort(undoOrder), [
      "cmdline:isolcpus",
      "mtu:lo",
      "block:vda:scheduler",
      "block:vda:nr_requests",
      "block:vdb:scheduler",
      "block:vdb:nr_requests",
      "block:vdb:read_ahead_kb",
      "sysctl:vm.swappiness",
      "hugepages:2M",
      "thp:enabled",
      "modparam:kvm.halt_poll_ns",
      "module:bfq",
    ]);
    assert.deepEqual(
      KNOB_KINDS.map((k) => k.name),
      ["module", "modparam", "thp", "hugepages", "hugetlbfs", "ksm", "sysctl", "block", "mtu", "sriov", "cpufreq", "cmdline"],
    );
  });
});

describe("host knobs: values", function () {
  it("normalises well-formed values to their canonical form", function () {
    const n = normaliseSettings({
      "thp:enabled": " madvise ",
      "ksm:run": 1 as unknown as string,
      "hugepages:2M:node1": "0016",
      "hugetlbfs:2M": "/dev/hugepages2M",
      "sysctl:net.ipv4.tcp_rmem": "4096\t87380   6291456",
      "sysctl:vm.swappiness": 10 as unknown as string,
      "sysctl:net.ipv4.ip_local_port_range": "32768 60999",
      "sysctl:net.ipv6.conf.all.stable_secret": "2001:db8::1",
      "sysctl:kernel.perf_event_paranoid": "-1",
      "block:vda:scheduler": "cfq",
      "block:vdb:scheduler": "noop",
      "block:vdc:scheduler": " deadline",
      "block:vdd:scheduler": "kyber",
      "block:vda:read_ahead_kb": "4096",
      "block:vda:nr_requests": " 64 ",
      "module:vhost_net": "loaded",
      "modparam:kvm_intel.nested": "Y",
      "mtu:eth1": "9000",
      "cpufreq:governor": "performance",
      "cmdline:isolcpus": " managed_irq,domain,2-3 ",
      "cmdline:intel_iommu": "on",
    });
    assert.deepEqual(n.problems, []);
    assert.deepEqual(Object.fromEntries(n.desired), {
      "thp:enabled": "madvise",
      "ksm:run": "1",
      "hugepages:2M:node1": "16",
      "hugetlbfs:2M": "/dev/hugepages2M",
      "sysctl:net.ipv4.tcp_rmem": "4096 87380 6291456",
      "sysctl:vm.swappiness": "10",
      "sysctl:net.ipv4.ip_local_port_range": "32768 60999",
      "sysctl:net.ipv6.conf.all.stable_secret": "2001:db8::1",
      "sysctl:kernel.perf_event_paranoid": "-1",
      "block:vda:scheduler": "bfq",
      "block:vdb:scheduler": "none",
      "block:vdc:scheduler": "mq-deadline",
      "block:vdd:scheduler": "kyber",
      "block:vda:read_ahead_kb": "4096",
      "block:vda:nr_requests": "64",
      "module:vhost_net": "loaded",
      "modparam:kvm_intel.nested": "Y",
      "mtu:eth1": "9000",
      "cpufreq:governor": "performance",
      "cmdline:isolcpus": "managed_irq,domain,2-3",
      "cmdline:intel_iommu": "on",
    });
    // desired is in apply order
    assert.deepEqual([...n.desired.keys()], Object.keys(Object.fromEntries(n.desired)).sort(knobOrder));
  });

  it("says which legacy scheduler name was mapped to which blk-mq scheduler", function () {
    const n = normaliseSettings({ "block:vda:scheduler": "cfq", "block:vdb:scheduler": "noop", "block:vdc:scheduler": "deadline", "block:vdd:scheduler": "mq-deadline" });
    assert.deepEqual(n.notes, [
      "block:vda:scheduler: scheduler cfq is the legacy name; using bfq",
      "block:vdb:scheduler: scheduler noop is the legacy name; using none",
      "block:vdc:scheduler: scheduler deadline is the legacy name; using mq-deadline",
    ]);
  });

  it("refuses every malformed value at once, naming the key, the value and what is accepted", function () {
    const n = normaliseSettings({
      "sysctl:vm.swappiness": "$(reboot)",
      "sysctl:vm.dirty_ratio": "10\nvm.panic_on_oom = 1",
      "sysctl:vm.dirty_bytes": "`id`",
      "sysctl:vm.min_free_kbytes": "1;reboot",
      "sysctl:vm.overcommit_ratio": "",
      "sysctl:vm.x": null as unknown as string,
      "thp:enabled": "always\n",
      "thp:defrag": "never\u0000",
      "ksm:run": "3",
      "hugepages:2M": "-3",
      "hugepages:2M:node0": "1.5",
      "hugepages:1G": "10000001",
      "hugetlbfs:2M": "/dev/../etc",
      "hugetlbfs:1G": "relative/dir",
      "block:vda:scheduler": "anticipatory",
      "block:vda:read_ahead_kb": "-1",
      "block:vdb:read_ahead_kb": "1.5",
      "block:vdc:read_ahead_kb": "999999999",
      "block:vda:nr_requests": "100000",
      "block:vdb:nr_requests": "3",
      "module:bfq": "yes",
      "modparam:kvm.halt_poll_ns": "0 kvm.other=1",
      "mtu:eth1": "67",
      "mtu:eth2": "65536",
      "mtu:eth3": "9000.0",
      "cpufreq:governor": "Perf",
      "cmdline:isolcpus": "1 init=/bin/sh",
      "cmdline:nohz_full": "",
      "cmdline:rcu_nocbs": "1\"",
      "cmdline:irqaffinity": "0=1",
    });
    assert.deepEqual(n.problems, [
      `settings["module:bfq"]: "yes" is not accepted; expected one of loaded, unloaded`,
      `settings["modparam:kvm.halt_poll_ns"]: "0 kvm.other=1" is not accepted; expected letters, digits and _ . , : + - (no spaces or quotes)`,
      `settings["thp:defrag"]: "never\\u0000" is not accepted; expected a THP mode such as always, madvise or never (one line of printable text)`,
      `settings["thp:enabled"]: "always\\n" is not accepted; expected a THP mode such as always, madvise or never (one line of printable text)`,
      `settings["hugepages:1G"]: "10000001" is not accepted; expected an integer from 0 to 10000000 pages`,
      `settings["hugepages:2M"]: "-3" is not accepted; expected an integer from 0 to 10000000 pages`,
      `settings["hugepages:2M:node0"]: "1.5" is not accepted; expected an integer from 0 to 10000000 pages`,
      `settings["hugetlbfs:1G"]: "relative/dir" is not accepted: it is not an absolute path; expected a canonical absolute path of letters, digits, '/', '.', '_' and '-' (at most 255 characters): /dev/hugepages*, /run/hugepages[/...], /var/lib/hugetlbfs[/...], a directory below /mnt/ or /srv/, or a new top-level directory outside the system trees (such as /hugepages1G)`,
      `settings["hugetlbfs:2M"]: "/dev/../etc" is not accepted: it is not canonical (its canonical form is "/etc"); expected a canonical absolute path of letters, digits, '/', '.', '_' and '-' (at most 255 characters): /dev/hugepages*, /run/hugepages[/...], /var/lib/hugetlbfs[/...], a directory below /mnt/ or /srv/, or a new top-level directory outside the system trees (such as /hugepages1G)`,
      `settings["ksm:run"]: "3" is not accepted; expected one of 0, 1, 2`,
      `settings["sysctl:vm.dirty_bytes"]: "\`id\`" is not accepted; expected a sysctl value of letters, digits, spaces and _ . , : / + - (e.g. 10 or "4096 87380 6291456")`,
      `settings["sysctl:vm.dirty_ratio"]: "10\\nvm.panic_on_oom = 1" is not accepted; expected a sysctl value (one line of printable text)`,
      `settings["sysctl:vm.min_free_kbytes"]: "1;reboot" is not accepted; expected a sysctl value of letters, digits, spaces and _ . , : / + - (e.g. 10 or "4096 87380 6291456")`,
      `settings["sysctl:vm.overcommit_ratio"]: "" is not accepted; expected a sysctl value of letters, digits, spaces and _ . , : / + - (e.g. 10 or "4096 87380 6291456")`,
      `settings["sysctl:vm.swappiness"]: "$(reboot)" is not accepted; expected a sysctl value of letters, digits, spaces and _ . , : / + - (e.g. 10 or "4096 87380 6291456")`,
      `settings["sysctl:vm.x"]: null is not accepted; expected a string or number`,
      `settings["block:vda:scheduler"]: "anticipatory" is not accepted; expected one of none, mq-deadline, bfq, kyber (legacy noop, deadline, cfq map to none, mq-deadline, bfq)`,
      `settings["block:vda:nr_requests"]: "100000" is not accepted; expected an integer from 4 to 65536`,
      `settings["block:vda:read_ahead_kb"]: "-1" is not accepted; expected an integer from 0 to 65536 KiB`,
      `settings["block:vdb:nr_requests"]: "3" is not accepted; expected an integer from 4 to 65536`,
      `settings["block:vdb:read_ahead_kb"]: "1.5" is not accepted; expected an integer from 0 to 65536 KiB`,
      `settings["block:vdc:read_ahead_kb"]: "999999999" is not accepted; expected an integer from 0 to 65536 KiB`,
      `settings["mtu:eth1"]: "67" is not accepted; expected an integer from 68 to 65535`,
      `settings["mtu:eth2"]: "65536" is not accepted; expected an integer from 68 to 65535`,
      `settings["mtu:eth3"]: "9000.0" is not accepted; expected an integer from 68 to 65535`,
      `settings["cpufreq:governor"]: "Perf" is not accepted; expected a governor name such as performance`,
      `settings["cmdline:irqaffinity"]: "0=1" is not accepted; expected one kernel argument value (letters, digits, ',', '-', '.', ':'; no spaces, quotes or '=')`,
      `settings["cmdline:isolcpus"]: "1 init=/bin/sh" is not accepted; expected one kernel argument value (letters, digits, ',', '-', '.', ':'; no spaces, quotes or '=')`,
      `settings["cmdline:nohz_full"]: "" is not accepted; expected one kernel argument value (letters, digits, ',', '-', '.', ':'; no spaces, quotes or '=')`,
      `settings["cmdline:rcu_nocbs"]: "1\\"" is not accepted; expected one kernel argument value (letters, digits, ',', '-', '.', ':'; no spaces, quotes or '=')`,
    ]);
    assert.deepEqual([...n.desired], []);
  });

  it("names unknown and malformed keys in the same list as bad values", function () {
    const n = normaliseSettings({ "foo:bar": "1", "sysctl:vm..x": "1", "sysctl:vm.swappiness": "10" }, "host.settings");
    assert.deepEqual(n.problems, [
      `host.settings["foo:bar"]: unknown setting; keys look like ${GRAMMAR}`,
      `host.settings["sysctl:vm..x"]: "vm..x" ${SYSCTL_SHAPE}`,
    ]);
    assert.deepEqual([...n.desired], [["sysctl:vm.swappiness", "10"]]);
  });
});

describe("host knobs: current values from file contents", function () {
  it("takes the bracketed choice of THP and scheduler files", function () {
    assert.equal(knob("thp:enabled").current(files({ "/sys/kernel/mm/transparent_hugepage/enabled": "always [madvise] never" })), "madvise");
    assert.equal(knob("thp:defrag").current(files({ "/sys/kernel/mm/transparent_hugepage/defrag": "always defer defer+madvise [madvise] never" })), "madvise");
    assert.equal(knob("block:vda:scheduler").current(files({ "/sys/block/vda/queue/scheduler": "[none] mq-deadline " })), "none");
    assert.equal(knob("block:vda:scheduler").current(files({ "/sys/block/vda/queue/scheduler": "mq-deadline [bfq] none" })), "bfq");
    // a queue without elevator support prints a bare "none"
    assert.equal(knob("block:dm-0:scheduler").current(files({ "/sys/block/dm-0/queue/scheduler": "none" })), "none");
    assert.equal(knob("block:vda:scheduler").current(files({})), undefined);
  });

  it("folds the tabs sysctl prints and trims numbers", function () {
    assert.equal(knob("sysctl:net.ipv4.tcp_rmem").current(files({ "/proc/sys/net/ipv4/tcp_rmem": "4096\t131072\t6291456" })), "4096 131072 6291456");
    assert.equal(knob("sysctl:vm.swappiness").current(files({ "/proc/sys/vm/swappiness": "60" })), "60");
    assert.equal(knob("hugepages:2M:node0").current(files({ "/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages": "24" })), "24");
    assert.equal(knob("sysctl:vm.swappiness").current(files({ "/proc/sys/vm/swappiness": undefined })), undefined);
  });

  it("reads a module as loaded when /sys/module/<name> exists ('-' spelled '_')", function () {
    const k = knob("module:kyber-iosched");
    assert.equal(k.current(files({ "/sys/module/kyber_iosched/uevent": "" })), "loaded");
    assert.equal(k.current(files({ "/sys/module/kyber_iosched/uevent": undefined })), "unloaded");
  });

  it("reads one governor for all CPUs, or says they are mixed", function () {
    const k = knob("cpufreq:governor");
    const g = (n: number) => `/sys/devices/system/cpu/cpu${n}/cpufreq/scaling_governor`;
    assert.equal(k.current(files({ [g(0)]: "performance", [g(1)]: "performance", "/sys/devices/system/cpu/cpu0/cpufreq/scaling_available_governors": "performance powersave" })), "performance");
    assert.equal(k.current(files({ [g(0)]: "schedutil", [g(1)]: "performance", [g(2)]: "schedutil" })), "mixed(performance,schedutil)");
    assert.equal(k.current(files({ "/sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_governor": undefined })), undefined);
    assert.deepEqual(k.restore("mixed(performance,schedutil)", "performance"), []);
  });

  it("finds the hugetlbfs mount of a page size: the hinted one if mounted, else the most recent", function () {
    const mounts =
      "sysfs /sys sysfs rw 0 0\n" +
      "hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n" +
      "none /dev/hugepages1G hugetlbfs rw,relatime,pagesize=1024M 0 0\n" +
      "none /mnt/huge\\0402M hugetlbfs rw,relatime,pagesize=2048k 0 0\n";
    const two = knob("hugetlbfs:2M");
    const one = knob("hugetlbfs:1G");
    const f = files({ "/proc/mounts": mounts });
    assert.equal(two.current(f), "/mnt/huge 2M");
    assert.equal(two.current(f, "/dev/hugepages"), "/dev/hugepages");
    assert.equal(two.current(f, "/dev/elsewhere"), "/mnt/huge 2M");
    assert.equal(one.current(f), "/dev/hugepages1G");
    assert.equal(one.current(files({ "/proc/mounts": "proc /proc proc rw 0 0\n" })), undefined);
    // restore unmounts ours, never the mount that was there before
    assert.deepEqual(two.restore(undefined, "/dev/hugepages2M"), [{ op: "umount", dir: "/dev/hugepages2M" }]);
    assert.deepEqual(two.restore("/dev/hugepages", "/dev/hugepages2M"), [{ op: "umount", dir: "/dev/hugepages2M" }]);
    assert.deepEqual(two.restore("/dev/hugepages", "/dev/hugepages"), []);
    assert.deepEqual(two.restore(undefined, undefined), []);
    assert.deepEqual(two.restore("/dev/hugepages", undefined), [{ op: "mount-hugetlbfs", dir: "/dev/hugepages", pageSize: "2M" }]);
    assert.deepEqual(two.apply("/dev/hugepages2M"), [{ op: "mount-hugetlbfs", dir: "/dev/hugepages2M", pageSize: "2M" }]);
  });

  it("reads kernel arguments as the kernel does: the last occurrence wins, a bare flag is empty", function () {
    const cmdline = "BOOT_IMAGE=/vmlinuz ro isolcpus=1 quiet isolcpus=2-3 nosmt iommu=pt";
    assert.equal(cmdlineValue(cmdline, "isolcpus"), "2-3");
    assert.equal(cmdlineValue(cmdline, "nosmt"), "");
    assert.equal(cmdlineValue(cmdline, "iommu"), "pt");
    assert.equal(cmdlineValue(cmdline, "intel_iommu"), undefined);
    assert.equal(cmdlineValue(undefined, "iommu"), undefined);
    assert.equal(knob("cmdline:isolcpus").current(files({ "/proc/cmdline": cmdline })), "2-3");
  });

  it("writes live values through one file and restores the original by writing it back", function () {
    const k = knob("sysctl:vm.swappiness");
    assert.deepEqual(k.apply("10"), [{ op: "write", path: "/proc/sys/vm/swappiness", value: "10" }]);
    assert.deepEqual(k.restore("60", "10"), [{ op: "write", path: "/proc/sys/vm/swappiness", value: "60" }]);
    assert.deepEqual(k.restore(undefined, "10"), []);
    assert.deepEqual(knob("module:bfq").apply("loaded"), [{ op: "modprobe", module: "bfq" }]);
    assert.deepEqual(knob("module:bfq").restore("unloaded", "loaded"), [{ op: "rmmod", module: "bfq" }]);
    assert.deepEqual(knob("cpufreq:governor").apply("performance"), [{ op: "write", path: "/sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_governor", value: "performance" }]);
    // boot-time knobs have no live step
    assert.deepEqual(knob("cmdline:isolcpus").apply("2-3"), []);
    assert.deepEqual(knob("modparam:kvm.halt_poll_ns").apply("0"), []);
  });
});

describe("host knobs: checks against host facts", function () {
  function check(name: string, settings: Record<string, string>, allowManagementInterface = false): Record<string, string[]> {
    const n = normaliseSettings(settings);
    assert.deepEqual(n.problems, []);
    const ctx = { facts: facts(name), desired: n.desired, allowManagementInterface };
    return Object.fromEntries([...n.knobs].map(([key, k]) => [key, k.validate(n.desired.get(key)!, ctx)]));
  }

  it("accepts what a two-socket host offers", function () {
    const found = check("hv01-2socket", {
      "thp:enabled": "always",
      "thp:defrag": "defer+madvise",
      "hugepages:2M:node0": "1024",
      "hugepages:1G:node1": "64",
      "hugetlbfs:1G": "/dev/hugepages1G",
      "block:nvme0n1:scheduler": "kyber",
      "block:sda:scheduler": "cfq",
      "block:dm-0:scheduler": "noop",
      "block:sda:read_ahead_kb": "4096",
      "mtu:eno1": "1500",
      "mtu:br0": "9000",
      "cmdline:isolcpus": "managed_irq,domain,2-7,10-15",
      "cmdline:nohz_full": "2-7",
      "cmdline:default_hugepagesz": "1G",
    });
    for (const [key, problems] of Object.entries(found)) assert.deepEqual(problems, [], key);
  });

  it("refuses what the host does not offer, naming the value and what it has", function () {
    assert.deepEqual(
      check("hv01-2socket", {
        "thp:enabled": "sometimes",
        "thp:defrag": "defer+never",
        "hugepages:2M:node7": "4",
        "hugepages:2M:node1": "64513",
        "hugepages:1G": "300",
        "block:dm-0:scheduler": "bfq",
        "block:nvme0n2:read_ahead_kb": "4",
        "mtu:br0": "1500",
        "mtu:eno9": "1500",
        "cmdline:isolcpus": "2-16",
        "cmdline:nohz_full": "0-9999",
        "cmdline:rcu_nocbs": "1,3,5,7,9,11,13,15,17,19,21,23,25,27,29,31,33",
        "cmdline:irqaffinity": "0-15",
      }),
      {
        "thp:enabled": [`"sometimes" is not offered by this host; it offers always, madvise, never`],
        "thp:defrag": [`"defer+never" is not offered by this host; it offers always, defer, defer+madvise, madvise, never`],
        "hugepages:1G": ["300 x 1G = 307200 MiB exceeds the 257828 MiB of memory on the host"],
        "hugepages:2M:node1": ["64513 x 2M = 129026 MiB exceeds the 129020 MiB of memory on node 1"],
        "hugepages:2M:node7": ["NUMA node 7 does not exist on this host; it has node(s) 0, 1"],
        "block:dm-0:scheduler": [`scheduler "bfq" is not offered by dm-0; it offers none (load it with modules: ["bfq"] if the kernel has it as a module)`],
        "block:nvme0n2:read_ahead_kb": [`block device "nvme0n2" does not exist on this host; it has dm-0, dm-1, nvme0n1, sda, sr0`],
        "mtu:br0": ["br0 carries kvmtune's SSH session (192.168.10.11); a wrong MTU would cut the host off. Set allowManagementInterface: true to change it anyway"],
        "mtu:eno9": [`interface "eno9" does not exist on this host; it has br0, eno1, eno2, enp24s2, lo, virbr0, vnet0`],
        "cmdline:isolcpus": [`"2-16" is not accepted: CPU 16 does not exist; this host has CPUs 0-15`],
        // Missing CPUs as ranges, at most 8 of them: "0-9999" once made a 58,000-character message.
        "cmdline:nohz_full": [`"0-9999" is not accepted: CPUs 16-9999 do not exist; this host has CPUs 0-15`],
        "cmdline:rcu_nocbs": [`"1,3,5,7,9,11,13,15,17,19,21,23,25,27,29,31,33" is not accepted: CPUs 17,19,21,23,25,27,29,31,\u2026 and 1 more do not exist; this host has CPUs 0-15`],
        "cmdline:irqaffinity": [`"0-15" is not accepted: it leaves no online housekeeping CPU; this host has CPUs 0-15 (online: 0-14), keep at least one online CPU (usually CPU 0 and its sibling) out of the list`],
      },
    );
  });

  it("counts only online CPUs as housekeeping: isolating every online CPU is refused even when offline ones are left", function () {
    const isolcpus = resolveKnob("cmdline:isolcpus");
    assert.ok(isolcpus && !("problem" in isolcpus));
    const f = facts("hv01-2socket");
    const offline = { ...f, cpu: { ...f.cpu, online: f.cpu.online.filter((c) => c >= 2) } };
    const problems = isolcpus.validate("managed_irq,domain,2-15", { facts: offline, desired: new Map(), allowManagementInterface: false });
    assert.equal(problems[0], `"managed_irq,domain,2-15" is not accepted: it leaves no online housekeeping CPU; this host has CPUs 0-15 (online: 2-14), keep at least one online CPU (usually CPU 0 and its sibling) out of the list`);
    assert.deepEqual(isolcpus.validate("managed_irq,domain,2-15", { facts: f, desired: new Map(), allowManagementInterface: false }).filter((p) => /housekeeping/.test(p)), []);
  });

  it("lets the SSH interface keep its MTU, and change it only when allowed", function () {
    assert.deepEqual(check("hv01-2socket", { "mtu:br0": "9000" }), { "mtu:br0": [] });
    assert.deepEqual(check("hv01-2socket", { "mtu:br0": "1500" }, true), { "mtu:br0": [] });
  });

  it("accepts a scheduler whose module is loaded in the same settings", function () {
    assert.deepEqual(check("tiny-no-numa", { "module:bfq": "loaded", "block:vda:scheduler": "bfq" }), { "module:bfq": [], "block:vda:scheduler": [] });
    assert.deepEqual(check("tiny-no-numa", { "module:bfq": "unloaded", "block:vda:scheduler": "bfq" }), {
      "module:bfq": [],
      "block:vda:scheduler": [`scheduler "bfq" is not offered by vda; it offers none, mq-deadline (load it with modules: ["bfq"] if the kernel has it as a module)`],
    });
  });

  it("checks host totals against the host's memory, and refuses a total next to per-node counts of one size", function () {
    assert.deepEqual(check("tiny-no-numa", { "hugepages:1G": "1", "hugepages:2M": "1000" }), {
      "hugepages:1G": ["1G pages need the CPU flag pdpe1gb, which this host's CPU does not have", `"1" is not accepted: ${NO_TOOL_REFUSAL}`],
      "hugepages:2M": ["1000 x 2M = 2000 MiB exceeds the 1968 MiB of memory on the host"],
    });
    assert.deepEqual(check("hv01-2socket", { "hugepages:2M": "4096", "hugepages:1G": "8" }), { "hugepages:2M": [], "hugepages:1G": [] });
    assert.deepEqual(check("hv01-2socket", { "hugepages:2M": "4096", "hugepages:2M:node1": "16", "hugepages:1G:node0": "4" }), {
      "hugepages:2M": ["set either hugepages:2M (a host total) or per-node hugepages:2M:node<N> counts, not both: writing one changes the other"],
      "hugepages:2M:node1": [],
      "hugepages:1G:node0": [],
    });
  });

  it("refuses 1G pages without pdpe1gb, THP without THP, a node that is not there, and a queue without a scheduler", function () {
    assert.deepEqual(
      check("tiny-no-numa", {
        "thp:enabled": "always",
        "hugepages:1G:node0": "1",
        "hugepages:2M:node0": "10",
        "hugepages:2M:node1": "1",
        "block:zram0:scheduler": "none",
        "hugetlbfs:1G": "/dev/hugepages1G",
        "hugetlbfs:2M": "/dev/hugepages",
        "mtu:eth0": "9000",
        "cmdline:isolcpus": "managed_irq,domain,1",
        "cmdline:nohz_full": "0-3",
      }),
      {
        "thp:enabled": ["this host has no transparent hugepage support (/sys/kernel/mm/transparent_hugepage is missing)"],
        "hugepages:1G:node0": ["1G pages need the CPU flag pdpe1gb, which this host's CPU does not have", `"1" is not accepted: ${NO_TOOL_REFUSAL}`],
        "hugepages:2M:node0": [],
        "hugepages:2M:node1": ["NUMA node 1 does not exist on this host; it has node(s) 0"],
        "hugetlbfs:1G": ["this host has no 1G hugepage pool to mount; it offers 2M (1G pages need the CPU flag pdpe1gb)"],
        "hugetlbfs:2M": [],
        "block:zram0:scheduler": [`scheduler "none" cannot be set on zram0: it has no I/O scheduler (no queue/scheduler choices)`],
        "mtu:eth0": ["eth0 carries kvmtune's SSH session (10.0.2.15); a wrong MTU would cut the host off. Set allowManagementInterface: true to change it anyway"],
        // tiny has no boot loader at all: every kernel command-line setting is refused too.
        "cmdline:isolcpus": [`"managed_irq,domain,1" is not accepted: ${NO_TOOL_REFUSAL}`],
        "cmdline:nohz_full": [
          `"0-3" is not accepted: it leaves no online housekeeping CPU; this host has CPUs 0-3, keep at least one online CPU (usually CPU 0 and its sibling) out of the list`,
          `"0-3" is not accepted: ${NO_TOOL_REFUSAL}`,
        ],
      },
    );
  });
});
