// Other actors that set kvmtune's settings at boot: the facts that describe
// them (boot-actors.txt, made by the real script from a fake tree, and small
// hand-written dumps) and the planner's exact warnings.
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { planBootOverrides } from "../../provider/host/boot-overrides";
import { parseHostFacts, type HostFacts } from "../../provider/host/facts";
import { TUNED_THROUGHPUT_PERFORMANCE, TUNED_VIRTUAL_HOST } from "../fixtures/facts/fake-boot-host";
import { FIXTURE_DIR } from "../fixtures/facts/run-script";

const HV02 = parseHostFacts(readFileSync(join(FIXTURE_DIR, "boot-actors.txt"), "utf8"));
const messages = (settings: Record<string, string>, facts: HostFacts, tag = "hv01") => planBootOverrides(settings, tag, facts.bootSources, facts).map((o) => o.message);

/** A hand-written host: grepped files (path -> lines, as the script prints them), listed names, tuned and networkd state. */
interface Host {
  files?: Record<string, string[]>;
  lists?: Record<string, string[]>;
  tuned?: { enabled?: boolean; running?: boolean };
  networkd?: boolean;
  cmdline?: string;
  nics?: string[];
}

function host(h: Host): HostFacts {
  const out = ["@@kvmtune:facts 1"];
  if (h.cmdline) out.push("@@kvmtune:file /proc/cmdline", h.cmdline);
  if (h.nics) out.push("@@kvmtune:dirs /sys/class/net/*", ...h.nics);
  for (const [dirGlob, names] of Object.entries(h.lists ?? {})) out.push(`@@kvmtune:list ${dirGlob}`, ...names);
  out.push("@@kvmtune:list /etc/systemd/system/*.wants/tuned.service", ...(h.tuned?.enabled ? ["multi-user.target.wants/tuned.service"] : []));
  out.push("@@kvmtune:list /etc/systemd/system/*.wants/systemd-networkd.service", ...(h.networkd ? ["multi-user.target.wants/systemd-networkd.service"] : []));
  out.push("@@kvmtune:var tuned-running", h.tuned?.running ? "yes" : "no", "@@kvmtune:grep boot");
  for (const [path, lines] of Object.entries(h.files ?? {})) for (const l of lines) out.push(`${path.slice(1)}:${l}`);
  return parseHostFacts([...out, "@@kvmtune:end", ""].join("\n"));
}

/** A profile's tuned.conf as the script prints it: comment and blank lines dropped. */
const conf = (text: string) => text.split("\n").filter((l) => l !== "" && !l.startsWith("#") && !l.startsWith(";"));
const TUNED_FILES = {
  "/etc/tuned/active_profile": ["virtual-host"],
  "/usr/lib/tuned/virtual-host/tuned.conf": conf(TUNED_VIRTUAL_HOST),
  "/usr/lib/tuned/throughput-performance/tuned.conf": conf(TUNED_THROUGHPUT_PERFORMANCE),
};
const TP = "tuned profile throughput-performance (/usr/lib/tuned/throughput-performance/tuned.conf)";

describe("boot overrides", function () {
  describe("facts", function () {
    it("boot-actors.txt: sysctl.d by directory with masks, the udev and networkd lines that matter, tuned's chain", function () {
      const b = HV02.bootSources!;
      assert.deepEqual(b.sysctl.map((f) => f.path), [
        "/etc/sysctl.d/10-early.conf", "/etc/sysctl.d/90-kvmtune-hv02.conf", "/etc/sysctl.d/95-net.conf", "/etc/sysctl.d/97-same.conf",
        "/etc/sysctl.d/99-sysctl.conf", "/etc/sysctl.d/99-vendor.conf", "/usr/lib/sysctl.d/50-pid-max.conf", "/usr/lib/sysctl.d/99-vendor.conf",
      ]);
      assert.deepEqual(b.sysctl[0].lines, ["vm.dirty_ratio = 30", "kernel.pid_max=100000"]);
      assert.deepEqual(b.sysctl[5].lines, [], "a link to /dev/null: listed, nothing in it");
      assert.deepEqual(b.sysctlConf, ["vm.swappiness = 60"]);
      assert.deepEqual(b.udevRules.map((f) => f.path), ["/etc/udev/rules.d/60-early.rules", "/etc/udev/rules.d/90-kvmtune-hv02-block.rules", "/etc/udev/rules.d/95-sd.rules", "/etc/udev/rules.d/99-io-sched.rules"]);
      assert.deepEqual(b.udevRules[3].lines, ['ACTION=="add|change", KERNEL=="vd[a-z]", ATTR{queue/scheduler}="bfq"']);
      assert.deepEqual(b.networkFiles.map((f) => f.path), ["/etc/systemd/network/10-mtu.link", "/etc/systemd/network/20-other.link", "/etc/systemd/network/50-lan.network"]);
      assert.deepEqual(b.networkFiles[0].lines, ["[Match]", "MACAddress=52:54:00:12:34:56", "[Link]", "MTUBytes=1400"]);
      assert.equal(b.networkdEnabled, false);
      assert.deepEqual({ ...b.tuned!, profileFiles: b.tuned!.profileFiles.map((f) => f.path) }, {
        enabled: true, running: true, profiles: ["virtual-host"], reapplySysctl: true,
        profileFiles: ["/usr/lib/tuned/throughput-performance/tuned.conf", "/usr/lib/tuned/virtual-host/tuned.conf"],
      });
      assert.deepEqual(b.tuned!.profileFiles[1].lines, conf(TUNED_VIRTUAL_HOST));
    });

    it("facts from an older kvmtune (no boot sections) give null and no warnings", function () {
      const old = parseHostFacts(readFileSync(join(FIXTURE_DIR, "local-sh.txt"), "utf8"));
      assert.equal(old.bootSources, null);
      assert.deepEqual(messages({ "sysctl:vm.swappiness": "10" }, old), []);
    });
  });

  describe("the boot-actors host (tuned running virtual-host)", function () {
    it("names each later source with a different value, and only those", function () {
      const settings = {
        "sysctl:vm.swappiness": "10", // 99-sysctl.conf (-> /etc/sysctl.conf) sets 60 later
        "sysctl:vm.dirty_ratio": "10", // 97-same.conf sets 10 too; tuned's 40 is undone by reapply_sysctl
        "sysctl:vm.dirty_background_ratio": "5", // /usr/lib's 99-vendor.conf is masked by /etc's link to /dev/null
        "sysctl:net.ipv4.conf.all.arp_filter": "1", // a glob never beats an explicit key
        "sysctl:net.ipv4.conf.all.rp_filter": "1", // written net/ipv4/conf/all/rp_filter later
        "sysctl:kernel.pid_max": "65536", // 10-early.conf and 50-pid-max.conf come first
        "block:vdb:scheduler": "mq-deadline",
        "block:vdb:read_ahead_kb": "128",
        "block:vda:read_ahead_kb": "8192", // tuned's >4096 leaves it
        "mtu:enp0s3": "9000",
        "thp:enabled": "always", // tuned's THP is in [vm.thunderx], for aarch64 only
        "cpufreq:governor": "schedutil",
      };
      assert.deepEqual(messages(settings, HV02, "hv02"), [
        "sysctl:net.ipv4.conf.all.rp_filter: /etc/sysctl.d/95-net.conf sets 2 after kvmtune's 90-kvmtune-hv02.conf, so the host boots with 2, not 1",
        "sysctl:vm.swappiness: /etc/sysctl.d/99-sysctl.conf sets 60 after kvmtune's 90-kvmtune-hv02.conf, so the host boots with 60, not 10",
        "block:vdb:scheduler: /etc/udev/rules.d/99-io-sched.rules sets bfq after kvmtune's 90-kvmtune-hv02-block.rules, so the host boots with bfq, not mq-deadline",
        `block:vdb:read_ahead_kb: ${TP} sets >4096 after kvmtune's 90-kvmtune-hv02-block.rules, so the host boots with 4096, not 128`,
        "mtu:enp0s3: /etc/systemd/network/10-mtu.link also sets 1400 when udev sets up enp0s3, so the host may boot with 1400, not 9000",
        `cpufreq:governor: ${TP} sets performance after kvmtune's tmpfiles.d/kvmtune-hv02.conf, so the host boots with performance, not schedutil`,
      ]);
    });

    it("returns structured overrides", function () {
      assert.deepEqual(planBootOverrides({ "block:vdb:read_ahead_kb": "128" }, "hv02", HV02.bootSources, HV02), [
        {
          key: "block:vdb:read_ahead_kb",
          source: TP,
          value: ">4096",
          effective: "4096",
          message: `block:vdb:read_ahead_kb: ${TP} sets >4096 after kvmtune's 90-kvmtune-hv02-block.rules, so the host boots with 4096, not 128`,
        },
      ]);
    });
  });

  describe("sysctl.d", function () {
    const later = { "/etc/sysctl.d/99-sysctl.conf": ["vm.swappiness = 60"] };

    it("a later file warns; an earlier one does not; the same value does not", function () {
      assert.deepEqual(messages({ "sysctl:vm.swappiness": "10" }, host({ files: later })), [
        "sysctl:vm.swappiness: /etc/sysctl.d/99-sysctl.conf sets 60 after kvmtune's 90-kvmtune-hv01.conf, so the host boots with 60, not 10",
      ]);
      assert.deepEqual(messages({ "sysctl:vm.swappiness": "10" }, host({ files: { "/etc/sysctl.d/80-early.conf": ["vm.swappiness = 60"] } })), []);
      assert.deepEqual(messages({ "sysctl:vm.swappiness": "60" }, host({ files: later })), []);
      assert.deepEqual(messages({ "sysctl:net.ipv4.tcp_rmem": "4096 87380 6291456" }, host({ files: { "/etc/sysctl.d/99-x.conf": ["net.ipv4.tcp_rmem = 4096\t87380  6291456"] } })), [], "whitespace folds");
    });

    it("the last assignment wins: a later file putting kvmtune's value back means no warning", function () {
      const files = { ...later, "/usr/lib/sysctl.d/zz-back.conf": ["vm.swappiness=10"] };
      assert.deepEqual(messages({ "sysctl:vm.swappiness": "10" }, host({ files })), []);
    });

    it("a name in /etc masks the same name in /run and /usr/lib; unmasked, the /usr/lib file warns", function () {
      const files = { "/usr/lib/sysctl.d/99-vendor.conf": ["vm.dirty_ratio = 40"] };
      assert.deepEqual(messages({ "sysctl:vm.dirty_ratio": "10" }, host({ files })), [
        "sysctl:vm.dirty_ratio: /usr/lib/sysctl.d/99-vendor.conf sets 40 after kvmtune's 90-kvmtune-hv01.conf, so the host boots with 40, not 10",
      ]);
      assert.deepEqual(messages({ "sysctl:vm.dirty_ratio": "10" }, host({ files, lists: { "/etc/sysctl.d/*.conf": ["99-vendor.conf"] } })), []);
      const run = { ...files, "/run/sysctl.d/99-vendor.conf": ["vm.dirty_ratio = 20"] };
      assert.deepEqual(messages({ "sysctl:vm.dirty_ratio": "10" }, host({ files: run })), [
        "sysctl:vm.dirty_ratio: /run/sysctl.d/99-vendor.conf sets 20 after kvmtune's 90-kvmtune-hv01.conf, so the host boots with 20, not 10",
      ]);
    });

    it("glob keys never beat kvmtune's explicit key; '/' separators and '-' prefixes name the same key", function () {
      const files = {
        "/etc/sysctl.d/95-net.conf": ["net.ipv4.conf.*.arp_filter = 0", "-net.ipv4.conf.all.arp_filter", "net/ipv4/conf/all/rp_filter = 2", "-net/ipv4/conf/eth0.100/forwarding = 0"],
      };
      const settings = { "sysctl:net.ipv4.conf.all.arp_filter": "1", "sysctl:net.ipv4.conf.all.rp_filter": "1", "sysctl:net.ipv4.conf.eth0/100.forwarding": "1" };
      assert.deepEqual(messages(settings, host({ files })), [
        "sysctl:net.ipv4.conf.all.rp_filter: /etc/sysctl.d/95-net.conf sets 2 after kvmtune's 90-kvmtune-hv01.conf, so the host boots with 2, not 1",
        "sysctl:net.ipv4.conf.eth0/100.forwarding: /etc/sysctl.d/95-net.conf sets 0 after kvmtune's 90-kvmtune-hv01.conf, so the host boots with 0, not 1",
      ]);
    });

    it("kvmtune's own file on the host (old values) is not another actor", function () {
      assert.deepEqual(messages({ "sysctl:vm.swappiness": "10" }, host({ files: { "/etc/sysctl.d/90-kvmtune-hv01.conf": ["vm.swappiness = 30"] } })), []);
      // Another TunedHost's file that sorts later is.
      assert.deepEqual(messages({ "sysctl:vm.swappiness": "10" }, host({ files: { "/etc/sysctl.d/90-kvmtune-hv02.conf": ["vm.swappiness = 30"] } })), [
        "sysctl:vm.swappiness: /etc/sysctl.d/90-kvmtune-hv02.conf sets 30 after kvmtune's 90-kvmtune-hv01.conf, so the host boots with 30, not 10",
      ]);
    });
  });

  describe("udev rules", function () {
    const rule = (line: string, path = "/etc/udev/rules.d/99-io.rules") => ({ files: { [path]: [line] }, nics: [] as string[] });

    it("a later rule with KERNEL==\"vd*\" setting queue/scheduler warns; other devices, earlier files and masks do not", function () {
      const later = rule('ACTION=="add|change", SUBSYSTEM=="block", KERNEL=="vd*", ATTR{queue/scheduler}="bfq"');
      assert.deepEqual(messages({ "block:vdb:scheduler": "mq-deadline" }, host(later)), [
        "block:vdb:scheduler: /etc/udev/rules.d/99-io.rules sets bfq after kvmtune's 90-kvmtune-hv01-block.rules, so the host boots with bfq, not mq-deadline",
      ]);
      assert.deepEqual(messages({ "block:sda:scheduler": "mq-deadline" }, host(later)), []);
      assert.deepEqual(messages({ "block:vdb:scheduler": "mq-deadline" }, host(rule('KERNEL=="vd*", ATTR{queue/scheduler}="bfq"', "/etc/udev/rules.d/60-io.rules"))), []);
      assert.deepEqual(messages({ "block:vdb:scheduler": "bfq" }, host(later)), []);
      assert.deepEqual(messages({ "block:vdb:scheduler": "mq-deadline" }, host(rule('KERNEL=="vd*", ATTR{queue/scheduler}="deadline"'))), [], "deadline is mq-deadline's alias");
      const masked = { files: { "/usr/lib/udev/rules.d/99-io.rules": later.files["/etc/udev/rules.d/99-io.rules"] }, lists: { "/etc/udev/rules.d/*.rules": ["99-io.rules"] } };
      assert.deepEqual(messages({ "block:vdb:scheduler": "mq-deadline" }, host(masked)), []);
    });

    it("conditions: ACTION must take add, SUBSYSTEM must fit, a rule without KERNEL/NAME matches every device, != excludes", function () {
      const s = { "block:vdb:read_ahead_kb": "128" };
      assert.deepEqual(messages(s, host(rule('ACTION=="remove", KERNEL=="vd*", ATTR{queue/read_ahead_kb}="4096"'))), []);
      assert.deepEqual(messages(s, host(rule('SUBSYSTEM=="net", ATTR{queue/read_ahead_kb}="4096"'))), []);
      assert.deepEqual(messages(s, host(rule('KERNEL!="vd*", ATTR{queue/read_ahead_kb}="4096"'))), []);
      assert.deepEqual(messages(s, host(rule('SUBSYSTEM=="block", ENV{DEVTYPE}=="disk", ATTR{queue/read_ahead_kb}="4096"'))), [
        "block:vdb:read_ahead_kb: /etc/udev/rules.d/99-io.rules sets 4096 after kvmtune's 90-kvmtune-hv01-block.rules, so the host boots with 4096, not 128",
      ]);
    });

    it("a device glob is checked per device the host has; an MTU rule matches NAME==", function () {
      const facts = host({ ...rule('KERNEL=="vd[b-z]", ATTR{queue/nr_requests}="64"'), lists: {} });
      facts.blockDevices = ["vda", "vdb", "sda"].map((name) => ({ ...HV02.blockDevices[0], name }));
      assert.deepEqual(messages({ "block:vd*:nr_requests": "256" }, facts), [
        "block:vd*:nr_requests (vdb): /etc/udev/rules.d/99-io.rules sets 64 after kvmtune's 90-kvmtune-hv01-block.rules, so the host boots with 64, not 256",
      ]);
      assert.deepEqual(messages({ "mtu:enp0s3": "9000" }, host(rule('SUBSYSTEM=="net", ACTION=="add", NAME=="enp0s*", ATTR{mtu}="1500"'))), [
        "mtu:enp0s3: /etc/udev/rules.d/99-io.rules sets 1500 after kvmtune's 90-kvmtune-hv01-net.rules, so the host boots with 1500, not 9000",
      ]);
    });
  });

  describe(".link and .network files", function () {
    const link = (...match: string[]) => host({ files: { "/etc/systemd/network/10-mtu.link": ["[Match]", ...match, "[Link]", "MTUBytes=1400"] } });

    it("a .link matching OriginalName (or the MAC) warns that the host may boot with its MTU; others do not", function () {
      const may = "mtu:enp0s3: /etc/systemd/network/10-mtu.link also sets 1400 when udev sets up enp0s3, so the host may boot with 1400, not 9000";
      assert.deepEqual(messages({ "mtu:enp0s3": "9000" }, link("OriginalName=enp0s3")), [may]);
      assert.deepEqual(messages({ "mtu:enp0s3": "9000" }, link("OriginalName=eth9 enp*")), [may]);
      assert.deepEqual(messages({ "mtu:enp0s3": "9000" }, link("OriginalName=eth9")), []);
      assert.deepEqual(messages({ "mtu:enp0s3": "9000" }, HV02, "hv02").filter((m) => m.startsWith("mtu:")), [may], "by MACAddress, from the facts' NIC");
      assert.deepEqual(messages({ "mtu:enp0s3": "1400" }, link("OriginalName=enp0s3")), []);
    });

    it("Name= is not a .link match key: systemd-udevd ignores a .link whose [Match] has nothing else", function () {
      assert.deepEqual(messages({ "mtu:enp0s3": "9000" }, link("Name=enp0s3")), []);
    });

    it("a .network file matching Name= warns when systemd-networkd is enabled, and wins over a .link", function () {
      const files = {
        "/etc/systemd/network/10-mtu.link": ["[Match]", "OriginalName=enp0s3", "[Link]", "MTUBytes=1400"],
        "/etc/systemd/network/50-lan.network": ["[Match]", "Name=enp0s3", "[Network]", "DHCP=yes", "[Link]", "MTUBytes=9K"],
      };
      assert.deepEqual(messages({ "mtu:enp0s3": "9000" }, host({ files, networkd: true })), [
        "mtu:enp0s3: /etc/systemd/network/50-lan.network sets 9K after kvmtune's 90-kvmtune-hv01-net.rules (systemd-networkd applies it), so the host boots with 9216, not 9000",
      ]);
      assert.deepEqual(messages({ "mtu:enp0s4": "9000" }, host({ files, networkd: true })), []);
    });
  });

  describe("tuned", function () {
    const settings = { "sysctl:vm.swappiness": "30", "sysctl:vm.dirty_ratio": "10", "sysctl:vm.dirty_background_ratio": "10", "sysctl:net.core.somaxconn": "1024", "block:vdb:read_ahead_kb": "128", "thp:enabled": "always" };
    const running = { enabled: true, running: true };

    it("virtual-host (including throughput-performance): readahead >4096; sysctl keys are re-applied after it (reapply_sysctl, the default)", function () {
      assert.deepEqual(messages(settings, host({ files: TUNED_FILES, tuned: running })), [
        `block:vdb:read_ahead_kb: ${TP} sets >4096 after kvmtune's 90-kvmtune-hv01-block.rules, so the host boots with 4096, not 128`,
      ]);
      assert.deepEqual(messages({ "block:vdb:read_ahead_kb": "8192" }, host({ files: TUNED_FILES, tuned: running })), [], ">4096 leaves a larger value");
    });

    it("with reapply_sysctl = 0 its [sysctl] wins: swappiness, dirty_ratio, virtual-host's dirty_background_ratio, somaxconn >2048", function () {
      const files = { ...TUNED_FILES, "/etc/tuned/tuned-main.conf": ["reapply_sysctl = 0"] };
      assert.deepEqual(messages(settings, host({ files, tuned: { running: true } })), [
        `sysctl:net.core.somaxconn: ${TP} sets >2048 after kvmtune's 90-kvmtune-hv01.conf, so the host boots with 2048, not 1024`,
        "sysctl:vm.dirty_background_ratio: tuned profile virtual-host (/usr/lib/tuned/virtual-host/tuned.conf) sets 5 after kvmtune's 90-kvmtune-hv01.conf, so the host boots with 5, not 10",
        `sysctl:vm.dirty_ratio: ${TP} sets 40 after kvmtune's 90-kvmtune-hv01.conf, so the host boots with 40, not 10`,
        `sysctl:vm.swappiness: ${TP} sets 10 after kvmtune's 90-kvmtune-hv01.conf, so the host boots with 10, not 30`,
        `block:vdb:read_ahead_kb: ${TP} sets >4096 after kvmtune's 90-kvmtune-hv01-block.rules, so the host boots with 4096, not 128`,
      ]);
    });

    it("re-applies /etc/sysctl.conf last, even without Debian's 99-sysctl.conf link", function () {
      const files = { ...TUNED_FILES, "/etc/sysctl.conf": ["vm.swappiness = 60"] };
      assert.deepEqual(messages({ "sysctl:vm.swappiness": "30" }, host({ files, tuned: running })), [
        "sysctl:vm.swappiness: /etc/sysctl.conf sets 60 after kvmtune's 90-kvmtune-hv01.conf (tuned re-applies it last), so the host boots with 60, not 30",
      ]);
      assert.deepEqual(messages({ "sysctl:vm.swappiness": "30" }, host({ files: { "/etc/sysctl.conf": ["vm.swappiness = 60"] } })), [], "without tuned nothing reads it");
    });

    it("an /etc profile that includes virtual-host and sets THP; the kernel command line's transparent_hugepage= beats it", function () {
      const files = {
        ...TUNED_FILES,
        "/etc/tuned/active_profile": ["kvm-host"],
        "/etc/tuned/kvm-host/tuned.conf": ["[main]", "include=virtual-host", "[vm]", "transparent_hugepage=never", "transparent_hugepage.defrag=madvise", "[disk]", "devices=!vdb", "readahead=>4096"],
      };
      const withDefrag = { ...settings, "thp:defrag": "never" };
      assert.deepEqual(messages(withDefrag, host({ files, tuned: running })), [
        "thp:defrag: tuned profile kvm-host (/etc/tuned/kvm-host/tuned.conf) sets madvise after kvmtune's tmpfiles.d/kvmtune-hv01.conf, so the host boots with madvise, not never",
        "thp:enabled: tuned profile kvm-host (/etc/tuned/kvm-host/tuned.conf) sets never after kvmtune's tmpfiles.d/kvmtune-hv01.conf, so the host boots with never, not always",
      ]);
      assert.deepEqual(messages(withDefrag, host({ files, tuned: running, cmdline: "ro quiet transparent_hugepage=always" })), [
        "thp:defrag: tuned profile kvm-host (/etc/tuned/kvm-host/tuned.conf) sets madvise after kvmtune's tmpfiles.d/kvmtune-hv01.conf, so the host boots with madvise, not never",
      ]);
    });

    it("an /etc profile of the same name includes the /usr/lib one (tuned skips files it loaded)", function () {
      const files = { ...TUNED_FILES, "/etc/tuned/active_profile": ["throughput-performance"], "/etc/tuned/throughput-performance/tuned.conf": ["[main]", "include=throughput-performance", "[disk]", "readahead=>8192"] };
      assert.deepEqual(messages({ "block:vdb:read_ahead_kb": "4096" }, host({ files, tuned: running })), [
        "block:vdb:read_ahead_kb: tuned profile throughput-performance (/etc/tuned/throughput-performance/tuned.conf) sets >8192 after kvmtune's 90-kvmtune-hv01-block.rules, so the host boots with 8192, not 4096",
      ]);
    });

    it("[disk] elevator and [net] mtu for the devices its `devices` rules take; `a|b` governors count by the first", function () {
      const files = {
        "/etc/tuned/active_profile": ["io"],
        "/etc/tuned/io/tuned.conf": ["[disk]", "devices=vd*, !vda", "elevator=bfq", "[net]", "mtu=1500", "[cpu]", "governor=ondemand|powersave"],
      };
      const s = { "block:vda:scheduler": "mq-deadline", "block:vdb:scheduler": "mq-deadline", "block:sda:scheduler": "mq-deadline", "mtu:enp0s3": "9000", "cpufreq:governor": "powersave" };
      assert.deepEqual(messages(s, host({ files, tuned: { enabled: true } })), [
        "block:vdb:scheduler: tuned profile io (/etc/tuned/io/tuned.conf) sets bfq after kvmtune's 90-kvmtune-hv01-block.rules, so the host boots with bfq, not mq-deadline",
        "mtu:enp0s3: tuned profile io (/etc/tuned/io/tuned.conf) sets 1500 after kvmtune's 90-kvmtune-hv01-net.rules, so the host boots with 1500, not 9000",
        "cpufreq:governor: tuned profile io (/etc/tuned/io/tuned.conf) sets ondemand|powersave after kvmtune's tmpfiles.d/kvmtune-hv01.conf, so the host boots with ondemand, not powersave",
      ]);
    });

    it("installed but neither enabled nor running: no warning", function () {
      const files = { ...TUNED_FILES, "/etc/tuned/tuned-main.conf": ["reapply_sysctl = 0"] };
      const facts = host({ files });
      assert.equal(facts.bootSources!.tuned!.enabled || facts.bootSources!.tuned!.running, false);
      assert.deepEqual(messages({ ...settings, "cpufreq:governor": "schedutil" }, facts), []);
    });
  });
});
