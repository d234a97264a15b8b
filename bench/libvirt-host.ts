// libvirt on a whole host benchmark: prints figures, asserts nothing.
//   npm run bench:libvirt [-- --json]
// Boots the Debian test host (8 vCPUs, 2 NUMA nodes, libvirtd as a systemd
// service) and times: libvirtd start-up, define and paused start of a
// hugepage-backed TCG guest, and kvmtune's one-command domain read (with
// measured placement) while 1 and 8 such guests run. --json also prints the
// figures as JSON. Times of remote shell steps are taken inside the host, so
// the test harness's own ssh round trip is not in them.
import { buildMinimalDomain } from "../provider/libvirt/domain-builder";
import { PLACEMENT_SCRIPT } from "../provider/libvirt/placement-observed";
import { readDomainState } from "../provider/libvirt/virsh";
import { resetTransportCounts, transportCounts, withSession, type RemoteSession } from "../provider/transport";
import { startDebianHost, type DebianHost } from "../test/support/debian-host";
import { stopAllProcesses } from "../test/support/processes";

const GUESTS = 8;
const POOL_PER_NODE = 160; // 2M pages: 4 guests x 32 pages per node, with room to spare
const START_ROUNDS = 3;
const READ_ROUNDS = 5;
const VIRSH = "virsh -q -c qemu:///system";
const NOW_MS = "$(($(date +%s%N) / 1000000))";

interface Stats {
  median: number;
  min: number;
  max: number;
  samples: number[];
}

function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 10) / 10;
  return { median: r(s[Math.floor(s.length / 2)]), min: r(s[0]), max: r(s[s.length - 1]), samples: samples.map(r) };
}

function row(label: string, s: Stats, note = ""): void {
  const line = `median ${s.median.toFixed(0).padStart(6)} ms (min ${s.min.toFixed(0)}, max ${s.max.toFixed(0)}, n=${s.samples.length})${note ? `; ${note}` : ""}`;
  console.log(`${label.padEnd(50)} ${line}`);
}

/** A session that also records the byte size of each command's stdout. */
function sized(s: RemoteSession, bytes: number[]): RemoteSession {
  return {
    target: s.target,
    close: () => s.close(),
    run: async (script, opts) => {
      const r = await s.run(script, opts);
      bytes.push(Buffer.byteLength(r.stdout));
      return r;
    },
  };
}

function guestXml(name: string, node: number, vcpuCpu: number, nodeCpus: string): string {
  return buildMinimalDomain({ name, memoryMiB: 64, vcpus: 1, type: "qemu" }, {
    memoryBacking: { hugepages: [{ size: 2048, unit: "KiB" }] },
    numatune: { memory: { mode: "strict", nodeset: String(node) } },
    // libvirt 9.0 cannot start a hugepage guest whose emulator CPUs are all outside its memory nodes.
    cputune: { vcpupin: [{ vcpu: 0, cpuset: String(vcpuCpu) }], emulatorpin: { cpuset: nodeCpus } },
  });
}

function expandCpus(list: string): number[] {
  return list.trim().split(",").flatMap((r) => {
    const [a, b] = r.split("-").map(Number);
    return Array.from({ length: (b ?? a) - a + 1 }, (_, i) => a + i);
  });
}

async function main(): Promise<void> {
  const json = process.argv.includes("--json");
  const started = new Date().toISOString();
  console.log(`kvmtune libvirt host benchmark (${started})`);
  let host: DebianHost | undefined;
  const names: string[] = [];
  try {
    host = await startDebianHost({ name: "kvmt-bench-libvirt", cpus: 8 });
    const h = host;
    const conn = h.connection();
    const target = `${conn.host}:${conn.port}`;
    const version = (await h.sh(`${VIRSH} version --daemon | sed -n 's/^Running against daemon: //p'`)).trim();
    const cpulists = (await h.sh("cat /sys/devices/system/node/node0/cpulist /sys/devices/system/node/node1/cpulist")).trim().split("\n");
    console.log(`booted in ${(h.bootMs / 1000).toFixed(1)} s; libvirt ${version}; node0 cpus ${cpulists[0]}, node1 cpus ${cpulists[1]}`);

    // 1. libvirtd start-up, timed inside the host: restart, then poll until virsh answers.
    console.log("\n## libvirtd");
    const startup: number[] = [];
    for (let i = 0; i < 3; i++) {
      const out = await h.sh(`t0=${NOW_MS}; systemctl restart libvirtd; until ${VIRSH} list >/dev/null 2>&1; do sleep 0.02; done; echo $((${NOW_MS} - t0))`);
      startup.push(Number(out.trim()));
    }
    row("restart until `virsh list` answers", stats(startup));

    // 2. Pools first (per node, via sysfs), then define and start each guest; the first 3 are the figures asked for.
    await h.sh(`for n in 0 1; do echo ${POOL_PER_NODE} > /sys/devices/system/node/node$n/hugepages/hugepages-2048kB/nr_hugepages; done`);
    const pools = (await h.sh("cat /sys/devices/system/node/node[01]/hugepages/hugepages-2048kB/nr_hugepages")).trim().split("\n").map(Number);
    console.log(`\n## define + start --paused (64 MiB in 2M pages, strict on one node; pools ${pools.join("/")} pages)`);
    const define: number[] = [];
    const start: number[] = [];
    const oneRead: Record<string, Stats> = {};
    const eightRead: Record<string, Stats> = {};
    const counts: Record<string, string> = {};
    const bytes: Record<string, number> = {};

    const readRounds = async (into: Record<string, Stats>, withAll: boolean) => {
      const connect: number[] = [];
      const command: number[] = [];
      const all: number[] = [];
      const out: number[] = [];
      for (let i = 0; i < READ_ROUNDS; i++) {
        resetTransportCounts();
        let t0 = performance.now();
        const st = await withSession(conn, (s) => readDomainState(sized(s, out), names[0], { placement: true }));
        connect.push(performance.now() - t0);
        const c = transportCounts(target);
        counts[withAll ? "read8" : "read1"] = `${c.connections} connection(s), ${c.commands} command(s) per read`;
        if (!st.observed) throw new Error(`no measured placement for ${names[0]} (state ${st.state})`);
        await withSession(conn, async (s) => {
          t0 = performance.now();
          await readDomainState(s, names[0], { placement: true });
          command.push(performance.now() - t0);
          if (!withAll) return;
          t0 = performance.now();
          for (const n of names) await readDomainState(s, n, { placement: true });
          all.push(performance.now() - t0);
        });
      }
      into.connect = stats(connect);
      into.command = stats(command);
      if (withAll) into.all = stats(all);
      bytes[withAll ? "readOutput8" : "readOutput1"] = out[out.length - 1];
    };

    // Where a read's time goes: the placement step alone and one virsh call, timed inside the host.
    const inHostRounds = async (into: Record<string, Stats>, key: string) => {
      const placement: number[] = [];
      const domstate: number[] = [];
      for (let i = 0; i < READ_ROUNDS; i++) {
        const [ms, size] = (await h.sh(`t0=${NOW_MS}; (pid=$(cat /run/libvirt/qemu/${names[0]}.pid)\n${PLACEMENT_SCRIPT}) >/tmp/bench-placement; echo $((${NOW_MS} - t0)) $(wc -c </tmp/bench-placement)`)).trim().split(" ").map(Number);
        placement.push(ms);
        bytes[key] = size;
        domstate.push(Number((await h.sh(`t0=${NOW_MS}; ${VIRSH} domstate ${names[0]} >/dev/null; echo $((${NOW_MS} - t0))`)).trim()));
      }
      into.placementStep = stats(placement);
      into.virshDomstate = stats(domstate);
    };

    for (let i = 0; i < GUESTS; i++) {
      const node = i % 2;
      const cpus = expandCpus(cpulists[node]);
      const name = `bench-g${i}`;
      await h.sh("cat > /tmp/bench-guest.xml", { input: guestXml(name, node, cpus[Math.floor(i / 2) % cpus.length], cpulists[node]) });
      names.push(name);
      const out = await h.sh(
        `set -e; t0=${NOW_MS}; ${VIRSH} define /tmp/bench-guest.xml >/dev/null; t1=${NOW_MS}; ${VIRSH} start --paused ${name} >/dev/null; t2=${NOW_MS}; echo $((t1 - t0)) $((t2 - t1))`,
        { timeoutMs: 600_000 },
      );
      const [d, s] = out.trim().split(" ").map(Number);
      define.push(d);
      start.push(s);
      if (i === 0) {
        // 3a. Reads with one guest on the host, and the placement step's raw size.
        await readRounds(oneRead, false);
        await inHostRounds(oneRead, "placement1");
        const st = await withSession(conn, (s) => readDomainState(s, name, { placement: true }));
        const mem = st.observed!.guestMemory.map((m) => `${m.mib} MiB on node${m.node} in ${m.pageSizeKiB} KiB pages`).join(", ");
        console.log(`(check: ${name} ${st.state}, vcpu0 on ${st.observed!.vcpus.map((v) => v.allowedCpus).join(",")}, emulator on ${st.observed!.emulator.allowedCpus}, guest RAM ${mem})`);
      }
    }
    row(`virsh define (first ${START_ROUNDS} guests)`, stats(define.slice(0, START_ROUNDS)));
    row(`virsh start --paused (first ${START_ROUNDS} guests)`, stats(start.slice(0, START_ROUNDS)));
    row(`virsh define (all ${GUESTS})`, stats(define));
    row(`virsh start --paused (all ${GUESTS})`, stats(start));

    // 3b. Reads with 8 guests on the host.
    await readRounds(eightRead, true);
    await inHostRounds(eightRead, "placement8");
    console.log(`\n## readDomainState (kvmtune transport, with measured placement)`);
    row("1 guest running: connect + read", oneRead.connect, counts.read1);
    row("1 guest running: read command only", oneRead.command);
    row(`${GUESTS} guests running: connect + read one`, eightRead.connect, counts.read8);
    row(`${GUESTS} guests running: read command only`, eightRead.command);
    row("1 guest running: placement step alone (in host)", oneRead.placementStep);
    row(`${GUESTS} guests running: placement step alone (in host)`, eightRead.placementStep);
    row("1 guest running: one `virsh domstate` (in host)", oneRead.virshDomstate);
    row(`${GUESTS} guests running: one \`virsh domstate\` (in host)`, eightRead.virshDomstate);
    row(`${GUESTS} guests running: read all ${GUESTS}, one session`, eightRead.all!, `${(eightRead.all!.median / GUESTS).toFixed(0)} ms per guest`);
    console.log(`output bytes: placement step ${bytes.placement1} (1 guest) / ${bytes.placement8} (${GUESTS} guests); whole read command ${bytes.readOutput1} / ${bytes.readOutput8}`);

    if (json) {
      console.log(JSON.stringify({
        benchmark: "libvirt-host", started, host: { cpus: 8, numaNodes: 2, bootMs: h.bootMs, libvirt: version, nodeCpus: cpulists, hugepages2MPerNode: pools },
        libvirtdStartupMs: stats(startup),
        defineMs: { first3: stats(define.slice(0, START_ROUNDS)), all: stats(define) },
        startPausedMs: { first3: stats(start.slice(0, START_ROUNDS)), all: stats(start) },
        readMs: { oneGuest: oneRead, eightGuests: eightRead }, readCounts: counts, outputBytes: bytes,
      }, null, 2));
    }
  } finally {
    // Destroy and undefine every bench guest, then stop the VM; a failure here must not hide the first error.
    if (host && names.length) {
      await host.ssh(`for d in ${names.join(" ")}; do ${VIRSH} destroy $d >/dev/null 2>&1; ${VIRSH} undefine $d >/dev/null 2>&1; done; true`, { timeoutMs: 300_000 }).catch((e) => console.error(`cleanup: ${e}`));
    }
    await host?.stop();
    await stopAllProcesses();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
