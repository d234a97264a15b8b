// Transport benchmark: prints figures, asserts nothing.
//   npm run bench:transport [-- --commands 200 --connections 20]
// Targets: a real sshd on loopback (login shell = this machine's root shell and
// its rc files) and a real-kernel test VM (busybox sh, TCG, so slower).
import { readHostFacts } from "../provider/host/read-facts";
import { openSession, resetTransportCounts, transportCounts } from "../provider/transport";
import { startLocalSshd } from "../test/support/sshd";
import { startTestVm } from "../test/support/vm";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

function stats(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const pct = (p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))].toFixed(2);
  const mean = (s.reduce((a, b) => a + b, 0) / s.length).toFixed(2);
  return `n=${s.length} mean=${mean} p50=${pct(50)} p90=${pct(90)} max=${s[s.length - 1].toFixed(2)} ms`;
}

interface Target {
  label: string;
  connection: Record<string, unknown>;
}

async function measure(t: Target, commands: number, connections: number): Promise<void> {
  console.log(`\n## ${t.label}`);
  const setup: number[] = [];
  for (let i = 0; i < connections; i++) {
    const t0 = performance.now();
    const s = await openSession(t.connection);
    setup.push(performance.now() - t0);
    s.close();
  }
  console.log(`connection set-up (handshake + auth): ${stats(setup)}`);

  const session = await openSession(t.connection);
  await session.run("true"); // warm
  const per: number[] = [];
  for (let i = 0; i < commands; i++) {
    const t0 = performance.now();
    await session.run("true");
    per.push(performance.now() - t0);
  }
  session.close();
  console.log(`per-command latency on one connection: ${stats(per)}`);

  resetTransportCounts();
  const t0 = performance.now();
  const facts = await readHostFacts(t.connection);
  const ms = performance.now() - t0;
  const target = `${t.connection.host}:${t.connection.port}`;
  const c = transportCounts(target);
  console.log(`readHostFacts: ${ms.toFixed(1)} ms, ${c.connections} connection(s), ${c.commands} remote command(s) (goal 1 and 1); saw ${facts.cpus.length} CPUs, ${facts.numaNodes.length} NUMA node(s), ${facts.blockDevices.length} block device(s)`);
}

async function main(): Promise<void> {
  const commands = arg("commands", 200);
  const connections = arg("connections", 20);
  console.log(`kvmtune transport benchmark (${new Date().toISOString()}), node ${process.version}`);
  const sshd = await startLocalSshd();
  try {
    await measure({ label: "loopback sshd (root login shell runs its rc files)", connection: { host: sshd.host, port: sshd.port, user: sshd.user, privateKey: sshd.privateKey, hostKey: sshd.hostKey } }, commands, connections);
  } finally {
    await sshd.stop();
  }
  const vm = await startTestVm({ name: "bench" });
  console.log(`\ntest VM booted to sshd in ${vm.bootMs} ms`);
  try {
    await measure({ label: "real-kernel test VM (qemu TCG, busybox sh)", connection: { host: vm.host, port: vm.port, user: "root", privateKey: vm.privateKey, hostKey: vm.hostKey } }, Math.min(commands, 100), Math.min(connections, 10));
  } finally {
    await vm.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
