// Host facts: the script (run for real, read-only) and the parser, on captured and fake hosts.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { FactsDump } from "../../provider/host/facts-dump";
import { FACTS_SCRIPT } from "../../provider/host/facts-script";
import { parseCpuList, parseHostFacts, type HostFacts } from "../../provider/host/facts";
import { expectedHv01, expectedLocalBusybox, expectedLocalSh, expectedTiny } from "../fixtures/facts/expected";
import { FAKE_HOSTS, hv01 } from "../fixtures/facts/fake-hosts";
import { statusWithUid } from "../fixtures/facts/fake-tree";
import { FIXTURE_DIR, SHELL_ARGV, buildFakeRoot, runFactsScript, runFakeHost, type Shell } from "../fixtures/facts/run-script";

const SHELLS: Shell[] = ["sh", "busybox", "bash"];
const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;

const fixture = (name: string) => readFileSync(join(FIXTURE_DIR, `${name}.txt`), "utf8");
const dump = (...sections: string[]) => ["@@kvmtune:facts 1", ...sections, "@@kvmtune:end", ""].join("\n");
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** Facts of a dump with nothing in it: every field at its "not reported" value. */
const EMPTY: HostFacts = {
  hostname: null,
  machineId: null,
  libvirtDomains: { listed: false, domains: [], problems: [] },
  kernel: { release: null, cmdline: null },
  uid: null,
  cpu: {
    count: 0,
    online: [],
    present: [],
    possible: [],
    isolated: [],
    nohzFull: [],
    model: null,
    flags: { pdpe1gb: false, pse: false, vmx: false, svm: false, hypervisor: false },
  },
  cpus: [],
  numaFromSysfs: false,
  numaNodes: [{ id: 0, cpus: [], memTotalKiB: null, memFreeKiB: null, distances: [{ node: 0, distance: 10 }], hugepages: [] }],
  memory: { totalKiB: null, freeKiB: null, availableKiB: null, defaultHugepageSizeKiB: null, hugepages: [], thp: null },
  blockDevices: [],
  swaps: [],
  network: { addressesKnown: false, ssh: null, nics: [], arpFilter: null },
  pciDevices: [],
  iommuGroups: [],
  virt: { vhostNetDevice: null, kvmDevice: null, loadedModules: [], sysfsModules: [], virsh: null },
  unresponsive: [],
  bootloader: null,
  journal: { entries: [], problems: [], lines: {} },
  bootSources: null,
};

describe("host facts", function () {
  this.timeout(60_000);

  describe("fixtures parse to exact values", function () {
    const cases: Array<[string, HostFacts]> = [
      ["hv01-2socket", expectedHv01],
      ["tiny-no-numa", expectedTiny],
      ["local-sh", expectedLocalSh],
      ["local-busybox", expectedLocalBusybox],
    ];
    for (const [name, expected] of cases) {
      it(`${name}.txt`, function () {
        assert.deepStrictEqual(parseHostFacts(fixture(name)), expected);
      });
    }

    it("are plain JSON data", function () {
      const facts = parseHostFacts(fixture("hv01-2socket"));
      assert.deepStrictEqual(JSON.parse(JSON.stringify(facts)), facts);
    });

    it("hv01: 2 sockets x 4 cores x 2 threads over 2 nodes, SR-IOV VF, bridge carrying SSH, dm on NVMe, IOMMU groups", function () {
      const f = parseHostFacts(fixture("hv01-2socket"));
      assert.deepEqual(new Set(f.cpus.filter((c) => c.online).map((c) => `${c.socketId}/${c.coreId}`)).size, 8);
      assert.deepEqual(f.cpus[2].threadSiblings, [2, 10]);
      assert.deepEqual(f.numaNodes.map((n) => n.distances.map((d) => d.distance)), [[10, 21], [21, 10]]);
      assert.equal(f.network.ssh?.interface, "br0");
      assert.deepEqual(f.network.nics.find((n) => n.name === "eno1")?.bridge, "br0");
      const pv = f.blockDevices.find((d) => d.name === "nvme0n1")?.partitions[2];
      assert.deepEqual(pv?.holders, ["dm-0", "dm-1"]);
      assert.deepEqual(f.blockDevices.find((d) => d.name === "dm-0")?.mounts.map((m) => m.mountPoint), ["/"]);
      assert.deepEqual(f.iommuGroups.find((g) => g.id === 40)?.devices.map((d) => d.address), ["0000:3b:00.0", "0000:3b:00.1"]);
    });

    it("tiny: no /sys/devices/system/node still yields node 0 with every CPU and /proc/meminfo totals", function () {
      const f = parseHostFacts(fixture("tiny-no-numa"));
      assert.equal(f.numaFromSysfs, false);
      assert.deepEqual(f.numaNodes.map((n) => [n.id, n.cpus, n.memTotalKiB, n.memFreeKiB]), [[0, [0, 1, 2, 3], 2015232, 1843200]]);
      assert.deepEqual(f.numaNodes[0].hugepages, [{ sizeKiB: 2048, total: 64, free: 64, surplus: 0 }]);
      assert.deepEqual(f.cpus.map((c) => c.node), [0, 0, 0, 0]);
    });
  });

  describe("fixtures are what the script prints for the fake hosts, under every shell", function () {
    for (const host of FAKE_HOSTS) {
      for (const shell of SHELLS) {
        it(`${host.name} under ${shell}`, function () {
          const run = runFakeHost(host, shell);
          assert.equal(run.code, 0, run.stderr);
          assert.equal(run.stderr, "");
          assert.deepStrictEqual(parseHostFacts(run.stdout), parseHostFacts(fixture(host.name)));
        });
      }
    }
  });

  describe("the script", function () {
    for (const shell of SHELLS) {
      it(`is valid syntax for ${shell}`, function () {
        const argv = SHELL_ARGV[shell];
        const r = spawnSync(argv[0], [...argv.slice(1), "-n"], { input: FACTS_SCRIPT, encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stderr, "");
      });
    }

    it("writes no file but its block readers' output and done markers in its own temp dir", function () {
      const redirections = FACTS_SCRIPT.match(/\d*>+\s*[^\s;)]+/g) ?? [];
      assert.deepEqual([...new Set(redirections)].sort(), ['2>/dev/null', '>"$kt_T/d.$kt_d"', '>"$kt_T/o.$kt_d"', '>/dev/null']);
      assert.match(FACTS_SCRIPT, /kt_T=\$\(mktemp -d "\$\{TMPDIR:-\/tmp\}\/kvmtune-facts\.XXXXXX"/);
    });

    it("has no unescaped template leftovers", function () {
      assert.doesNotMatch(FACTS_SCRIPT, /\\\$\{/);
      assert.match(FACTS_SCRIPT, /\$\{KVMTUNE_FACTS_ROOT:-\}/);
    });
  });

  describe("on this machine (read-only)", function () {
    let shRun: ReturnType<typeof runFactsScript>;
    let facts: HostFacts;

    before(function () {
      shRun = runFactsScript({ shell: "sh", env: { KVMTUNE_SSH_CONNECTION: "198.51.100.7 40022 127.0.0.1 22" } });
      facts = parseHostFacts(shRun.stdout);
    });

    it("exits 0 with nothing on stderr, under every shell and fed on stdin", function () {
      assert.equal(shRun.code, 0);
      assert.equal(shRun.stderr, "");
      for (const shell of SHELLS) {
        const r = runFactsScript({ shell, viaStdin: true });
        assert.equal(r.code, 0, `${shell}: ${r.stderr}`);
        assert.equal(r.stderr, "", shell);
        const f = parseHostFacts(r.stdout);
        // Memory counters move between runs; the rest must agree.
        const stable = (x: HostFacts) => ({ ...x, memory: { ...x.memory, freeKiB: 0, availableKiB: 0 }, numaNodes: x.numaNodes.map((n) => ({ ...n, memFreeKiB: 0 })), network: { ...x.network, ssh: null } });
        assert.deepStrictEqual(stable(f), stable(facts), shell);
      }
    });

    it("agrees with what node and sysfs say", function () {
      assert.equal(facts.hostname, os.hostname());
      assert.equal(facts.kernel.release, os.release());
      assert.equal(facts.kernel.cmdline, readFileSync("/proc/cmdline", "utf8").trim());
      assert.equal(facts.uid, process.getuid?.());
      assert.equal(facts.cpu.online.length, os.cpus().length);
      assert.equal(facts.cpus.length, readdirSync("/sys/devices/system/cpu").filter((d) => /^cpu\d+$/.test(d)).length);
      for (const c of facts.cpus) {
        const siblings = `/sys/devices/system/cpu/cpu${c.id}/topology/thread_siblings_list`;
        if (c.online) assert.deepEqual(c.threadSiblings, parseCpuList(readFileSync(siblings, "utf8")), siblings);
      }
      assert.equal(facts.memory.totalKiB, os.totalmem() / 1024);
      assert.equal(facts.virt.kvmDevice, existsSync("/dev/kvm"));
      assert.equal(facts.virt.vhostNetDevice, existsSync("/dev/vhost-net"));

      const nics = readdirSync("/sys/class/net").filter((n) => statSync(`/sys/class/net/${n}`).isDirectory());
      assert.deepEqual(facts.network.nics.map((n) => n.name).sort(), nics.sort());
      const ifaces = os.networkInterfaces();
      for (const nic of facts.network.nics) {
        const v4 = (ifaces[nic.name] ?? []).filter((a) => a.family === "IPv4").map((a) => a.cidr);
        assert.deepEqual([...nic.ipv4].sort(), v4.sort(), nic.name);
        assert.equal(nic.mtu, Number(readFileSync(`/sys/class/net/${nic.name}/mtu`, "utf8")));
      }
      assert.deepEqual(facts.network.ssh, { clientAddress: "198.51.100.7", serverAddress: "127.0.0.1", interface: "lo" });

      const used = readdirSync("/sys/block").filter((d) => existsSync(`/sys/block/${d}/device`) || readFileSync(`/sys/block/${d}/size`, "utf8").trim() !== "0");
      assert.deepEqual(facts.blockDevices.map((d) => d.name).sort(), used.sort());
      for (const d of facts.blockDevices) assert.equal(d.sizeBytes, Number(readFileSync(`/sys/block/${d.name}/size`, "utf8")) * 512);
    });

    it("reports every file exactly as node reads it (the read builtin and grep lose nothing)", function () {
      const d = new FactsDump(shRun.stdout);
      const paths = new Set<string>();
      for (const line of shRun.stdout.split("\n")) {
        if (line.startsWith("@@kvmtune:file ")) paths.add(line.slice("@@kvmtune:file ".length));
      }
      const grepped = /^(sys\/devices\/system\/(?:cpu|node)\/[^:]+):/;
      for (const line of shRun.stdout.split("\n")) {
        const m = grepped.exec(line);
        if (m) paths.add(`/${m[1]}`);
      }
      assert.ok(paths.size > 50, `only ${paths.size} files`);
      for (const path of paths) {
        if (/meminfo$/.test(path)) continue; // changes between reads
        assert.equal(d.file(path), readFileSync(path, "utf8").replace(/\n$/, ""), path);
      }
      assert.ok(paths.has("/sys/devices/system/node/node0/cpulist"), "binary attributes are read too");
    });

    it("degrades, not fails, as an unprivileged user", function () {
      assert.ok(isRoot, "this test switches to uid 65534, so the suite runs as root (as CI does)");
      const r = runFactsScript({ shell: "sh", uid: NOBODY });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, "");
      const f = parseHostFacts(r.stdout);
      assert.equal(f.uid, NOBODY);
      assert.deepStrictEqual(f.cpus, facts.cpus);
      assert.deepStrictEqual(f.blockDevices.map((b) => b.name), facts.blockDevices.map((b) => b.name));
      assert.deepStrictEqual(f.network.nics.map((n) => n.name), facts.network.nics.map((n) => n.name));
    });
  });

  describe("degraded input", function () {
    it("non-root on a host with root-only files and no `ip`: those fields are null, the rest is read", function () {
      // Root reads anything, so it runs as nobody; anyone else is locked out by mode 000 anyway.
      const { root, remove } = buildFakeRoot(hv01);
      const locked = [
        "/sys/devices/system/node/node1/meminfo",
        "/sys/block/nvme0n1/wwid",
        "/sys/kernel/mm/transparent_hugepage/defrag",
        "/sys/kernel/iommu_groups",
      ].map((p) => realpathSync(join(root, p)));
      try {
        rmSync(join(root, "bin/ip"));
        writeFileSync(join(root, "proc/self/status"), statusWithUid(NOBODY));
        for (const p of locked) chmodSync(p, 0o000);
        const expected = clone(expectedHv01);
        expected.uid = NOBODY;
        expected.numaNodes[1].memTotalKiB = null;
        expected.numaNodes[1].memFreeKiB = null;
        expected.blockDevices.find((b) => b.name === "nvme0n1")!.wwid = null;
        expected.memory.thp = null;
        expected.iommuGroups = [];
        for (const p of expected.pciDevices) p.iommuGroup = null;
        expected.network.addressesKnown = false;
        expected.network.ssh = { clientAddress: "192.168.10.5", serverAddress: "192.168.10.11", interface: null };
        for (const n of expected.network.nics) [n.ipv4, n.ipv6] = [[], []];
        for (const shell of SHELLS) {
          const r = runFactsScript({ shell, root, env: hv01.env, uid: isRoot ? NOBODY : undefined });
          assert.equal(r.code, 0, `${shell}: ${r.stderr}`);
          assert.equal(r.stderr, "", shell);
          assert.deepStrictEqual(parseHostFacts(r.stdout), expected, shell);
        }
      } finally {
        for (const p of locked) chmodSync(p, 0o755);
        remove();
      }
    });

    it("an empty dump gives every field its not-reported value", function () {
      assert.deepStrictEqual(parseHostFacts(dump()), EMPTY);
    });

    it("garbage values become null instead of wrong numbers", function () {
      const f = parseHostFacts(
        dump(
          "@@kvmtune:dirs /sys/block/*",
          "sda",
          "@@kvmtune:link /sys/block/sda/device",
          "/sys/devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0",
          "@@kvmtune:file /sys/block/sda/size",
          "lots",
          "@@kvmtune:file /sys/block/sda/queue/rotational",
          "maybe",
          "@@kvmtune:file /proc/meminfo",
          "MemTotal: many kB",
          "@@kvmtune:var status-uid",
          "Uid: x",
          "@@kvmtune:dirs /sys/class/net/*",
          "eth0",
          "@@kvmtune:file /sys/class/net/eth0/mtu",
          "",
        ),
      );
      assert.equal(f.blockDevices[0].sizeBytes, null);
      assert.equal(f.blockDevices[0].rotational, null);
      assert.equal(f.memory.totalKiB, null);
      assert.equal(f.uid, null);
      assert.equal(f.network.nics[0].mtu, null);
    });

    it("ignores login noise before the header", function () {
      assert.deepStrictEqual(parseHostFacts(`Welcome to hv01\n${dump()}`), EMPTY);
    });

    it("rejects output that is not complete facts output", function () {
      assert.throws(() => parseHostFacts(""), { message: "not kvmtune facts output version 1 (no facts header)" });
      assert.throws(() => parseHostFacts("@@kvmtune:facts 2\n@@kvmtune:end\n"), { message: 'not kvmtune facts output version 1 ("@@kvmtune:facts 2")' });
      assert.throws(() => parseHostFacts(dump().replace("@@kvmtune:end\n", "")), { message: "facts output is truncated (no end marker)" });
      assert.throws(() => parseHostFacts(dump("@@kvmtune:bogus x")), { message: 'unknown facts section kind "bogus"' });
      assert.throws(() => parseHostFacts(dump("@@kvmtune:file")), { message: 'malformed facts section header "@@kvmtune:file"' });
    });

    it("names the file when a kernel-formatted value is malformed", function () {
      assert.throws(() => parseHostFacts(dump("@@kvmtune:file /sys/devices/system/cpu/online", "0-3,,5")), {
        message: '/sys/devices/system/cpu/online: invalid cpulist "0-3,,5": bad element ""',
      });
      assert.throws(
        () => parseHostFacts(dump("@@kvmtune:file /sys/kernel/mm/transparent_hugepage/enabled", "[always] [never]", "@@kvmtune:file /sys/kernel/mm/transparent_hugepage/defrag", "[madvise]")),
        { message: '/sys/kernel/mm/transparent_hugepage/enabled: invalid choice list "[always] [never]": more than one active choice' },
      );
    });

    it("maps the SSH server address to its interface: IPv4-mapped, zoned, unknown, short", function () {
      const net = (conn: string) =>
        parseHostFacts(
          dump(
            "@@kvmtune:dirs /sys/class/net/*",
            "eth0",
            "@@kvmtune:cmd ip-addr",
            "2: eth0    inet 10.0.2.15/24 brd 10.0.2.255 scope global eth0",
            "2: eth0    inet6 fe80::5054:ff:fe12:3456/64 scope link",
            "@@kvmtune:var ssh-connection",
            conn,
          ),
        ).network.ssh;
      assert.deepEqual(net("::ffff:10.0.2.2 5000 ::ffff:10.0.2.15 22"), { clientAddress: "10.0.2.2", serverAddress: "10.0.2.15", interface: "eth0" });
      assert.deepEqual(net("fe80::1%eth0 5000 FE80::5054:FF:FE12:3456%eth0 22"), { clientAddress: "fe80::1", serverAddress: "fe80::5054:ff:fe12:3456", interface: "eth0" });
      assert.deepEqual(net("10.0.2.2 5000 10.9.9.9 22"), { clientAddress: "10.0.2.2", serverAddress: "10.9.9.9", interface: null });
      assert.equal(net("10.0.2.2 5000"), null);
    });

    it("reads a cpu0 without an `online` file as online and a `(null)` nohz_full as empty", function () {
      const f = parseHostFacts(
        dump(
          "@@kvmtune:dirs /sys/devices/system/cpu/cpu[0-9]*",
          "cpu0",
          "cpu1",
          "@@kvmtune:file /sys/devices/system/cpu/nohz_full",
          "(null)",
          "@@kvmtune:grep cpu",
          "sys/devices/system/cpu/cpu1/online:0",
        ),
      );
      assert.deepEqual(f.cpus.map((c) => [c.id, c.online]), [[0, true], [1, false]]);
      assert.deepEqual(f.cpu.online, [0]);
      assert.deepEqual(f.cpu.nohzFull, []);
    });
  });
});
