// Issue #14: long work says what it is doing. A message from inside a dynamic
// provider's create, sent with provider/transport/progress.ts (the engine's Log
// RPC, ephemeral), shows up in `pulumi up`'s own output on the resource's row
// and in the event stream while the operation runs, before the resource is
// created, and stays out of the final "Diagnostics:" section. No host needed:
// the provider only sleeps.
import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import type { DiagnosticEvent, EngineEvent } from "@pulumi/pulumi/automation";
import { during, engineAddressFromArgv, progress, progressScope, setProgressSink, URN_INPUT, waitMessage, type ProgressMessage } from "../../provider/transport/progress";
import { inlineStack, type EngineStack } from "../support/engine";

/** Sleeps 3.5 s in create, saying so every second through kvmtune's helper, loaded from dist by name as kvmtune's providers are. */
const sleepyProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs) {
    const p = require("kvmtune/dist/provider/transport/progress");
    return p.progressScope(inputs, async () => {
      p.progress(`${inputs.label}: starting`);
      await p.during((s: number) => p.waitMessage(`${inputs.label}: waiting`, s, 4), new Promise((r) => setTimeout(r, 3500)), { firstAfterMs: 500, everyMs: 1000, done: (s: number) => `${inputs.label}: done after ${s} s` });
      return { id: String(inputs.label), outs: { label: inputs.label } };
    });
  },
};

const TYPE = "pulumi-nodejs:dynamic/kvmtune:ProgressProbe";

class ProgressProbe extends pulumi.dynamic.Resource {
  constructor(name: string, args: { label: string; withUrn: boolean }, opts?: pulumi.CustomResourceOptions) {
    // What kvmtune's resource classes would add: their own URN, as a hidden input.
    const self = args.withUrn ? { [URN_INPUT]: pulumi.createUrn(name, TYPE, opts?.parent) } : {};
    super(sleepyProvider, name, { label: args.label, ...self }, opts, "kvmtune", "ProgressProbe");
  }
}

describe("progress core (no engine)", () => {
  afterEach(() => setProgressSink(undefined));

  it("finds the engine address only in the dynamic-provider process", () => {
    assert.equal(engineAddressFromArgv(["/usr/bin/node", "/x/node_modules/@pulumi/pulumi/cmd/dynamic-provider/index.js", "127.0.0.1:40357"]), "127.0.0.1:40357");
    assert.equal(engineAddressFromArgv(["/usr/bin/node", "/x/node_modules/@pulumi/pulumi/cmd/dynamic-provider", "[::1]:5"]), "[::1]:5");
    assert.equal(engineAddressFromArgv(["/usr/bin/node", "/x/node_modules/.bin/mocha", "127.0.0.1:40357"]), undefined);
    assert.equal(engineAddressFromArgv(["/usr/bin/node", "/x/node_modules/@pulumi/pulumi/cmd/dynamic-provider/index.js"]), undefined);
  });

  it("scopes messages to the operation's URN, ticks while work runs, says done, and sends nothing without a sink", async () => {
    const got: ProgressMessage[] = [];
    setProgressSink(async (m) => void got.push(m));
    const urn = "urn:pulumi:dev::p::pulumi-nodejs:dynamic/kvmtune:HostReboot::r";
    const a = progressScope({ [URN_INPUT]: urn }, async () => {
      progress("a: start");
      return during((s) => waitMessage("a: waiting", s, 1), new Promise((r) => setTimeout(() => r("A"), 260)), { firstAfterMs: 50, everyMs: 100, done: (s) => `a: done after ${s} s` });
    });
    const b = progressScope({}, async () => progress("b: unscoped", { keep: true }));
    assert.equal(await a, "A");
    await b;
    const forA = got.filter((m) => m.urn === urn);
    assert.deepEqual(forA[0], { message: "a: start", urn, ephemeral: true });
    assert.ok(forA.filter((m) => m.message === "a: waiting: 0 s of 1 s").length >= 2, JSON.stringify(got));
    assert.equal(forA.at(-1)!.message, "a: done after 0 s");
    assert.deepEqual(got.find((m) => m.urn === undefined), { message: "b: unscoped", urn: undefined, ephemeral: false });
    // Quick work says nothing.
    got.length = 0;
    await progressScope({ [URN_INPUT]: urn }, () => during(() => "never", Promise.resolve(1), { done: () => "never" }));
    assert.deepEqual(got, []);
    setProgressSink(undefined);
    progress("outside the provider process, without a sink: dropped");
  });
});

describe("progress from inside a dynamic provider operation, in `pulumi up` (real engine)", function () {
  this.timeout(300_000);
  let engine: EngineStack;
  let urns: { scoped: string; unscoped: string };
  const chunks: { t: number; text: string }[] = [];
  const events: { t: number; e: EngineEvent }[] = [];

  before(async () => {
    engine = await inlineStack("kvmtune-progress", async () => {
      const scoped = new ProgressProbe("scoped", { label: "probe-a", withUrn: true });
      const unscoped = new ProgressProbe("unscoped", { label: "probe-b", withUrn: false });
      return { scoped: scoped.urn, unscoped: unscoped.urn };
    });
    const t0 = Date.now();
    const up = await engine.run((onOutput) =>
      engine.stack.up({
        onOutput: (s) => {
          onOutput(s);
          chunks.push({ t: Date.now() - t0, text: s });
        },
        onEvent: (e) => void events.push({ t: Date.now() - t0, e }),
      }),
    );
    urns = { scoped: up.outputs.scoped.value, unscoped: up.outputs.unscoped.value };
  });
  after(async () => {
    await engine?.stack.workspace.removeStack("dev", { force: true }).catch(() => undefined);
  });

  /** When (ms after the start) the output first had a line matching `re` (chunks may cut lines anywhere). */
  const seen = (re: RegExp) => {
    let text = "";
    for (const c of chunks) {
      text += c.text;
      if (text.split("\n").some((l) => re.test(l))) return c.t;
    }
    return undefined;
  };

  it("shows the messages on the resource's own row while it is creating, before it is created", () => {
    const out = engine.output();
    const first = seen(/ProgressProbe scoped creating \(\d+s\) probe-a: waiting: \d s of 4 s$/);
    const later = seen(/ProgressProbe scoped creating \(\d+s\) probe-a: waiting: 2 s of 4 s$/);
    const created = seen(/ProgressProbe scoped created \(\d+s\)/);
    assert.ok(first !== undefined && later !== undefined && created !== undefined, out);
    // Live, not batched at the end: a second apart, and both before the row says created.
    assert.ok(later - first >= 700, `${first} ${later}\n${out}`);
    assert.ok(later < created, `${later} ${created}\n${out}`);
    assert.match(out, /ProgressProbe scoped created \(\d+s\) probe-a: done after \d s\n/);
  });

  it("carries them in the event stream as ephemeral diagnostics with the resource's URN, before its outputs", () => {
    const diags = events.filter((x) => x.e.diagnosticEvent?.message.startsWith("probe-a:"));
    const d = (x: { e: EngineEvent }) => x.e.diagnosticEvent as DiagnosticEvent;
    assert.ok(diags.length >= 4, JSON.stringify(diags));
    for (const x of diags) assert.deepEqual([d(x).urn, d(x).ephemeral, d(x).severity], [urns.scoped, true, "info"]);
    const outputs = events.find((x) => x.e.resOutputsEvent?.metadata.urn === urns.scoped)!;
    const waits = diags.filter((x) => d(x).message.startsWith("probe-a: waiting"));
    assert.ok(waits.length >= 2 && waits.every((x) => x.e.sequence < outputs.e.sequence), JSON.stringify(events.map((x) => x.e)));
  });

  it("without the URN input, messages land on the stack's row; none is repeated under Diagnostics", () => {
    const out = engine.output();
    assert.match(out, /pulumi:pulumi:Stack kvmtune-progress-dev creating \(\d+s\) probe-b: waiting: \d s of 4 s\n/);
    const b = events.filter((x) => x.e.diagnosticEvent?.message.startsWith("probe-b:"));
    assert.ok(b.length >= 2 && b.every((x) => x.e.diagnosticEvent!.urn === undefined && x.e.diagnosticEvent!.ephemeral), JSON.stringify(b));
    const i = out.indexOf("Diagnostics:");
    assert.ok(i < 0 || !/probe-[ab]:/.test(out.slice(i)), out);
  });
});
