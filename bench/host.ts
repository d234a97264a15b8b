// Host tuning benchmark: prints figures, asserts nothing.
//   npm run bench:host [-- --hosts 2]
// Boots N real-kernel VMs (256 MiB each), then per host, in parallel: a first
// apply, a no-op apply, a read, and a restore; prints wall times and the SSH
// connections and remote commands each operation used per host.
import { applyHostTuning, readHostTuning, restoreHostTuning } from "../provider/host/tuning";
import { resetTransportCounts, transportCounts } from "../provider/transport";
import { stopAllProcesses } from "../test/support/processes";
import { startTestVm, type TestVm } from "../test/support/vm";

const SETTINGS: Record<string, string> = {
  "thp:enabled": "madvise",
  "thp:defrag": "never",
  "sysctl:vm.swappiness": "10",
  "sysctl:vm.dirty_ratio": "10",
  "sysctl:net.ipv4.conf.all.arp_filter": "1",
  "module:vhost_net": "loaded",
  "block:vda:read_ahead_kb": "1024",
  "block:vdb:scheduler": "mq-deadline",
  "hugepages:2M:node0": "8",
  "hugepages:2M:node1": "8",
  "cmdline:isolcpus": "2-3",
};

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

async function measure(label: string, vms: TestVm[], op: (vm: TestVm) => Promise<unknown>): Promise<void> {
  resetTransportCounts();
  const t0 = performance.now();
  await Promise.all(vms.map(op));
  const ms = performance.now() - t0;
  const per = vms.map((vm) => transportCounts(`${vm.host}:${vm.port}`));
  const same = per.every((c) => c.connections === per[0].connections && c.commands === per[0].commands);
  const counts = same ? `${per[0].connections} connection(s), ${per[0].commands} command(s) per host` : per.map((c) => `${c.connections}/${c.commands}`).join(" ");
  console.log(`${label.padEnd(28)} ${ms.toFixed(0).padStart(6)} ms wall for ${vms.length} host(s); ${counts}`);
}

async function main(): Promise<void> {
  const n = arg("hosts", 2);
  console.log(`kvmtune host benchmark (${new Date().toISOString()}): ${Object.keys(SETTINGS).length} settings per host`);
  const vms: TestVm[] = [];
  try {
    for (let i = 0; i < n; i++) vms.push(await startTestVm({ name: `bench-${i}` }));
    console.log(`booted ${n} VM(s): ${vms.map((v) => `${(v.bootMs / 1000).toFixed(1)} s`).join(", ")}`);
    const conn = (vm: TestVm) => ({ host: vm.host, port: vm.port, privateKey: vm.privateKey, hostKey: vm.hostKey });
    const originals = new Map<TestVm, Record<string, string | null>>();
    for (const size of n === 1 ? [1] : [1, n]) {
      const hosts = vms.slice(0, size);
      console.log(`\n## ${hosts.length} host(s) in parallel`);
      await measure("apply (first)", hosts, async (vm) => {
        const r = await applyHostTuning(conn(vm), { settings: SETTINGS, tag: "bench", allowManagementInterface: false, originals: {}, previousKeys: [] });
        originals.set(vm, r.originals);
      });
      await measure("apply (no change)", hosts, (vm) => applyHostTuning(conn(vm), { settings: SETTINGS, tag: "bench", allowManagementInterface: false, originals: originals.get(vm)!, previousKeys: Object.keys(SETTINGS) }));
      await measure("read (refresh)", hosts, (vm) => readHostTuning(conn(vm), Object.keys(SETTINGS), "bench"));
      await measure("restore (destroy)", hosts, (vm) => restoreHostTuning(conn(vm), originals.get(vm)!, "bench"));
    }
  } finally {
    await Promise.all(vms.map((v) => v.stop()));
    await stopAllProcesses();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
