// libvirt as a real KVM host runs it: libvirtd as a systemd service on a whole
// Debian host, guests in cgroup v2 scopes made by machined, hugepage pools made
// by a TunedHost in the same program. Each step is one `pulumi up` through the
// real engine, checked in the host's own cgroups, thread affinities and
// numa_maps. Guests are TCG and start paused: their memory is allocated and
// placed, no guest code runs. The test host's logins get a German locale
// (virsh's words translated); kvmtune must not care. Set KVMTUNE_TEST_KVM_HOST (see
// test/support/kvm-test-host.ts) to run the same file against a real KVM host.
import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { NumaPinnedGuest, type NumaPinnedGuestArgs } from "../../components/numa-pinned-guest";
import { TunedHost } from "../../components/tuned-host";
import { formatCpuList } from "../../provider/host/sysfs-parse";
import { inlineStack, type EngineStack } from "../support/engine";
import { startKvmTestHost, type KvmTestHost } from "../support/kvm-test-host";

type GuestArgs = Omit<NumaPinnedGuestArgs, "host" | "vcpus" | "memoryMiB"> & { vcpus?: number; memoryMiB?: number };

/** What the host says about one running guest, read with plain shell tools. */
interface HostView {
  pid: number;
  /** cpuset.cpus / cpuset.mems of the scope's libvirt/<child> cgroups. */
  cgroups: Record<string, { cpus: string; mems: string }>;
  /** Cpus_allowed_list per thread name. */
  threads: Record<string, string>;
  /** 2M pages per node of the hugetlbfs-backed guest RAM. */
  hugePagesByNode: Record<string, number>;
  lockedKiB: number;
  state: string;
}

// LC_ALL=C: the test host's logins have a German locale (virsh would say "pausiert").
const VIEW_SCRIPT = (name: string) => `set -e
export LC_ALL=C
p=$(cat /run/libvirt/qemu/${name}.pid)
echo "pid $p"
echo "state $(virsh -c qemu:///system domstate ${name} | head -n 1)"
s=$(sed -n 's/^0:://p' /proc/$p/cgroup); s=\${s%/libvirt/emulator}
for d in "/sys/fs/cgroup$s"/libvirt/*/; do c=\${d%/}; echo "cg \${c##*/} $(cat "$c/cpuset.cpus") $(cat "$c/cpuset.mems")"; done
for t in /proc/$p/task/*; do echo "th $(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' $t/status) $(cat $t/comm)"; done
grep ' huge ' /proc/$p/numa_maps | tr ' ' '\\n' | sed -n 's/^N\\([0-9]*\\)=\\([0-9]*\\)$/hp \\1 \\2/p'
echo "lck $(sed -n 's/^VmLck:[[:space:]]*\\([0-9]*\\) kB/\\1/p' /proc/$p/status)"`;

function parseView(text: string): HostView {
  const v: HostView = { pid: 0, cgroups: {}, threads: {}, hugePagesByNode: {}, lockedKiB: 0, state: "" };
  for (const line of text.split("\n")) {
    const [k, ...rest] = line.split(" ");
    if (k === "pid") v.pid = Number(rest[0]);
    if (k === "state") v.state = rest.join(" ");
    if (k === "cg") v.cgroups[rest[0]] = { cpus: rest[1], mems: rest[2] };
    if (k === "th") v.threads[rest.slice(1).join(" ")] = rest[0];
    if (k === "hp") v.hugePagesByNode[`node${rest[0]}`] = (v.hugePagesByNode[`node${rest[0]}`] ?? 0) + Number(rest[1]);
    if (k === "lck") v.lockedKiB = Number(rest[0]);
  }
  return v;
}


describe("libvirt on a whole host: hugepage-backed guests from TunedHost pools, <locked/>, cgroup pinning, live numatune, restart on request, measured placement (real engine)", function () {
  this.timeout(1_800_000);
  let host: KvmTestHost;
  let engine: EngineStack;
  // The program reads these, so each test sets the guests it wants.
  let guests: Record<string, GuestArgs> = {};
  let pools: [number, number] = [96, 96];

  before(async () => {
    host = await startKvmTestHost({ name: "kvmt-libvirt", cpus: 8 });
    const tcg = host.kind === "debian-vm";
    engine = await inlineStack("kvmtune-libvirt-host", async () => {
      const hv = new TunedHost("hv", { connection: host.connection(), hugepages: { "2M": pools } });
      const out: Record<string, unknown> = {};
      for (const [name, g] of Object.entries(guests)) {
        const guest = new NumaPinnedGuest(name, {
          host: hv, vcpus: 1, memoryMiB: 64, hugepages: "2M", housekeepingCpus: "0", start: "paused",
          ...(tcg ? { domainType: "qemu", cpuMode: "maximum" } : {}), ...g,
        });
        out[name] = pulumi.output({ plan: guest.plan, observed: guest.observed, placementDrift: guest.placementDrift, restartRequired: guest.restartRequired, restartReasons: guest.restartReasons, state: guest.domain.state, svg: guest.placementSvg });
      }
      return out;
    });
  });
  after(async () => {
    guests = {};
    await engine?.run((onOutput) => engine.stack.destroy({ onOutput })).catch(() => undefined);
    await engine?.stack.workspace.removeStack("dev", { force: true }).catch(() => undefined);
    await host?.stop();
  });

  const view = async (name: string) => parseView(await host.sh(VIEW_SCRIPT(name)));
  const up = () => engine.run((onOutput) => engine.stack.up({ onOutput }));
  const clean = () => engine.run((onOutput) => engine.stack.preview({ onOutput, refresh: true, expectNoChanges: true }));

  it("a domain made by hand holds its CPUs: a guest that needs them is refused at preview, naming it", async () => {
    // Shut off, never started: only its <vcpu cpuset> says where it will run.
    await host.sh(`printf '%s' "<domain type='qemu'><name>hand1</name><memory unit='MiB'>64</memory><vcpu placement='static' cpuset='4-7'>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>" > /tmp/hand1.xml && virsh -q -c qemu:///system define /tmp/hand1.xml >/dev/null`);
    if (host.kind === "debian-vm") {
      // From here on every SSH login on the test host gets a German locale (pam_env reads /etc/default/locale):
      // virsh then says "ausgeschaltet" for "shut off". kvmtune's scripts run under LC_ALL=C, so every step
      // of this file (facts, domain reads, placement) works unchanged.
      await host.sh("printf 'LANG=de_DE.UTF-8\\n' > /etc/default/locale");
      assert.equal((await host.sh("env -u LC_ALL virsh -c qemu:///system domstate hand1")).trim(), "ausgeschaltet");
      assert.equal((await host.sh("echo $LANG")).trim(), "de_DE.UTF-8");
    }
    guests = { gx: { nodes: [1] } };
    await assert.rejects(engine.run((onOutput) => engine.stack.preview({ onOutput })));
    assert.match(engine.output(), /needs 1 CPU within one NUMA node; node1 has 0 free \(CPUs 4-7 held by domain hand1, not in this program\)/);
    await host.sh("virsh -q -c qemu:///system undefine hand1 >/dev/null");
    guests = {};
  });

  it("starts a hugepage-backed, locked guest from the per-node pools the TunedHost in the same up creates, pinned in its cgroups", async () => {
    // A fresh host: no pools yet. Planning counts the ones the TunedHost will make.
    assert.equal((await host.sh("cat /sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages")).trim(), "0");
    guests = { g1: { nodes: [1], numaMode: "strict", lockedMemory: true, iothreads: 1, emulatorPolicy: "isolate" } };
    const r = await up();
    // The define-and-start (about 13 s under TCG) says what it does on the domain's own row, not the stack's.
    assert.match(engine.output(), /kvmtune:LibvirtDomain +g1-domain +creating \(\d+s\) +127\.0\.0\.1: write domain \([^)]*start[^)]*\) \(\d+ s\)/, engine.output());
    const g = r.outputs.g1.value;
    const pin = String(g.plan.vcpuPins[0]);
    const emulator = formatCpuList(g.plan.emulatorCpus);
    // On the test host (CPUs 0-3 node0, 4-7 node1, two threads per core) the plan is known exactly.
    if (host.kind === "debian-vm") assert.deepEqual({ nodeset: g.plan.nodeset, pin, emulator }, { nodeset: [1], pin: "4", emulator: "6-7" });
    assert.deepEqual(g.plan.nodeset, [1]);
    assert.equal(g.state, "paused");
    const v = await view("g1");
    // The pins are in force where the kernel enforces them: the cgroups and the threads.
    assert.deepEqual(v.cgroups, {
      emulator: { cpus: emulator, mems: "1" },
      iothread1: { cpus: emulator, mems: "1" },
      vcpu0: { cpus: pin, mems: "1" },
    });
    const vcpuThread = Object.keys(v.threads).find((t) => /^CPU 0\//.test(t))!;
    assert.equal(v.threads[vcpuThread], pin);
    assert.equal(v.threads["IO iothread1"], emulator);
    // All 64 MiB in 2M pages of node 1, locked.
    assert.deepEqual(v.hugePagesByNode, { node1: 32 });
    assert.ok(v.lockedKiB >= 65536, `VmLck ${v.lockedKiB} kB`);
    // Measured placement agrees with the plan, and nothing drifted.
    assert.deepEqual(g.placementDrift, []);
    const o = g.observed;
    assert.deepEqual({ vcpus: o.vcpus, iothreads: o.iothreads, emulatorCpus: o.emulatorCpus, emulatorMems: o.emulatorMems, guestMemoryMiB: o.guestMemoryMiB, guestPages: o.guestPages },
      { vcpus: { 0: pin }, iothreads: { 1: emulator }, emulatorCpus: emulator, emulatorMems: "1", guestMemoryMiB: { node1: 64 }, guestPages: { "2048 KiB hugetlb": 64 } });
    process.stderr.write(`[libvirt-host] g1 observed: ${JSON.stringify(o)}\n`);
    // The placement map draws the measurement beside the plan.
    assert.ok(g.svg.includes("observed: as planned") && g.svg.includes("g1: 64 MiB observed (2M pages)"), g.svg);
    await clean();
  });

  it("moves a restrictive guest's memory and pins to another node live (same QEMU process)", async () => {
    guests = { g2: { nodes: [0], numaMode: "restrictive" } };
    await up();
    const before = await view("g2");
    assert.deepEqual(before.hugePagesByNode, { node0: 32 });
    guests = { g2: { nodes: [1], numaMode: "restrictive" } };
    const r = await up();
    assert.equal(r.outputs.g2.value.restartRequired, false);
    const after = await view("g2");
    assert.equal(after.pid, before.pid, "the guest was not restarted");
    assert.deepEqual(after.hugePagesByNode, { node1: 32 });
    assert.equal(after.cgroups.vcpu0.mems, "1");
    await clean();
  });

  it("refresh names memory someone moved by hand (cpuset.mems), and up moves it back", async () => {
    guests = { g2: { nodes: [1], numaMode: "restrictive" } };
    const p = (await view("g2")).pid;
    await host.sh(`s=$(sed -n 's/^0:://p' /proc/${p}/cgroup); s=\${s%/libvirt/emulator}; for c in "/sys/fs/cgroup$s"/libvirt/*/; do echo 0 > "$c/cpuset.mems"; done`);
    assert.deepEqual((await view("g2")).hugePagesByNode, { node0: 32 });
    await assert.rejects(engine.run((onOutput) => engine.stack.preview({ onOutput, refresh: true, expectNoChanges: true, diff: true })));
    assert.ok(engine.output().includes("placement.memory: 64 MiB on node0, outside restrictive nodeset 1"), engine.output());
    // The drift check's fix: up --refresh sees the drift and moves the memory back, live.
    await engine.run((onOutput) => engine.stack.up({ onOutput, refresh: true }));
    assert.deepEqual((await view("g2")).hugePagesByNode, { node1: 32 });
    await clean();
  });

  it("a strict nodeset change waits for a restart unless the guest opts into one; then it restarts, paused again, on the new node", async () => {
    guests = { g3: { nodes: [0], numaMode: "strict" } };
    await up();
    const first = await view("g3");
    assert.deepEqual(first.hugePagesByNode, { node0: 32 });
    guests = { g3: { nodes: [1], numaMode: "strict" } };
    let r = await up();
    assert.equal(r.outputs.g3.value.restartRequired, true);
    assert.ok(r.outputs.g3.value.restartReasons.includes("numatune.memory.nodeset: 0 → 1"), JSON.stringify(r.outputs.g3.value.restartReasons));
    assert.equal((await view("g3")).pid, first.pid);

    guests = { g3: { nodes: [1], numaMode: "strict", restart: "when-required", shutdownTimeoutSeconds: 5 } };
    r = await up();
    assert.equal(r.outputs.g3.value.restartRequired, false);
    const after = await view("g3");
    assert.notEqual(after.pid, first.pid);
    assert.equal(after.state, "paused");
    assert.deepEqual(after.hugePagesByNode, { node1: 32 });
    await clean();
  });

  it("a two-cell hugepage guest with an isolated emulator starts on libvirt 9.0: the emulator gets a core on each node", async () => {
    guests = { g5: { vcpus: 2, memoryMiB: 128, guestNumaCells: 2, numaMode: "strict", emulatorPolicy: "isolate" } };
    const r = await up();
    const g = r.outputs.g5.value;
    assert.deepEqual(g.plan.nodeset, [0, 1]);
    // QEMU preallocates each cell's pages from a thread bound to that node, inside the emulator's cpuset.
    const virshVersion = (await host.sh("virsh --version")).trim();
    if (/^([0-8]\.|9\.[0-2]\.)/.test(virshVersion)) {
      const nodesOf = (cpus: number[]) => new Set(cpus.map((c) => (c < 4 ? 0 : 1)));
      if (host.kind === "debian-vm") assert.deepEqual([...nodesOf(g.plan.emulatorCpus)], [0, 1], `libvirt ${virshVersion}: ${g.plan.emulatorCpus}`);
    }
    const v = await view("g5");
    assert.equal(v.state, "paused");
    assert.deepEqual(v.hugePagesByNode, { node0: 32, node1: 32 });
    await clean();
  });

  it("a preferred guest spans two nodes (libvirt 9.0 starts it), and libvirt places no cell of a restrictive one per node", async () => {
    // One up replaces g5 with g6: the engine creates g6 before it deletes g5, which still holds the CPUs g6 gets.
    // The planner lets it (g5 is this stack's own domain, says the host's journal); the pools hold both guests' pages.
    guests = { g6: { vcpus: 2, memoryMiB: 128, guestNumaCells: 2, numaMode: "preferred" } };
    const r = await up();
    assert.deepEqual(r.outputs.g6.value.plan.nodeset, [0, 1]);
    const v = await view("g6");
    assert.equal(v.state, "paused");
    assert.deepEqual(v.hugePagesByNode, { node0: 32, node1: 32 });
    await clean();
    guests = {};
    await up();
    // What kvmtune refuses to plan, shown by hand: restrictive memnodes give QEMU no per-cell binding.
    const cells = "<cell id='0' cpus='0' memory='64' unit='MiB'/><cell id='1' cpus='1' memory='64' unit='MiB'/>";
    const tune = "<memory mode='restrictive' nodeset='0-1'/><memnode cellid='0' mode='restrictive' nodeset='0'/><memnode cellid='1' mode='restrictive' nodeset='1'/>";
    const xml = `<domain type='qemu'><name>hand2</name><memory unit='MiB'>128</memory><memoryBacking><hugepages><page size='2048' unit='KiB'/></hugepages></memoryBacking><vcpu placement='static'>2</vcpu><cputune><vcpupin vcpu='0' cpuset='1'/><vcpupin vcpu='1' cpuset='5'/><emulatorpin cpuset='1'/></cputune><numatune>${tune}</numatune><os><type arch='x86_64'>hvm</type></os><cpu mode='maximum'><numa>${cells}</numa></cpu></domain>`;
    await host.sh(`printf '%s' "${xml}" > /tmp/hand2.xml && virsh -q -c qemu:///system define /tmp/hand2.xml >/dev/null && virsh -q -c qemu:///system start --paused hand2 >/dev/null`);
    try {
      // Cell 1 asks for node1, but QEMU allocates it where the emulator runs (node0): the cgroup allows both.
      assert.deepEqual((await view("hand2")).hugePagesByNode, { node0: 64 });
    } finally {
      await host.sh("virsh -q -c qemu:///system destroy hand2 >/dev/null; virsh -q -c qemu:///system undefine hand2 >/dev/null");
    }
  });

  it("destroy leaves the host with no guests, no pools and no journal", async () => {
    guests = {};
    await engine.run((onOutput) => engine.stack.destroy({ onOutput }));
    assert.equal((await host.sh("export LC_ALL=C; virsh -q -c qemu:///system list --all --name; cat /sys/devices/system/node/node*/hugepages/hugepages-2048kB/nr_hugepages; ls /var/lib/kvmtune 2>&1 || true")).replace(/\s+/g, " ").trim(), "0 0 ls: cannot access '/var/lib/kvmtune': No such file or directory");
  });
});

