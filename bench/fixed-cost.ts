// Fixed cost of a kvmtune operation through the real Pulumi engine (issue #15):
// prints figures, asserts nothing.
//   npm run bench:cost [-- --reps 3] [-- --out file.json] [-- --timeline] [-- --keep-events]
// One real-kernel test VM, a TunedHost with two sysctls, and per repetition:
// up (first), up (no change), preview --refresh --expect-no-changes, refresh
// (then an unmeasured destroy, so the next repetition's up is a first one again).
// Wall time per operation (median of --reps) and where it went: the timing hook
// (fixed-cost/timing-hook.ts) runs in this process and in the dynamic-provider
// plugin, and fixed-cost/breakdown.ts gives each millisecond to one part.
import "./fixed-cost/timing-hook"; // first: it times the requires that follow
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { TunedHost } from "../components/tuned-host";
import { inlineStack, type EngineStack } from "../test/support/engine";
import { makeRunDir, rmTree, stopAllProcesses } from "../test/support/processes";
import { startTestVm, type TestVm } from "../test/support/vm";
import { breakdown, median, PARTS, type OpBreakdown, type OpMarks, type Span } from "./fixed-cost/breakdown";
import type { CostEvent } from "./fixed-cost/timing-hook";
import { buildTimingHook } from "./fixed-cost/hook-build";
import { coldRequireMs, COLD_MODULES } from "./fixed-cost/cold-require";

const COLD_RUNS = 9;

const OPS = ["up (first)", "up (no change)", "preview --refresh", "refresh"] as const;
type Op = (typeof OPS)[number];

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

const now = () => performance.timeOrigin + performance.now();

interface Recorder {
  marks: OpMarks;
}

/** Times every CLI process the Automation API starts (the op itself, and e.g. `stack output` after up). */
function timeCli(engine: EngineStack, rec: Recorder): void {
  // run() is the Automation API's one door to the CLI (internal in its typings).
  const cmd = engine.stack.workspace.pulumiCommand as unknown as { run(args: string[], ...rest: unknown[]): Promise<unknown> };
  const run = cmd.run.bind(cmd);
  cmd.run = async (args: string[], ...rest: unknown[]) => {
    const start = now();
    try {
      return await run(args, ...rest);
    } finally {
      rec.marks.cli.push({ start, end: now(), main: ["up", "preview", "refresh", "destroy"].includes(args[0]), args: args.slice(0, 3).join(" ") });
    }
  };
}

function readEvents(file: string): CostEvent[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as CostEvent);
}

/** One op's marks and hook events in time order, ms from the op's start (--timeline). */
function printTimeline(op: Op, marks: OpMarks, events: CostEvent[]): void {
  const t0 = marks.op.start;
  const rows = [
    ...marks.cli.map((c) => ({ start: c.start, end: c.end, what: `cli ${c.args}` })),
    ...marks.program.map((p) => ({ ...p, what: "program function" })),
    ...events.filter((e) => e.end >= t0 && e.start <= marks.op.end && (e.kind !== "require" || e.end - e.start >= 2)).map((e) => ({ start: e.start, end: e.end, what: `${e.proc} ${e.kind} ${e.name}` })),
  ].sort((a, b) => a.start - b.start);
  console.log(`  timeline of ${op} (ms from its start):`);
  for (const r of rows) console.log(`  ${(r.start - t0).toFixed(0).padStart(6)} ${(r.end - t0).toFixed(0).padStart(6)}  ${r.what}`);
}

const fmt = (ms: number) => (ms / 1000).toFixed(2).padStart(7);

function printTable(results: Record<Op, OpBreakdown[]>): Record<string, unknown> {
  const summary: Record<string, unknown> = {};
  const cols = OPS.map((op) => op.padStart(18)).join("");
  console.log(`\n${"median of runs, seconds".padEnd(26)}${cols}`);
  const row = (label: string, pick: (b: OpBreakdown) => number) => console.log(`${label.padEnd(26)}${OPS.map((op) => fmt(median(results[op].map(pick))).padStart(18)).join("")}`);
  row("wall", (b) => b.wall);
  for (const p of PARTS) row(`  ${p}`, (b) => b.parts[p]);
  // Packages under 10 ms in every op are summed into one line.
  const byPackage = (title: string, pick: (b: OpBreakdown) => Record<string, number>) => {
    console.log(title);
    const names = [...new Set(OPS.flatMap((op) => results[op].flatMap((b) => Object.keys(pick(b)))))].sort();
    const big = names.filter((k) => OPS.some((op) => median(results[op].map((b) => pick(b)[k] ?? 0)) >= 10));
    for (const k of big) row(`  ${k}`, (b) => pick(b)[k] ?? 0);
    const rest = names.filter((k) => !big.includes(k));
    if (rest.length) row(`  ${rest.length} others`, (b) => rest.reduce((s, k) => s + (pick(b)[k] ?? 0), 0));
  };
  byPackage("provider load by package (self time)", (b) => b.loadByPackage);
  byPackage("plugin modules by package (self time)", (b) => b.pluginModulesByPackage);
  const c = (op: Op) => results[op][0].counts;
  console.log(`SSH per op (connections/commands): ${OPS.map((op) => `${op} provider ${c(op).providerConnects}/${c(op).providerCommands}, program ${c(op).programConnects}/${c(op).programCommands}`).join("; ")}`);
  for (const op of OPS) {
    summary[op] = {
      wallMs: median(results[op].map((b) => b.wall)),
      partsMs: Object.fromEntries(PARTS.map((p) => [p, median(results[op].map((b) => b.parts[p]))])),
    };
  }
  return summary;
}

async function main(): Promise<void> {
  const reps = Number(arg("reps", "3"));
  const out = path.resolve(arg("out", path.join(os.tmpdir(), "kvmtune-fixed-cost.json")));
  const dir = makeRunDir("bench-cost");
  const log = path.join(dir, "events.jsonl");
  process.env.KVMTUNE_COST_LOG = log; // this process's own events (the program's facts read)
  const hook = buildTimingHook(dir);
  console.log(`kvmtune fixed-cost benchmark (${new Date().toISOString()}): 1 host, TunedHost with 2 sysctls, ${reps} rep(s), ${os.cpus().length} cores`);
  let vm: TestVm | undefined;
  let engine: EngineStack | undefined;
  try {
    vm = await startTestVm({ name: "cost" });
    console.log(`booted the VM in ${(vm.bootMs / 1000).toFixed(1)} s`);
    const target = vm;
    const rec: Recorder = { marks: { op: { start: 0, end: 0 }, cli: [], program: [] } };
    engine = await inlineStack(
      "kvmtune-fixed-cost",
      async () => {
        const span: Span = { start: now(), end: 0 };
        new TunedHost("cost", {
          connection: { host: target.host, port: target.port, privateKey: target.privateKey, hostKey: target.hostKey },
          sysctl: { "vm.swappiness": 10, "vm.dirty_ratio": 10 },
        });
        span.end = now();
        rec.marks.program.push(span);
      },
      { NODE_OPTIONS: `--require ${hook}`, KVMTUNE_COST_LOG: log },
    );
    timeCli(engine, rec);
    const e = engine;
    const run: Record<Op, () => Promise<unknown>> = {
      "up (first)": () => e.run((onOutput) => e.stack.up({ onOutput })),
      "up (no change)": () => e.run((onOutput) => e.stack.up({ onOutput })),
      "preview --refresh": () => e.run((onOutput) => e.stack.preview({ onOutput, refresh: true, expectNoChanges: true })),
      refresh: () => e.run((onOutput) => e.stack.refresh({ onOutput })),
    };
    const results = Object.fromEntries(OPS.map((op) => [op, [] as OpBreakdown[]])) as Record<Op, OpBreakdown[]>;
    for (let r = 1; r <= reps; r++) {
      for (const op of OPS) {
        rec.marks = { op: { start: now(), end: 0 }, cli: [], program: [] };
        await run[op]();
        rec.marks.op.end = now();
        const events = readEvents(log);
        const b = breakdown(rec.marks, events);
        if (process.argv.includes("--timeline")) printTimeline(op, rec.marks, events);
        results[op].push(b);
        console.log(`rep ${r} ${op.padEnd(18)} ${fmt(b.wall)} s  (${PARTS.filter((p) => b.parts[p] >= 5).map((p) => `${p} ${(b.parts[p] / 1000).toFixed(2)}`).join(", ")})`);
      }
      await e.run((onOutput) => e.stack.destroy({ onOutput }));
    }
    const summary = printTable(results);
    const cold: Record<string, number> = {};
    console.log(`\ncold require after @pulumi/pulumi, fresh node, median of ${COLD_RUNS}:`);
    for (const [label, id] of Object.entries(COLD_MODULES)) {
      cold[label] = coldRequireMs(id, COLD_RUNS);
      console.log(`  ${label.padEnd(40)} ${cold[label].toFixed(1).padStart(7)} ms`);
    }
    const json = { date: new Date().toISOString(), machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, host: "1 test VM (qemu TCG)" }, reps, summary, coldRequireMs: cold, runs: results };
    fs.writeFileSync(out, `${JSON.stringify(json, null, 2)}\n`);
    console.log(`\nwrote ${out}`);
  } finally {
    await engine?.stack.workspace.removeStack("dev", { force: true }).catch(() => undefined);
    await vm?.stop();
    await stopAllProcesses();
    if (engine) rmTree(engine.dir);
    if (process.argv.includes("--keep-events")) console.log(`events kept in ${log}`);
    else rmTree(dir);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
