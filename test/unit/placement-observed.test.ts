// Measured placement: PLACEMENT_SCRIPT run for real (dash and busybox ash) and
// its raw output parsed; captured QEMU fixtures (tcg-2vcpu*.txt, from a local
// `qemu-system-x86_64 -accel tcg`) and a handcrafted hugetlb two-node one; and
// every drift line of diffPlacement, exactly.
import { strict as assert } from "node:assert";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { diffPlacement, renderObservedSummary, MEMORY_TOLERANCE_MIB } from "../../provider/libvirt/placement-drift";
import {
  PLACEMENT_SCRIPT, isGuestRamMapping, parseNumaMapsLine, parseObservedPlacement, selectGuestRam, type ObservedPlacement,
} from "../../provider/libvirt/placement-observed";
import type { OwnedParts } from "../../provider/libvirt/types";
import { pdeathsigPrefix, stopProcess, track } from "../support/processes";

const FIXTURES = join(__dirname, "..", "fixtures", "placement");
const fixture = (name: string) => readFileSync(join(FIXTURES, name), "utf8");
const parseFixture = (name: string, memoryMiB?: number) => parseObservedPlacement(fixture(name), { memoryMiB });

/** Runs the fragment as a transport would: `pid=...` set, LC_ALL=C, nothing else inherited but PATH. */
function runScript(shell: string[], pid: string, script = PLACEMENT_SCRIPT): string {
  const r = spawnSync(shell[0], [...shell.slice(1), "-c", `pid=${pid}\n${script}`], {
    encoding: "utf8", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C" },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, "");
  return r.stdout;
}

describe("placement: the captured TCG guest (2 vCPUs, iothread1, -S, 64 MiB)", () => {
  const o = parseFixture("tcg-2vcpu.txt", 64);

  it("maps thread names to vCPUs, iothreads and the emulator", () => {
    assert.equal(o.pid, 1270);
    assert.deepEqual(o.threads.map((t) => [t.tid, t.comm]), [
      [1270, "qemu-system-x86"], [1271, "qemu-system-x86"], [1272, "IO iothread1"], [1273, "CPU 0/TCG"], [1274, "CPU 1/TCG"],
    ]);
    assert.deepEqual(o.vcpus, [
      { vcpu: 0, tid: 1273, allowedCpus: "0-1", lastCpu: 1, cgroupCpus: "0-1" },
      { vcpu: 1, tid: 1274, allowedCpus: "0-1", lastCpu: 1, cgroupCpus: "0-1" },
    ]);
    assert.deepEqual(o.iothreads, [{ iothread: 1, tid: 1272, allowedCpus: "0-1", lastCpu: 1, cgroupCpus: "0-1" }]);
    assert.deepEqual(o.emulator, { allowedCpus: "0-1", cgroupCpus: "0-1", cgroupMems: "0" });
    assert.equal(o.threads[0].cgroup, "/");
    assert.equal(o.truncated, false);
  });

  it("finds the 64 MiB pc.ram mapping (untouched under -S) and nothing else as guest RAM", () => {
    assert.deepEqual(o.guestRam, [{ pageSizeKiB: 4, hugetlb: false, mib: 64 }]);
    assert.deepEqual(o.guestMemory, []);
    assert.deepEqual(o.memory.map((m) => [m.node, m.pageSizeKiB, m.hugetlb]), [[0, 4, false]]);
    assert.ok(o.memory[0].mib > 10, `${o.memory[0].mib}`);
    // Without the guest's size only anonymous mappings over 64 MiB (larger than a glibc arena) count.
    assert.deepEqual(parseFixture("tcg-2vcpu.txt").guestRam, []);
  });

  it("counts the resident guest RAM of the running capture", () => {
    const r = parseFixture("tcg-2vcpu-running.txt", 64);
    assert.deepEqual(r.vcpus.map((v) => v.vcpu), [0, 1]);
    assert.deepEqual(r.guestMemory, [{ node: 0, pageSizeKiB: 4, hugetlb: false, mib: 6 }]);
    assert.deepEqual(r.guestRam, [{ pageSizeKiB: 4, hugetlb: false, mib: 64 }]);
  });
});

describe("placement: handcrafted hugetlb guest on two nodes", () => {
  const o = parseFixture("hugetlb-2node.txt", 128);

  it("sorts vCPUs, keeps only libvirt iothreads, and reads each cgroup's effective cpuset", () => {
    assert.equal(o.pid, 4242);
    assert.deepEqual(o.vcpus.map((v) => [v.vcpu, v.tid, v.allowedCpus, v.lastCpu, v.cgroupCpus]), [
      [0, 4250, "2-3", 2, "2-3"], [1, 4251, "2-3", 3, "2-3"], [2, 4252, "10", 10, "10"], [3, 4253, "11", 11, undefined],
    ]);
    assert.deepEqual(o.iothreads, [{ iothread: 1, tid: 4246, allowedCpus: "1", lastCpu: 1, cgroupCpus: "1" }]);
    assert.deepEqual(o.emulator, { allowedCpus: "0-7", cgroupCpus: "0-7", cgroupMems: "0" });
    assert.equal(o.threads[1].allowedCpus, "0-7", "cpulists are normalised");
    assert.equal(o.threads[0].cgroup, "/machine.slice/machine-qemu\\x2d1\\x2dguest.scope/libvirt/emulator");
  });

  it("decodes a thread name with spaces, parentheses, a newline and a percent sign", () => {
    const t = o.threads.find((x) => x.tid === 4262);
    assert.deepEqual(t, { tid: 4262, comm: "a) b (c\nd%", allowedCpus: "0-7", lastCpu: 7, allowedMems: "0-1" });
  });

  it("sums memory per node and page size like numastat -p, and guest RAM from the hugetlbfs backends", () => {
    assert.deepEqual(o.memory, [
      { node: 0, pageSizeKiB: 4, hugetlb: false, mib: 10.8 },
      { node: 0, pageSizeKiB: 2048, hugetlb: true, mib: 80 },
      { node: 1, pageSizeKiB: 4, hugetlb: false, mib: 3.29 },
      { node: 1, pageSizeKiB: 2048, hugetlb: true, mib: 48 },
    ]);
    assert.deepEqual(o.guestMemory, [
      { node: 0, pageSizeKiB: 2048, hugetlb: true, mib: 80 },
      { node: 1, pageSizeKiB: 2048, hugetlb: true, mib: 48 },
    ]);
    assert.deepEqual(o.guestRam, [{ pageSizeKiB: 2048, hugetlb: true, mib: 128 }]);
    assert.deepEqual(parseFixture("hugetlb-2node.txt").guestMemory, o.guestMemory, "hugetlb needs no guest size");
    assert.equal(o.truncated, false);
  });

  it("renders a summary without tids or last CPUs", () => {
    assert.deepEqual(renderObservedSummary(o), {
      vcpus: { 0: "2-3", 1: "2-3", 2: "10", 3: "11" },
      iothreads: { 1: "1" },
      emulatorCpus: "0-7",
      emulatorMems: "0",
      memoryMiB: { node0: 90.8, node1: 51.29 },
      guestMemoryMiB: { node0: 80, node1: 48 },
      guestPages: { "2048 KiB hugetlb": 128 },
      truncated: false,
    });
  });
});

describe("placement: guest RAM recognition", () => {
  const line = (rest: string, size = 65536, perms = "rw-p") => parseNumaMapsLine(`7f0000000000 default ${rest}`, size, perms)!;
  it("takes hugetlbfs and QEMU/libvirt backend files, not other files", () => {
    assert.deepEqual([
      "file=/dev/hugepages/libvirt/qemu/1-g/qemu_back_mem._objects_ram-node0.abc\\040(deleted) huge anon=1 N0=1 kernelpagesize_kB=1048576",
      "file=/srv/mem/qemu_back_mem.pc.ram.XyZ\\040(deleted) dirty=1 N1=1 kernelpagesize_kB=4",
      "file=/var/lib/libvirt/qemu/ram/1-g/pc.ram dirty=1 N0=1 kernelpagesize_kB=4",
      "file=/memfd:memory-backend-memfd\\040(deleted) dirty=1 N0=1 kernelpagesize_kB=4",
      "file=/usr/lib/x86_64-linux-gnu/libc.so.6 mapped=1 N0=1 kernelpagesize_kB=4",
      "file=/memfd:other\\040(deleted) dirty=1 N0=1 kernelpagesize_kB=4",
    ].map((l) => isGuestRamMapping(line(l))), [true, true, true, true, false, false]);
    assert.equal(line("file=/a\\040b huge N0=1").file, "/a b");
    assert.equal(line("huge N0=1").pageSizeKiB, 2048, "kernels before 4.0 print no kernelpagesize_kB");
  });
  it("fills the guest's size with the largest anonymous rw-p mappings (one per guest NUMA cell)", () => {
    const maps = [
      line("anon=1 N0=1", 65536), line("anon=1 N1=1", 65536), line("anon=1 N0=1", 16384), line("anon=1 N0=1", 200000, "rwxp"),
      line("heap anon=1 N0=1", 300000), line("anon=1 N0=1", 4), parseNumaMapsLine("7f00 default anon=1 N0=1")!,
    ];
    assert.deepEqual(selectGuestRam(maps, 128), [maps[0], maps[1]]);
    assert.deepEqual(selectGuestRam(maps, 144), [maps[0], maps[1], maps[2]]);
    assert.deepEqual(selectGuestRam(maps), [], "no size: only anonymous mappings over 64 MiB");
  });
});

describe("placement: truncated and missing output", () => {
  const ok = "P 7\nC none\nT 7 0 0 0 - sleep\n";
  it("flags a cap (X) and a missing end line", () => {
    assert.equal(parseObservedPlacement(`${ok}E\n`).truncated, false);
    assert.equal(parseObservedPlacement(`${ok}X numa_maps\nE\n`).truncated, true);
    assert.equal(parseObservedPlacement(ok).truncated, true);
  });
  it("throws when the process was not there", () => {
    assert.throws(() => parseObservedPlacement("P -\nE\n"), /QEMU process was not found/);
    assert.throws(() => parseObservedPlacement(""), /QEMU process was not found/);
  });
});

/** One hugetlb mapping of `hugeMiB` on node0 plus 4 KiB anonymous ones, as the script prints them. */
function syntheticGuest(hugeMiB: number, anon: { sizeMiB: number; n0: number; n1: number }[]): string {
  const lines = ["P 9", "C none", "T 9 0 0-3 0-1 - qemu-system-x86"];
  if (hugeMiB) lines.push(`M ${hugeMiB * 1024} rw-p 7f0000000000 default file=/dev/hugepages/qemu_back_mem.x\\040(deleted) huge anon=${hugeMiB / 2} N0=${hugeMiB / 2} kernelpagesize_kB=2048`);
  anon.forEach((a, i) => lines.push(`M ${a.sizeMiB * 1024} rw-p 7f10${i}0000000 default anon=${(a.n0 + a.n1) * 256} N0=${a.n0 * 256} N1=${a.n1 * 256} kernelpagesize_kB=4`));
  return [...lines, "E", ""].join("\n");
}

describe("diffPlacement", () => {
  const o = parseFixture("hugetlb-2node.txt", 128);
  const diff = (d: Partial<OwnedParts>, obs: ObservedPlacement = o, memoryMiB?: number) => diffPlacement(d, obs, { memoryMiB });

  it("compares thread affinities with the pins as cpusets, not strings", () => {
    assert.deepEqual(diff({
      cputune: {
        vcpupin: [{ vcpu: 0, cpuset: "2-3" }, { vcpu: 1, cpuset: "3,2" }, { vcpu: 2, cpuset: "11" }, { vcpu: 3, cpuset: "11" }, { vcpu: 9, cpuset: "1" }],
        emulatorpin: { cpuset: "0-3" },
        iothreadpin: [{ iothread: 1, cpuset: "0-1,^0,4" }],
      },
    }), [
      "placement.vcpu[2]: thread allowed on CPUs 10, pinned to 11",
      "placement.emulator: allowed on CPUs 0-7, pinned to 0-3",
      "placement.iothread[1]: thread allowed on CPUs 1, pinned to 1,4",
    ]);
  });

  it("falls back to <vcpu cpuset> only for owned pin lists", () => {
    const vcpu = { count: 4, cpuset: "0-7" };
    assert.deepEqual(diff({ vcpu, cputune: { vcpupin: [{ vcpu: 0, cpuset: "2-3" }] } }), [
      "placement.vcpu[1]: thread allowed on CPUs 2-3, vcpu cpuset 0-7",
      "placement.vcpu[2]: thread allowed on CPUs 10, vcpu cpuset 0-7",
      "placement.vcpu[3]: thread allowed on CPUs 11, vcpu cpuset 0-7",
    ]);
    assert.deepEqual(diff({ vcpu: { count: 4, cpuset: "0-1,10-11" }, cputune: null }), [
      "placement.vcpu[0]: thread allowed on CPUs 2-3, vcpu cpuset 0-1,10-11",
      "placement.vcpu[1]: thread allowed on CPUs 2-3, vcpu cpuset 0-1,10-11",
      "placement.vcpu[2]: thread allowed on CPUs 10, vcpu cpuset 0-1,10-11",
      "placement.vcpu[3]: thread allowed on CPUs 11, vcpu cpuset 0-1,10-11",
      "placement.emulator: allowed on CPUs 0-7, vcpu cpuset 0-1,10-11",
      "placement.iothread[1]: thread allowed on CPUs 1, vcpu cpuset 0-1,10-11",
    ]);
    assert.deepEqual(diff({ vcpu: { count: 4, cpuset: "0-7" }, cputune: { vcpupin: [], emulatorpin: null } }).at(-1),
      "placement.vcpu[3]: thread allowed on CPUs 11, vcpu cpuset 0-7", "emulator 0-7 matches; iothread pins not owned");
    assert.deepEqual(diff({ vcpu }), [], "pins not owned: nothing to compare");
    assert.deepEqual(diff({ vcpu: { ...vcpu, placement: "auto" }, cputune: null }), [], "numad decides");
  });

  it("reports guest memory outside bound nodesets, with the mode named", () => {
    const strict = { memory: { mode: "strict" as const, nodeset: "0" } };
    assert.deepEqual(diff({ numatune: strict }), ["placement.memory: 48 MiB on node1, outside strict nodeset 0"]);
    assert.deepEqual(diff({ numatune: { memory: { nodeset: "0" } } }), ["placement.memory: 48 MiB on node1, outside strict nodeset 0"]);
    assert.deepEqual(diff({ numatune: { memory: { mode: "interleave", nodeset: "1" } } }), ["placement.memory: 80 MiB on node0, outside interleave nodeset 1"]);
    assert.deepEqual(diff({ numatune: { memory: { mode: "restrictive", nodeset: "0" } } }), ["placement.memory: 48 MiB on node1, outside restrictive nodeset 0"]);
    assert.deepEqual(diff({ numatune: { memnode: [{ cellid: 0, mode: "strict", nodeset: "0" }] } }), ["placement.memory: 48 MiB on node1, outside memnode nodesets 0"]);
    assert.deepEqual(diff({ numatune: { ...strict, memnode: [{ cellid: 1, mode: "strict", nodeset: "0" }] } }), ["placement.memory: 48 MiB on node1, outside numatune nodesets 0"]);
    assert.deepEqual(diff({ numatune: { memory: { nodeset: "0-1" } } }), []);
    assert.deepEqual(diff({ numatune: { memory: { mode: "preferred", nodeset: "0" } } }), [], "preferred may spill");
    assert.deepEqual(diff({ numatune: { memory: { placement: "auto" } } }), [], "numad decides");
    assert.deepEqual(diff({ numatune: null }), []);
  });

  it(`ignores less than ${MEMORY_TOLERANCE_MIB} MiB on a node`, () => {
    const small = parseObservedPlacement(syntheticGuest(0, [{ sizeMiB: 128, n0: 20, n1: 1.5 }]), { memoryMiB: 128 });
    assert.deepEqual(diff({ numatune: { memory: { nodeset: "0" } } }, small), []);
    const two = parseObservedPlacement(syntheticGuest(0, [{ sizeMiB: 128, n0: 20, n1: 2 }]), { memoryMiB: 128 });
    assert.deepEqual(diff({ numatune: { memory: { nodeset: "0" } } }, two), ["placement.memory: 2 MiB on node1, outside strict nodeset 0"]);
  });

  it("reports guest RAM in the wrong page size", () => {
    assert.deepEqual(diff({ memoryBacking: { hugepages: [{ size: 2048 }] } }), []);
    assert.deepEqual(diff({ memoryBacking: { hugepages: [{ size: 2, unit: "M" }] } }), []);
    assert.deepEqual(diff({ memoryBacking: { hugepages: [] } }), []);
    assert.deepEqual(diff({ memoryBacking: { hugepages: [{ size: 1, unit: "G" }] } }, o, 128), [
      "placement.hugepages: 128 MiB of 128 MiB guest memory is in 2048 KiB pages, 1048576 KiB pages wanted",
    ]);
    assert.deepEqual(diff({ memoryBacking: { hugepages: null } }, o, 128), [
      "placement.hugepages: 128 MiB of 128 MiB guest memory is in 2048 KiB pages, no huge pages wanted",
    ]);
    // 24 MiB hugetlb + 40 MiB of 4 KiB pages; the 64 MiB arena-sized mapping is not guest RAM.
    const mixed = parseObservedPlacement(syntheticGuest(24, [{ sizeMiB: 40, n0: 3, n1: 0 }, { sizeMiB: 64, n0: 1, n1: 0 }]), { memoryMiB: 64 });
    assert.deepEqual(diff({ memoryBacking: { hugepages: [{ size: 2048, unit: "KiB" }] } }, mixed, 64), [
      "placement.hugepages: 40 MiB of 64 MiB guest memory is in 4 KiB pages, 2048 KiB pages wanted",
    ]);
    assert.deepEqual(diff({ memoryBacking: { hugepages: [] } }, parseFixture("tcg-2vcpu.txt", 64), 64), [
      "placement.hugepages: 64 MiB of 64 MiB guest memory is in 4 KiB pages, huge pages wanted",
    ]);
  });

  it("lists CPUs, then memory nodes, then page sizes", () => {
    assert.deepEqual(diff({
      cputune: { emulatorpin: { cpuset: "0" } },
      numatune: { memory: { nodeset: "1" } },
      memoryBacking: { hugepages: [{ size: 1048576 }, { size: 1048576, nodeset: "1" }] },
    }), [
      "placement.emulator: allowed on CPUs 0-7, pinned to 0",
      "placement.memory: 80 MiB on node0, outside strict nodeset 1",
      "placement.hugepages: 128 MiB of 128 MiB guest memory is in 2048 KiB pages, 1048576 KiB pages wanted",
    ]);
  });
});

describe("PLACEMENT_SCRIPT on this machine", function () {
  const shells: [string, string[]][] = [["dash", ["sh"]]];
  if (existsSync("/bin/busybox") || existsSync("/usr/bin/busybox")) shells.push(["busybox ash", ["busybox", "sh"]]);
  // The command name is the symlink's: spaces, parentheses, a newline, a tab, a percent sign, UTF-8.
  const name = "x) y\n(z%\té";
  let dir = "";
  let child: ReturnType<typeof spawn> | undefined;
  let pid = "";

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "kvmtune-placement-"));
    symlinkSync(spawnSync("sh", ["-c", "command -v sleep"], { encoding: "utf8" }).stdout.trim(), join(dir, name));
    child = spawn(pdeathsigPrefix[0], [...pdeathsigPrefix.slice(1), join(dir, name), "30"], { stdio: "ignore" });
    track(child, "placement sleep", () => rmSync(dir, { recursive: true, force: true }));
    pid = String(child.pid);
    for (let i = 0; i < 100 && readFileSync(`/proc/${pid}/comm`, "utf8") !== `${name}\n`; i++) await new Promise((r) => setTimeout(r, 20));
  });
  after(async () => {
    if (child) await stopProcess(child);
  });

  for (const [label, shell] of shells) {
    it(`reads a one-thread process under ${label}`, () => {
      const o = parseObservedPlacement(runScript(shell, pid));
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const allowed = /Cpus_allowed_list:\s*(\S+)/.exec(status)?.[1];
      assert.equal(o.pid, Number(pid));
      assert.equal(o.threads.length, 1);
      assert.deepEqual({ ...o.threads[0], lastCpu: 0, cgroup: undefined }, {
        tid: Number(pid), comm: name, allowedCpus: allowed, lastCpu: 0, allowedMems: /Mems_allowed_list:\s*(\S+)/.exec(status)?.[1], cgroup: undefined,
      });
      assert.ok(o.threads[0].lastCpu >= 0);
      assert.deepEqual([o.vcpus, o.iothreads], [[], []]);
      assert.equal(o.emulator.allowedCpus, allowed);
      assert.equal(o.truncated, false);
      if (existsSync(`/proc/${pid}/numa_maps`)) assert.ok(o.memory.length > 0);
    });

    it(`never evaluates $pid, and caps numa_maps, under ${label}`, () => {
      assert.equal(runScript(shell, "'$(echo 1)'"), "P -\nE\n");
      assert.equal(runScript(shell, "999999999"), "P -\nE\n");
      const capped = runScript(shell, pid, PLACEMENT_SCRIPT.replace("maxm=4000", "maxm=3"));
      assert.equal(capped.split("\n").filter((l) => l.startsWith("M ")).length, 3);
      assert.match(capped, /\nX numa_maps\nE\n$/);
      assert.equal(parseObservedPlacement(capped).truncated, true);
    });
  }
});
