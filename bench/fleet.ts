// Fleet benchmark, kvmtune beside Ansible: prints figures, asserts nothing about them.
//   npm run bench:fleet [-- --hosts 1,5,20 --reps 3 --json bench/results/fleet.json]
// N namespace hosts (test/support/ns-host.ts: sshd in their own mount/net/PID
// namespaces, reached over loopback) get the same per-netns sysctls and NIC MTU
// from kvmtune (one TunedHost each, real engine, local backend) and from Debian's
// Ansible, stock and tuned. Every tool and repetition starts on fresh hosts; each
// operation is timed and counted (SSH logins and sessions in each host's sshd log).
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { NsHost } from "../test/support/ns-host";
import { pulumiBinDir } from "../test/support/engine";
import { makeRunDir, rmTree, stopAllProcesses } from "../test/support/processes";
import { runAnsible, writeAnsibleProject, type AnsibleRun, type AnsibleVariant } from "./fleet-ansible";
import { assertTuned, injectDrift, measure, startFleet, stopFleet, undoDrift } from "./fleet-hosts";
import { kvmtuneFleet } from "./fleet-kvmtune";
import { legend, medians, table, type OpId, type Sample, type Tool } from "./fleet-report";
import { startResourceSampler } from "./fleet-resources";
import { DRIFT, MTU, NIC, SYSCTLS } from "./fleet-tuning";

const TOOLS: Tool[] = ["kvmtune", "ansible-default", "ansible-tuned"];

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

async function runKvmtune(hosts: NsHost[], record: (op: OpId, m: ReturnType<typeof measure>) => Promise<void>): Promise<void> {
  const fleet = await kvmtuneFleet(hosts);
  try {
    await record("apply", measure(hosts, () => fleet.up()));
    if (hosts.length) await assertTuned(hosts, "kvmtune up");
    await record("noop", measure(hosts, () => fleet.noopUp()));
    await record("noop-refresh", measure(hosts, () => fleet.noopUpRefresh()));
    await injectDrift(hosts);
    await record("drift", measure(hosts, () => fleet.driftCheck()));
    await undoDrift(hosts);
    await record("refresh", measure(hosts, () => fleet.refresh()));
  } finally {
    await fleet.close();
  }
}

async function runAnsibleVariant(variant: AnsibleVariant, hosts: NsHost[], record: (op: OpId, m: ReturnType<typeof measure>) => Promise<void>): Promise<void> {
  const dir = makeRunDir("fleet-ansible");
  try {
    writeAnsibleProject(dir, variant, hosts.map((h) => ({ name: h.name, port: h.port, hostKey: h.hostKey, clientKeyPath: h.clientKeyPath })));
    // changed: what every host must report (exactly, or at least with "min")
    const play = (op: OpId, extra: string[], changed: number | "min1") =>
      record(op, measure(hosts, async () => expectRecap(variant, op, hosts, await runAnsible(dir, op, extra), changed)));
    await play("apply", [], "min1");
    await assertTuned(hosts, `${variant} apply`);
    await play("noop", [], 0);
    await injectDrift(hosts);
    await play("drift", ["--check", "--diff"], "min1");
    await undoDrift(hosts);
    await play("refresh", ["--check", "--diff"], 0);
  } finally {
    rmTree(dir);
  }
}

function expectRecap(variant: string, op: string, hosts: NsHost[], run: AnsibleRun, changed: number | "min1"): void {
  const bad = hosts.filter((h) => {
    const r = run.recap.get(h.name);
    if (!r || r.failed || r.unreachable) return true;
    return changed === "min1" ? r.changed < 1 : r.changed !== changed;
  });
  if (run.code !== 0 || bad.length) {
    throw new Error(`${variant} ${op}: exit ${run.code}, unexpected recap for ${bad.map((h) => h.name).join(", ") || "(none)"}\n${run.output.slice(-3000)}`);
  }
}

function versions(): Record<string, string> {
  const first = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { encoding: "utf8" }).split("\n")[0].trim();
    } catch (e) {
      return `unavailable: ${(e as Error).message.split("\n")[0]}`;
    }
  };
  return {
    node: process.version,
    pulumi: first(path.join(pulumiBinDir(), "pulumi"), ["version"]),
    ansible: first("ansible-playbook", ["--version"]),
    kernel: os.release(),
  };
}

async function main(): Promise<void> {
  const ns = arg("hosts", "1,5,20").split(",").map(Number);
  const reps = Number(arg("reps", "3"));
  const tools = arg("tools", TOOLS.join(",")).split(",") as Tool[];
  const floor = !process.argv.includes("--no-floor");
  const jsonPath = path.resolve(arg("json", path.join(__dirname, "results", "fleet.json")));
  if (ns.some((n) => !Number.isInteger(n) || n < 1) || !(reps >= 1) || tools.some((t) => !TOOLS.includes(t))) {
    throw new Error(`usage: bench:fleet [-- --hosts 1,5,20 --reps 3 --tools ${TOOLS.join(",")} --json FILE --no-floor]`);
  }
  const started = new Date();
  const ver = versions();
  console.log(`kvmtune fleet benchmark (${started.toISOString()}): ${os.cpus().length} CPUs, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, kernel ${ver.kernel}, node ${ver.node}, pulumi ${ver.pulumi}, ${ver.ansible}`);
  console.log(`per host: ${Object.entries(SYSCTLS).map(([k, v]) => `${k}=${v}`).join(", ")}, ${NIC} mtu ${MTU}; drift: ${DRIFT.key} ${DRIFT.wanted} -> ${DRIFT.drifted} by hand on every host`);
  console.log(`hosts ${ns.join(",")}, ${reps} rep(s), tools ${tools.join(", ")}`);

  const samples: Sample[] = [];
  const sampler = startResourceSampler();
  const write = () => {
    fs.mkdirSync(path.dirname(jsonPath), { recursive: true });
    const doc = {
      benchmark: "bench:fleet", date: started.toISOString(), finished: new Date().toISOString(),
      machine: { cpus: os.cpus().length, memGiB: Math.round(os.totalmem() / 2 ** 30), ...ver },
      tuning: { sysctl: SYSCTLS, mtu: { [NIC]: MTU }, drift: DRIFT },
      hosts: ns, reps, tools, medians: medians(samples), resources: sampler.report(), samples,
    };
    fs.writeFileSync(jsonPath, JSON.stringify(doc, null, 2) + "\n");
  };
  try {
    for (const n of ns) {
      sampler.phase(`N=${n}`);
      for (let rep = 1; rep <= reps; rep++) {
        if (floor && n === ns[0]) {
          sampler.phase("floor");
          await runKvmtune([], (op, m) => m.then((r) => void samples.push({ ...r, n: 0, op, tool: "engine-floor", rep })));
          sampler.phase(`N=${n}`);
        }
        for (const tool of tools) {
          const hosts = await startFleet(n, "h");
          const record = async (op: OpId, m: ReturnType<typeof measure>) => {
            const r = await m;
            samples.push({ ...r, n, op, tool, rep });
            console.log(`  N=${n} rep ${rep} ${tool.padEnd(15)} ${op.padEnd(12)} ${(r.ms / 1000).toFixed(2).padStart(7)} s  ${r.connsPerHost.toFixed(1)} conn/host  ${r.cmdsPerHost.toFixed(1)} cmd/host`);
          };
          try {
            if (tool === "kvmtune") await runKvmtune(hosts, record);
            else await runAnsibleVariant(tool as AnsibleVariant, hosts, record);
          } finally {
            await stopFleet(hosts);
          }
          write();
        }
      }
    }
  } finally {
    sampler.stop();
    write();
  }
  console.log(`\nmedian of ${reps} per operation, N and tool (conns = SSH logins, cmds = SSH sessions, per host):\n`);
  console.log(table(medians(samples)));
  console.log(`\n${legend()}\n  engine-floor: the same pulumi command on a program with no resources (N=0)`);
  console.log(`\nmachine while running: ${sampler.summary()}`);
  console.log(`JSON: ${jsonPath}`);
}

main()
  .then(() => stopAllProcesses())
  .catch(async (err) => {
    console.error(err);
    await stopAllProcesses();
    process.exit(1);
  });
