// Issue #15 through the real Pulumi engine, on hosts that are sshd's in their
// own network and mount namespaces (test/support/ns-host.ts): per-netns sysctls
// are real kernel values, nothing of this machine is tuned.
// - TunedFleet rolls out in batches: fl3's read-back fails on purpose (another
//   actor on it keeps writing somaxconn back to 128), the up fails naming it,
//   the batch before it converged, and the batch after it gets no SSH
//   connection at all.
// - One unreachable host out of N: the others converge in the same up, and the
//   failure names it within the dial bound the program set.
import { strict as assert } from "node:assert";
import { createServer, type Server, type Socket } from "node:net";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { TunedFleet } from "../../components/tuned-fleet";
import { TunedHost } from "../../components/tuned-host";
import { inlineStack, type EngineStack } from "../support/engine";
import { startNsHost, type NsHost } from "../support/ns-host";

const SOMAXCONN = "/proc/sys/net/core/somaxconn";

describe("a fleet on namespace hosts: staged rollout and an unreachable host (real engine)", function () {
  this.timeout(900_000);
  let hosts: NsHost[] = [];
  /** Each host's value before the tests (a new network namespace's default). */
  let originals: string[] = [];
  const connection = (h: NsHost) => ({ host: h.host, port: h.port, privateKey: h.privateKey, hostKey: h.hostKey });
  const somaxconn = async (h: NsHost) => (await h.ssh(`cat ${SOMAXCONN}`)).stdout.trim();

  before(async () => {
    for (let i = 1; i <= 5; i++) hosts.push(await startNsHost({ name: `fl${i}` }));
    originals = await Promise.all(hosts.map(somaxconn));
  });
  after(async () => {
    await Promise.all(hosts.map((h) => h.stop()));
    hosts = [];
  });

  describe("TunedFleet", () => {
    let engine: EngineStack;
    let fighter = "";
    const events: EngineEvent[] = [];
    before(async () => {
      engine = await inlineStack("kvmtune-fleet-test", async () => {
        const fleet = new TunedFleet("rack", {
          hosts: Object.fromEntries(hosts.map((h) => [h.name, { connection: connection(h) }])),
          common: { sysctl: { "net.core.somaxconn": 3000 } },
          canaries: 1,
          batchSize: 2,
        });
        return { batches: fleet.batches };
      });
    });
    after(async () => {
      await engine?.stack.workspace.removeStack("dev", { force: true }).catch(() => undefined);
    });

    it("a failed read-back stops the rollout: the up fails naming the host, batch 1 and its batch-mate converge, the last batch is untouched", async () => {
      // The write is accepted; by the read-back (a separate command) the other actor has put its value back.
      fighter = (await hosts[2].ssh(`nohup sh -c 'while :; do echo 128 > ${SOMAXCONN}; sleep 0.005; done' >/dev/null 2>&1 & echo $!`)).stdout.trim();
      const loginsBefore = hosts.map((h) => h.logins());
      await assert.rejects(engine.run((onOutput) => engine.stack.up({ onOutput, onEvent: (e) => events.push(e) })));
      const out = engine.output();
      assert.match(out, new RegExp(`fl3-tuning[\\s\\S]*read-back on 127\\.0\\.0\\.1:${hosts[2].port} disagrees: sysctl:net\\.core\\.somaxconn: wanted "3000", got "128"`), out);
      assert.deepEqual([await somaxconn(hosts[0]), await somaxconn(hosts[1])], ["3000", "3000"]);
      // The batch after fl3's never connected: its hosts' sshd saw no login (ssh() above and below logs its own).
      assert.deepEqual([hosts[3].logins() - loginsBefore[3], hosts[4].logins() - loginsBefore[4]], [0, 0]);
      assert.deepEqual([await somaxconn(hosts[3]), await somaxconn(hosts[4])], [originals[3], originals[4]]);
      // Batch 2 started only after batch 1 was done: fl1's tuning finished before fl2's or fl3's began.
      const at = (kind: "resourcePreEvent" | "resOutputsEvent", name: string) =>
        events.findIndex((e) => (e[kind] as { metadata?: { urn?: string } } | undefined)?.metadata?.urn?.endsWith(`::${name}`));
      const fl1Done = at("resOutputsEvent", "fl1-tuning");
      assert.ok(fl1Done >= 0 && fl1Done < at("resourcePreEvent", "fl2-tuning") && fl1Done < at("resourcePreEvent", "fl3-tuning"), "batch 1 finished before batch 2 started");
    });

    it("once fl3 is fixed, up finishes the rollout and a refresh finds nothing to change", async () => {
      await hosts[2].ssh(`kill ${fighter}`);
      const up = await engine.run((onOutput) => engine.stack.up({ onOutput }));
      assert.equal(up.summary.result, "succeeded");
      assert.deepEqual(up.outputs.batches.value, [["fl1"], ["fl2", "fl3"], ["fl4", "fl5"]]);
      for (const h of hosts) assert.equal(await somaxconn(h), "3000", h.name);
      const pre = await engine.run((onOutput) => engine.stack.preview({ onOutput, refresh: true, expectNoChanges: true }));
      assert.equal(pre.changeSummary.same, 1 + 1 + 5 * 2);
    });

    it("destroy restores every host", async () => {
      await engine.run((onOutput) => engine.stack.destroy({ onOutput }));
      // fl3's original is what kvmtune found there when it first changed it: the other actor's 128.
      assert.deepEqual(await Promise.all(hosts.map(somaxconn)), originals.map((v, i) => (i === 2 ? "128" : v)));
    });
  });

  describe("one unreachable host out of N", () => {
    let engine: EngineStack;
    let silent: Server;
    const sockets: Socket[] = [];
    before(async () => {
      // A host that accepts TCP and never says a word: SSH's handshake times out.
      silent = createServer((s) => sockets.push(s));
      await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
      const port = (silent.address() as { port: number }).port;
      engine = await inlineStack("kvmtune-unreachable-test", async () => {
        for (const h of hosts.slice(0, 3)) new TunedHost(h.name, { connection: connection(h), sysctl: { "net.core.somaxconn": 2000 } });
        new TunedHost("hung", { connection: { host: "127.0.0.1", port, privateKey: hosts[0].privateKey, hostKey: hosts[0].hostKey, perDialTimeout: 3, dialErrorLimit: 2 }, sysctl: { "net.core.somaxconn": 2000 } });
      });
    });
    after(async () => {
      await engine?.run((onOutput) => engine.stack.destroy({ onOutput })).catch(() => undefined);
      await engine?.stack.workspace.removeStack("dev", { force: true }).catch(() => undefined);
      for (const s of sockets) s.destroy();
      silent?.close();
    });

    it("the others converge in the same up; the failure names the host and port within 2 attempts of 3 s", async () => {
      await assert.rejects(engine.run((onOutput) => engine.stack.up({ onOutput })));
      const out = engine.output();
      const m = out.match(/root@127\.0\.0\.1:(\d+) unreachable after 2 attempt\(s\) in ([\d.]+) s: connect to 127\.0\.0\.1:\d+ timed out after 3 s/);
      assert.ok(m, out);
      assert.equal(Number(m[1]), (silent.address() as { port: number }).port);
      // 2 attempts of 3 s and one back-off of 0.25 s: the bound the program set, plus scheduling slack.
      assert.ok(Number(m[2]) <= 2 * 3 + 0.25 + 2, `reported after ${m[2]} s`);
      for (const h of hosts.slice(0, 3)) assert.equal(await somaxconn(h), "2000", h.name);
    });
  });
});
