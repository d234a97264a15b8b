// Turns one operation's marks (taken in the bench process) and the timing hook's
// events (from every process) into a breakdown of its wall time. Each
// millisecond is given to the most specific part running at that moment, so the
// parts add up to the wall time even where processes overlap.
import type { CostEvent } from "./timing-hook";

export interface Span {
  start: number;
  end: number;
}

export interface OpMarks {
  /** stack.up/preview/refresh called and returned. */
  op: Span;
  /** Every CLI process the Automation API ran for this op; `main` is the operation itself. */
  cli: (Span & { main: boolean; args: string })[];
  /** The inline program function's own runs. */
  program: Span[];
}

/** Parts, most specific first: the sweep gives an instant to the first part active then. */
export const PARTS = [
  "commands",
  "connect",
  "facts read",
  "provider load",
  "provider calls",
  "plugin start",
  "program",
  "engine start",
  "engine (other)",
  "automation API",
] as const;
export type Part = (typeof PARTS)[number];

export interface OpBreakdown {
  wall: number;
  parts: Record<Part, number>;
  /** Self time per package of the provider's kvmtune loads (the `provider load` part, ms). */
  loadByPackage: Record<string, number>;
  /** Self time per package of the plugin's own start-up modules (@pulumi/pulumi, grpc, ...). */
  pluginModulesByPackage: Record<string, number>;
  /** SSH connections and remote commands, per process. */
  counts: { providerConnects: number; providerCommands: number; programConnects: number; programCommands: number };
}

const within = (s: Span, w: Span) => s.end > w.start && s.start < w.end;
const KVMTUNE_LOAD = /^kvmtune\//;

function addBy(into: Record<string, number>, from: Record<string, number> | undefined): void {
  for (const [k, v] of Object.entries(from ?? {})) into[k] = (into[k] ?? 0) + v;
}

export function breakdown(marks: OpMarks, all: CostEvent[]): OpBreakdown {
  const events = all.filter((e) => within(e, marks.op));
  const main = marks.cli.find((c) => c.main) ?? marks.op;
  const of = (p: CostEvent["proc"], k: CostEvent["kind"], name?: (n: string) => boolean) => events.filter((e) => e.proc === p && e.kind === k && (!name || name(e.name)));
  const intervals: { part: Part; span: Span }[] = [];
  const put = (part: Part, spans: Span[]) => spans.forEach((span) => intervals.push({ part, span }));

  put("commands", of("provider", "command"));
  put("connect", of("provider", "connect"));
  put("facts read", [...of("program", "impl"), ...of("program", "connect"), ...of("program", "command")]);
  const loads = of("provider", "require", (n) => KVMTUNE_LOAD.test(n));
  put("provider load", loads);
  put("provider calls", of("provider", "rpc"));
  // The plugin: its launcher shim, node's own boot, its modules, until its first gRPC call is served.
  // The engine may start more than one plugin process in one op (preview --refresh does: one per step).
  const firstRpc = (pid: number) => Math.min(...of("provider", "rpc").filter((e) => e.pid === pid).map((e) => e.start), main.end);
  put("plugin start", [...of("shim", "process"), ...of("shim", "require")]);
  const boots = of("provider", "process", (n) => n === "start");
  put("plugin start", boots.map((b) => ({ start: b.start, end: Math.max(b.end, firstRpc(b.pid)) })));
  put("program", marks.program);
  const firstActivity = Math.min(...marks.program.map((p) => p.start), ...events.filter((e) => e.proc !== "program").map((e) => e.start), main.end);
  put("engine start", [{ start: main.start, end: firstActivity }]);
  put("engine (other)", [main]);
  put("automation API", [marks.op]);

  const parts = Object.fromEntries(PARTS.map((p) => [p, 0])) as Record<Part, number>;
  const cuts = [...new Set(intervals.flatMap((i) => [i.span.start, i.span.end]).filter((t) => t >= marks.op.start && t <= marks.op.end))].sort((a, b) => a - b);
  const rank = (p: Part) => PARTS.indexOf(p);
  for (let i = 0; i + 1 < cuts.length; i++) {
    const [a, b] = [cuts[i], cuts[i + 1]];
    let best: Part | undefined;
    for (const iv of intervals) if (iv.span.start <= a && iv.span.end >= b && (!best || rank(iv.part) < rank(best))) best = iv.part;
    if (best) parts[best] += b - a;
  }

  const loadByPackage: Record<string, number> = {};
  for (const l of loads) addBy(loadByPackage, l.selfByPackage);
  const pluginModulesByPackage: Record<string, number> = {};
  for (const l of of("provider", "require", (n) => n.startsWith("main:"))) addBy(pluginModulesByPackage, l.selfByPackage);
  return {
    wall: marks.op.end - marks.op.start,
    parts,
    loadByPackage,
    pluginModulesByPackage,
    counts: {
      providerConnects: of("provider", "connect").length,
      providerCommands: of("provider", "command").length,
      programConnects: of("program", "connect").length,
      programCommands: of("program", "command").length,
    },
  };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
