// What used to fail only at `up` is refused at check (preview), with bounded messages (#14 safety 5):
// cpulist syntax, integer sysctls in hex or octal, per-interface sysctl keys with a dotted VLAN name.
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseHostFacts } from "../../provider/host/facts";
import { resolveKnob } from "../../provider/host/knobs/catalogue";
import { normaliseSettings, planApply } from "../../provider/host/knobs/plan";
import { check } from "../../provider/resources/host-tuning-impl";
import { formatIssues, InputError, listCapped, quoteText } from "../../provider/spec/issues";
import { groupSettings, planTuningSettings, tuningSchema } from "../../provider/spec/tuned-host";
import { FIXTURE_DIR } from "../fixtures/facts/run-script";

const CPULIST = "expected a cpulist such as 2-15 or 2-7,10-15 (CPU numbers and low-high ranges, separated by commas)";

/** The problems planTuningSettings refuses args with (none: []). */
function argProblems(args: unknown): string[] {
  try {
    planTuningSettings(args, `TunedHost "hv01"`);
    return [];
  } catch (err) {
    assert.ok(err instanceof InputError, String(err));
    return err.problems;
  }
}

/** HostTuning's check of raw settings (no host: what preview runs), as `property | reason`. */
async function checkSettings(settings: Record<string, string>): Promise<string[]> {
  const r = await check(undefined, { connection: undefined, tag: "hv01", settings: groupSettings(settings) });
  return (r.failures ?? []).map((f) => `${f.property} | ${f.reason}`);
}

describe("check refuses cpulists that are not cpulists (preview, not up)", () => {
  it("names the TunedHost field isolateCpus, the value and what is accepted", () => {
    assert.deepEqual(argProblems({ isolateCpus: "3-1" }), [`args.isolateCpus: "3-1" is not accepted: range "3-1" is reversed; write it low-high, as 1-3; ${CPULIST}`]);
    assert.deepEqual(argProblems({ isolateCpus: "1,,2" }), [`args.isolateCpus: "1,,2" is not accepted: it has an empty element (two commas in a row); ${CPULIST}`]);
    assert.deepEqual(argProblems({ isolateCpus: "2-7," }), [`args.isolateCpus: "2-7," is not accepted: it ends with a comma; ${CPULIST}`]);
    assert.deepEqual(argProblems({ isolateCpus: "" }), [`args.isolateCpus: "" is not accepted: the CPU list is empty; ${CPULIST}`]);
    assert.deepEqual(argProblems({ isolateCpus: "2-15" }), []);
  });

  it("names kernelArgs.<param> for the cpulist kernel arguments", () => {
    assert.deepEqual(argProblems({ kernelArgs: { nohz_full: "3-1", rcu_nocbs: "1,,2", irqaffinity: "0-1" } }), [
      `args.kernelArgs.nohz_full: "3-1" is not accepted: range "3-1" is reversed; write it low-high, as 1-3; ${CPULIST}`,
      `args.kernelArgs.rcu_nocbs: "1,,2" is not accepted: it has an empty element (two commas in a row); ${CPULIST}`,
    ]);
  });

  it("refuses raw settings in HostTuning's check, isolcpus flags included; choice arguments too", async () => {
    assert.deepEqual(
      await checkSettings({
        "cmdline:nohz_full": "3-1",
        "cmdline:rcu_nocbs": "1,,2",
        "cmdline:isolcpus": "managed_irq,domain,,2",
        "cmdline:irqaffinity": "0-70000",
        "cmdline:intel_iommu": "maybe",
        "cmdline:default_hugepagesz": "4M",
      }),
      [
        `settings | settings["cmdline:default_hugepagesz"]: "4M" is not accepted: expected one of 2M, 1G`,
        `settings | settings["cmdline:intel_iommu"]: "maybe" is not accepted: expected one of on, off, sm_on`,
        `settings | settings["cmdline:irqaffinity"]: "0-70000" is not accepted: CPU 70000 is above 65535, the highest CPU number kvmtune accepts; ${CPULIST}`,
        `settings | settings["cmdline:isolcpus"]: "managed_irq,domain,,2" is not accepted: it starts with a comma; expected flags (nohz, domain, managed_irq) then a cpulist such as 2-15 or 2-7,10-15 (CPU numbers and low-high ranges, separated by commas), such as managed_irq,domain,2-15`,
        `settings | settings["cmdline:nohz_full"]: "3-1" is not accepted: range "3-1" is reversed; write it low-high, as 1-3; ${CPULIST}`,
        `settings | settings["cmdline:rcu_nocbs"]: "1,,2" is not accepted: it has an empty element (two commas in a row); ${CPULIST}`,
      ],
    );
    assert.deepEqual(await checkSettings({ "cmdline:isolcpus": "managed_irq,domain,2-15", "cmdline:nohz_full": "2-15", "cmdline:intel_iommu": "on" }), []);
  });

  it("refuses an isolateCpus too long for the kernel argument, offering the ranges when they fit", () => {
    const singles = Array.from({ length: 200 }, (_, i) => String(i + 2)).join(",");
    assert.deepEqual(argProblems({ isolateCpus: singles }), [
      `args.isolateCpus: ${quoteText(singles)} is not accepted: it is ${singles.length} characters, more than the 493 that fit a kernel argument; write runs of CPUs as ranges: "2-201"`,
    ]);
  });
});

describe("check refuses integer sysctls the kernel would not read back as written", () => {
  // The kernel parses integer sysctls with base 0 (proc_get_long -> strtoul_lenient(p, &p, 0, ...)).
  it("refuses hexadecimal and leading zeros, naming what the kernel makes of them and what to write", () => {
    assert.deepEqual(argProblems({ sysctl: { "vm.swappiness": "0x10", "vm.dirty_ratio": "010", "vm.dirty_background_ratio": "09", "net.ipv4.tcp_rmem": "4096 087380 0x600000" } }), [
      `args.sysctl["vm.swappiness"]: "0x10" is not accepted; expected decimal integers: the kernel reads 0x10 as hexadecimal and shows 16, so write 16`,
      `args.sysctl["vm.dirty_ratio"]: "010" is not accepted; expected decimal integers without leading zeros: the kernel reads 010 as octal and shows 8, so write 8, or 10 if you meant decimal`,
      `args.sysctl["vm.dirty_background_ratio"]: "09" is not accepted; expected decimal integers without leading zeros: the kernel reads a leading 0 as octal and refuses 09; write 9`,
      `args.sysctl["net.ipv4.tcp_rmem"]: "4096 087380 0x600000" is not accepted; expected decimal integers without leading zeros: the kernel reads a leading 0 as octal and refuses 087380; write "4096 87380 6291456"`,
    ]);
  });

  it("accepts decimal integers, zero, negatives, vectors and words", () => {
    assert.deepEqual(argProblems({ sysctl: { "vm.swappiness": "0", "vm.dirty_ratio": 10, "kernel.perf_event_paranoid": "-1", "net.ipv4.tcp_rmem": "4096 87380 6291456", "net.ipv4.tcp_congestion_control": "bbr", "net.core.default_qdisc": "fq_codel" } }), []);
  });

  it("refuses the same in raw settings at HostTuning's check", async () => {
    assert.deepEqual(await checkSettings({ "sysctl:vm.swappiness": "0x10", "sysctl:kernel.perf_event_paranoid": "-010" }), [
      `settings | settings["sysctl:kernel.perf_event_paranoid"]: "-010" is not accepted; expected decimal integers without leading zeros: the kernel reads 010 as octal and shows 8, so write -8, or -10 if you meant decimal`,
      `settings | settings["sysctl:vm.swappiness"]: "0x10" is not accepted; expected decimal integers: the kernel reads 0x10 as hexadecimal and shows 16, so write 16`,
    ]);
  });
});

describe("check refuses a per-interface sysctl key that splits a VLAN interface at its dot", () => {
  it("hints the '/' form sysctl(8) uses", () => {
    assert.deepEqual(argProblems({ sysctl: { "net.ipv4.conf.eth0.100.arp_filter": 1 } }), [
      `args.sysctl["net.ipv4.conf.eth0.100.arp_filter"]: "net.ipv4.conf.eth0.100.arp_filter" splits interface eth0.100 at its dots (it would be /proc/sys/net/ipv4/conf/eth0/100/arp_filter); write a dot in an interface name as '/', as sysctl(8) does: net.ipv4.conf.eth0/100.arp_filter`,
    ]);
    assert.equal(
      (resolveKnob("sysctl:net.ipv6.neigh.bond0.10.20.base_reachable_time_ms") as { problem: string }).problem,
      `"net.ipv6.neigh.bond0.10.20.base_reachable_time_ms" splits interface bond0.10.20 at its dots (it would be /proc/sys/net/ipv6/neigh/bond0/10/20/base_reachable_time_ms); write a dot in an interface name as '/', as sysctl(8) does: net.ipv6.neigh.bond0/10/20.base_reachable_time_ms`,
    );
  });

  it("accepts the '/' form and plain interface names (all, default, eth0)", async () => {
    assert.deepEqual(argProblems({ sysctl: { "net.ipv4.conf.eth0/100.arp_filter": 1, "net.ipv4.conf.all.rp_filter": 2, "net.ipv6.neigh.default.gc_thresh1": 128, "net.ipv4.conf.eth0.arp_filter": 1 } }), []);
    assert.deepEqual(await checkSettings({ "sysctl:net.ipv4.conf.eth0/100.arp_filter": "1" }), []);
    const knob = resolveKnob("sysctl:net.ipv4.conf.eth0/100.arp_filter");
    assert.ok(!("problem" in knob));
    assert.deepEqual(knob.reads, ["/proc/sys/net/ipv4/conf/eth0.100/arp_filter"]);
  });

  it("refuses the raw key at HostTuning's check", async () => {
    assert.deepEqual(await checkSettings({ "sysctl:net.ipv4.conf.eth0.100.arp_filter": "1" }), [
      `settings | settings["sysctl:net.ipv4.conf.eth0.100.arp_filter"]: "net.ipv4.conf.eth0.100.arp_filter" splits interface eth0.100 at its dots (it would be /proc/sys/net/ipv4/conf/eth0/100/arp_filter); write a dot in an interface name as '/', as sysctl(8) does: net.ipv4.conf.eth0/100.arp_filter`,
    ]);
  });
});

describe("TunedHost args: every field's problem at once, named as the user wrote it", () => {
  it("lists friendly fields' key and value problems together; raw settings are left to HostTuning's check", () => {
    assert.deepEqual(argProblems({ isolateCpus: "2-15", sysctl: { "kernel.core_pattern": "x", "vm.swappiness": "0x10" }, mtu: { "eth0.100": 67 }, schedulers: { "../sda": "bfq" }, settings: { "sysctl:vm.dirty_ratio": "010" } }), [
      `args.sysctl["kernel.core_pattern"]: "kernel.core_pattern" is not on kvmtune's sysctl allowlist; accepted: vm.*, net.{core,ipv4,ipv6,bridge,netfilter,unix}.*, kernel.numa_balancing/sched_*/watchdog/... and fs.aio-max-nr/file-max/...`,
      `args.sysctl["vm.swappiness"]: "0x10" is not accepted; expected decimal integers: the kernel reads 0x10 as hexadecimal and shows 16, so write 16`,
      `args.schedulers["../sda"]: "../sda" is not a block device name; expected a kernel name such as sda, vda or nvme0n1 (no '/' or '..')`,
      `args.mtu["eth0.100"]: "67" is not accepted; expected an integer from 68 to 65535`,
    ]);
  });

  it("reports isolateCpus with the other fields, once, as written", () => {
    assert.deepEqual(argProblems({ isolateCpus: "3-1", sysctl: { "vm.swappiness": "0x10", "net.ipv4.conf.eth0.100.arp_filter": 1 } }), [
      `args.sysctl["vm.swappiness"]: "0x10" is not accepted; expected decimal integers: the kernel reads 0x10 as hexadecimal and shows 16, so write 16`,
      `args.sysctl["net.ipv4.conf.eth0.100.arp_filter"]: "net.ipv4.conf.eth0.100.arp_filter" splits interface eth0.100 at its dots (it would be /proc/sys/net/ipv4/conf/eth0/100/arp_filter); write a dot in an interface name as '/', as sysctl(8) does: net.ipv4.conf.eth0/100.arp_filter`,
      `args.isolateCpus: "3-1" is not accepted: range "3-1" is reversed; write it low-high, as 1-3; ${CPULIST}`,
    ]);
  });

  it("keeps planning valid args as before", () => {
    const plan = planTuningSettings({ preset: "virtual-host", isolateCpus: "2-15", sysctl: { "net.ipv4.conf.eth0/100.arp_filter": 1 }, kernelArgs: { intel_iommu: "on" } });
    assert.equal(plan.settings["cmdline:isolcpus"], "managed_irq,domain,2-15");
    assert.equal(plan.settings["sysctl:net.ipv4.conf.eth0/100.arp_filter"], "1");
    assert.deepEqual(normaliseSettings(plan.settings).problems, []);
  });
});

describe("messages stay bounded", () => {
  const facts = parseHostFacts(readFileSync(join(FIXTURE_DIR, "tiny-no-numa.txt"), "utf8"));

  /** The host problems an apply would refuse with (facts only; no files needed for cmdline keys). */
  function applyProblems(settings: Record<string, string>): string[] {
    const n = normaliseSettings(settings);
    assert.deepEqual(n.problems, []);
    return planApply({ desired: n.desired, knobs: n.knobs, facts, files: new Map(), tag: "hv01", allowManagementInterface: false, originals: {}, dropped: new Map() }).problems.filter((p) => !/boot loader/.test(p));
  }

  it("0-9999 on a 4-CPU host: the missing CPUs as one range, not 9,996 numbers (58,000 characters before)", () => {
    const plan = planTuningSettings({ isolateCpus: "0-9999" });
    const problems = applyProblems(plan.settings);
    assert.deepEqual(problems, [
      `cmdline:isolcpus: "managed_irq,domain,0-9999" is not accepted: CPUs 4-9999 do not exist; this host has CPUs 0-3`,
      `cmdline:nohz_full: "0-9999" is not accepted: CPUs 4-9999 do not exist; this host has CPUs 0-3`,
      `cmdline:rcu_nocbs: "0-9999" is not accepted: CPUs 4-9999 do not exist; this host has CPUs 0-3`,
    ]);
    for (const p of problems) assert.ok(p.length < 300, `${p.length} characters`);
  });

  it("scattered missing CPUs: at most 8 runs, then how many more", () => {
    const odd = Array.from({ length: 100 }, (_, i) => String(2 * i + 1)).join(",");
    const [problem] = applyProblems({ "cmdline:nohz_full": odd });
    assert.equal(problem, `cmdline:nohz_full: ${quoteText(odd)} is not accepted: CPUs 5,7,9,11,13,15,17,19,\u2026 and 90 more do not exist; this host has CPUs 0-3`);
    assert.ok(problem.length < 300, `${problem.length} characters`);
  });

  it("huge values and keys are cut to a bounded quote that says how long they were", async () => {
    const huge = "1".repeat(100_000);
    const failures = await checkSettings({ "sysctl:vm.swappiness": huge, "cmdline:nohz_full": huge, "mtu:eth0": huge, "thp:enabled": huge });
    assert.equal(failures.length, 4);
    for (const f of failures) {
      assert.ok(f.length < 400, `${f.length} characters: ${f.slice(0, 100)}`);
      assert.ok(f.includes(`${JSON.stringify(`${"1".repeat(120)}\u2026`)} (100000 characters)`), f);
    }
    for (const args of [{ isolateCpus: huge }, { isolateCpus: `${huge},,1` }, { [`x${huge}`]: 1 }, { kernelArgs: { nohz_full: huge } }]) {
      const problems = argProblems(args);
      assert.equal(problems.length, 1);
      assert.ok(problems[0].length < 400, `${problems[0].length} characters: ${problems[0].slice(0, 100)}`);
    }
    const keyProblems = argProblems({ sysctl: { [`vm.${huge}`]: 1 } });
    assert.deepEqual(keyProblems, [`args.sysctl[${JSON.stringify(`vm.${"1".repeat(77)}\u2026`)} (100003 characters)]: keys are strings of at most 256 characters`]);
  });

  it("names 10 unknown fields of one object, then counts the rest", () => {
    const args = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`typo${i}`, 1]));
    const r = tuningSchema.safeParse(args);
    assert.ok(!r.success);
    const lines = formatIssues("args", r.error.issues);
    assert.equal(lines.length, 11);
    assert.equal(lines[0], `args: unknown field "typo0"`);
    assert.equal(lines[10], "args: \u2026 and 990 more unknown fields");
  });

  it("listCapped and quoteText", () => {
    assert.equal(listCapped(["a", "b", "c"], 3), "a, b, c");
    assert.equal(listCapped(["a", "b", "c", "d"], 2), "a, b, \u2026 and 2 more");
    assert.equal(quoteText("abc", 3), `"abc"`);
    assert.equal(quoteText("abcd", 3), `"abc\u2026" (4 characters)`);
  });
});

describe("showValue never renders credentials given in the wrong place", () => {
  const { showValue } = require("../../provider/spec/issues") as typeof import("../../provider/spec/issues");
  it("describes objects holding credentials and private keys; other values as before", () => {
    assert.equal(showValue({ host: "hv01", privateKey: "k" }), "an object holding credentials (not shown)");
    assert.equal(showValue([{ conn: { password: "hunter22" } }]), "a list holding credentials (not shown)");
    assert.equal(showValue("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"), "a private key (not shown)");
    assert.equal(showValue({ host: "hv01", port: 22 }), `{"host":"hv01","port":22}`);
    assert.equal(showValue("web 1"), `"web 1"`);
  });

  it("keeps such an object out of a component's error: a connection passed as a NumaPinnedGuest domainName", () => {
    const { parsePlacementRequest } = require("../../provider/plan/request") as typeof import("../../provider/plan/request");
    assert.throws(() => parsePlacementRequest({ name: { host: "hv01", password: "hunter22" }, vcpus: 1, memoryMiB: 64 }), (e: Error) => {
      assert.ok(!e.message.includes("hunter22"), e.message);
      assert.match(e.message, /request\.name: an object holding credentials \(not shown\) is not accepted/);
      return true;
    });
  });
});
