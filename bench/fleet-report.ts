// bench:fleet's figures: medians per operation, N and tool, the kvmtune/Ansible
// ratios, the printed table and the JSON document.
import type { Measured } from "./fleet-hosts";

export type Tool = "kvmtune" | "ansible-default" | "ansible-tuned" | "engine-floor";
export type OpId = "apply" | "noop" | "noop-refresh" | "drift" | "refresh";

export interface Sample extends Measured {
  n: number;
  op: OpId;
  tool: Tool;
  rep: number;
}

/** What each tool runs for an operation; `ansibleOp` is the Ansible sample the row compares with. */
export const OPS: { id: OpId; label: string; kvmtune: string; ansible: string; ansibleOp: OpId }[] = [
  { id: "apply", label: "first apply", kvmtune: "pulumi up", ansible: "ansible-playbook", ansibleOp: "apply" },
  { id: "noop", label: "no-op apply", kvmtune: "pulumi up", ansible: "ansible-playbook", ansibleOp: "noop" },
  { id: "noop-refresh", label: "no-op apply, hosts read", kvmtune: "pulumi up --refresh", ansible: "ansible-playbook (the no-op run above)", ansibleOp: "noop" },
  { id: "drift", label: "drift check, 1 key drifted", kvmtune: "pulumi preview --refresh --expect-no-changes", ansible: "ansible-playbook --check --diff", ansibleOp: "drift" },
  { id: "refresh", label: "refresh, clean hosts", kvmtune: "pulumi refresh", ansible: "ansible-playbook --check --diff", ansibleOp: "refresh" },
];

export interface Median {
  op: OpId;
  n: number;
  tool: Tool;
  reps: number;
  wallS: number;
  connsPerHost: number;
  cmdsPerHost: number;
  /** On Ansible rows: kvmtune's median divided by this row's. */
  kvmtuneOver?: { wall: number; conns: number | null; cmds: number | null };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function medians(samples: Sample[]): Median[] {
  const out: Median[] = [];
  const ns = [...new Set(samples.map((s) => s.n))].sort((a, b) => a - b);
  const of = (op: OpId, n: number, tool: Tool) => samples.filter((s) => s.op === op && s.n === n && s.tool === tool);
  const summarise = (op: OpId, n: number, tool: Tool, from: Sample[]): Median | undefined =>
    from.length === 0 ? undefined : {
      op, n, tool, reps: from.length,
      wallS: median(from.map((s) => s.ms)) / 1000,
      connsPerHost: median(from.map((s) => s.connsPerHost)),
      cmdsPerHost: median(from.map((s) => s.cmdsPerHost)),
    };
  const ratio = (a: number, b: number) => (b === 0 ? null : a / b);
  for (const op of OPS) {
    for (const n of ns) {
      if (n === 0) {
        const floor = summarise(op.id, 0, "engine-floor", of(op.id, 0, "engine-floor"));
        if (floor) out.push(floor);
        continue;
      }
      const k = summarise(op.id, n, "kvmtune", of(op.id, n, "kvmtune"));
      if (k) out.push(k);
      for (const tool of ["ansible-default", "ansible-tuned"] as const) {
        const a = summarise(op.id, n, tool, of(op.ansibleOp, n, tool));
        if (!a) continue;
        if (k) a.kvmtuneOver = { wall: k.wallS / a.wallS, conns: ratio(k.connsPerHost, a.connsPerHost), cmds: ratio(k.cmdsPerHost, a.cmdsPerHost) };
        out.push(a);
      }
    }
  }
  return out;
}

const fixed = (x: number | null | undefined, d: number) => (x === null || x === undefined ? "-" : x.toFixed(d));

/** One line per (operation, N, tool); Ansible rows carry kvmtune's figure divided by theirs. */
export function table(rows: Median[]): string {
  const head = ["operation", "N", "tool", "wall s", "conns/host", "cmds/host", "kvmtune÷ wall", "kvmtune÷ cmds"];
  const lines = rows.map((r) => [
    OPS.find((o) => o.id === r.op)!.label,
    String(r.n),
    r.tool,
    fixed(r.wallS, 2),
    fixed(r.connsPerHost, 1),
    fixed(r.cmdsPerHost, 1),
    fixed(r.kvmtuneOver?.wall, 2),
    fixed(r.kvmtuneOver?.cmds, 2),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ").trimEnd();
  return [fmt(head), widths.map((w) => "-".repeat(w)).join("  "), ...lines.map(fmt)].join("\n");
}

export function legend(): string {
  return OPS.map((o) => `  ${o.label}: kvmtune = ${o.kvmtune}; ansible = ${o.ansible}`).join("\n");
}
