// bench:fleet's kvmtune side: one inline Automation API program with a TunedHost
// per host, through the real engine and its local file backend (test/support/engine.ts).
import * as pulumi from "@pulumi/pulumi";
import { TunedHost } from "../components/tuned-host";
import { inlineStack, type EngineStack } from "../test/support/engine";
import type { NsHost } from "../test/support/ns-host";
import { rmTree } from "../test/support/processes";
import { DRIFT, MTU, NIC, SYSCTLS } from "./fleet-tuning";

export interface KvmtuneFleet {
  /** The operations, each throwing unless it did what it should. */
  up(): Promise<void>;
  noopUp(): Promise<void>;
  noopUpRefresh(): Promise<void>;
  driftCheck(): Promise<void>;
  refresh(): Promise<void>;
  close(): Promise<void>;
}

/** `hosts` empty: the same operations on a program with no resources (the engine's own floor). */
export async function kvmtuneFleet(hosts: NsHost[]): Promise<KvmtuneFleet> {
  const engine = await inlineStack("kvmtune-fleet-bench", async () => {
    for (const h of hosts) {
      new TunedHost(h.name, {
        connection: { host: h.host, port: h.port, user: h.user, privateKey: pulumi.secret(h.privateKey), hostKey: h.hostKey },
        sysctl: SYSCTLS,
        mtu: { [NIC]: MTU },
      });
    }
  });
  const n = hosts.length;
  const fail = (what: string) => new Error(`kvmtune ${what}\n${engine.output().slice(-3000)}`);
  return {
    async up() {
      const r = await engine.run((onOutput) => engine.stack.up({ onOutput }));
      // each host: the TunedHost component and its HostTuning
      if (r.summary.result !== "succeeded" || (r.summary.resourceChanges?.create ?? 0) !== 2 * n + 1) throw fail(`first up: ${JSON.stringify(r.summary.resourceChanges)}`);
    },
    async noopUp() {
      await unchanged(engine, (onOutput) => engine.stack.up({ onOutput }), "up", fail);
    },
    async noopUpRefresh() {
      await unchanged(engine, (onOutput) => engine.stack.up({ onOutput, refresh: true }), "up --refresh", fail);
    },
    async driftCheck() {
      const ok = await engine.run((onOutput) => engine.stack.preview({ onOutput, refresh: true, expectNoChanges: true, diff: true })).then(() => true, () => false);
      if (n === 0) {
        if (!ok) throw fail("preview --refresh --expect-no-changes of an empty program failed");
        return;
      }
      if (ok) throw fail("preview --refresh --expect-no-changes passed on drifted hosts");
      // The refresh names the drifted key ("15" => "30") under each host's HostTuning (the CLI's
      // error text repeats the output, so at least once per host).
      const out = engine.output();
      const named = out.match(new RegExp(`sysctl:${DRIFT.key.replace(/\./g, "\\.")}\\s+: "${DRIFT.wanted}" => "${DRIFT.drifted}"`, "g"))?.length ?? 0;
      const missing = hosts.filter((h) => !out.includes(`[id=${h.host}:${h.port}/${h.name}]`));
      if (named < n || missing.length) throw fail(`drift check named the drifted key ${named} times for ${n} host(s); no diff for ${missing.map((h) => h.name).join(", ")}`);
    },
    async refresh() {
      const r = await engine.run((onOutput) => engine.stack.refresh({ onOutput }));
      if (r.summary.result !== "succeeded" || (r.summary.resourceChanges?.update ?? 0) !== 0) throw fail(`refresh: ${JSON.stringify(r.summary.resourceChanges)}`);
    },
    async close() {
      await engine.stack.workspace.removeStack("dev", { force: true }).catch(() => undefined);
      rmTree(engine.dir);
    },
  };
}

type Runner = (onOutput: (s: string) => void) => Promise<{ summary: { result?: string; resourceChanges?: Record<string, number> } }>;

async function unchanged(engine: EngineStack, op: Runner, what: string, fail: (w: string) => Error): Promise<void> {
  const r = await engine.run(op);
  const changes = Object.entries(r.summary.resourceChanges ?? {}).filter(([k, v]) => k !== "same" && v > 0);
  if (r.summary.result !== "succeeded" || changes.length > 0) throw fail(`${what} on a tuned fleet changed ${JSON.stringify(r.summary.resourceChanges)}`);
}
