// The README's example as ONE program through the real Pulumi engine. Every ```ts
// block of README.md (read by test/support/readme-blocks.ts, so a README edit is
// what runs) is assembled, in README order, into one inline program: the blocks
// continue each other (`hv` from "Tune a real host" is the NumaPinnedGuest's
// host, `db` is the guest of the NICs and disks). Issue: "Conflicts never throw.
// Ownership conflicts inside one program become check failures that preview
// reports, and no code path leaves an inline Automation API program hanging."
// The host is an unreachable loopback port, so no real host is needed.
import { strict as assert } from "node:assert";
import * as path from "node:path";
import * as ts from "typescript";
import { findCli } from "../support/cli-kill";
import { inlineStack, type EngineStack } from "../support/engine";
import { suiteKeys } from "../support/keys";
import { readmeBlocks, type ReadmeBlock } from "../support/readme-blocks";
import { freePort } from "../support/ssh-client";

const REPO = path.resolve(__dirname, "..", "..");
const PREVIEW_BOUND_MS = 5 * 60_000;

interface Substitution {
  heading: string;
  find: string;
  replace: string;
  why: string;
}

/**
 * Where a README block cannot run as written, and the smallest change that makes it run here. Each `find`
 * must occur exactly once in its block, so a README edit that moves or drops it fails here by name instead
 * of silently running something else.
 */
function substitutions(port: number, svgPath: string, fleetPorts: number[]): Substitution[] {
  return [
    {
      heading: "Tune a real host",
      find: 'host: "hv01.example.net",',
      replace: `host: "127.0.0.1", port: ${port},`,
      why: "no real host: a loopback port nothing listens on (connection refused at once, no DNS)",
    },
    {
      heading: "Tune a real host",
      find: 'hostKey: "ssh-ed25519 AAAA...",',
      replace: `hostKey: ${JSON.stringify(suiteKeys().hostPublicKey)},`,
      why: 'the README elides the key ("AAAA..."); the suite\'s pinned host key stands in',
    },
    ...[11, 12, 13].flatMap((n, i) => [
      {
        heading: "TunedFleet: staged rollout",
        find: `host: "hv${n}.example.net",`,
        replace: `host: "127.0.0.1", port: ${fleetPorts[i]},`,
        why: "no real hosts: loopback ports nothing listens on, one per host (one host per TunedHost owner)",
      },
      {
        heading: "TunedFleet: staged rollout",
        find: `hostKey: "ssh-ed25519 AAAA...${n}"`,
        replace: `hostKey: ${JSON.stringify(suiteKeys().hostPublicKey)}`,
        why: "the README elides the keys; the suite's pinned host key stands in",
      },
    ]),
    {
      heading: "TunedFleet: staged rollout",
      find: "canaries: 1,",
      replace: "canaries: 0,",
      why: "one batch here: this preview fails at the guest, and a later batch's registrations would wait for the canary forever; left pending in this process (engine tests share it), they hang the next inline program's run",
    },
    {
      heading: "TunedFleet: staged rollout",
      find: "batchSize: 2,",
      replace: "batchSize: 3,",
      why: "see canaries",
    },
    {
      heading: "NumaPinnedGuest",
      find: 'placementSvgPath: "db1-placement.svg"',
      replace: `placementSvgPath: ${JSON.stringify(svgPath)}`,
      why: "a relative path is relative to this process's cwd (the repository) in an inline program: written into the run dir instead",
    },
  ];
}

/** The README's ts blocks as one program, with the substitutions applied (each exactly once). */
function assemble(blocks: ReadmeBlock[], subs: Substitution[]): string {
  const parts = blocks.map((b) => {
    let code = b.code;
    for (const s of subs.filter((x) => x.heading === b.heading)) {
      const n = code.split(s.find).length - 1;
      assert.equal(n, 1, `README block "${b.heading}" (line ${b.line}) should contain ${JSON.stringify(s.find)} once (${s.why}); found ${n} times`);
      code = code.replace(s.find, s.replace);
    }
    return `// --- README.md line ${b.line}: ${b.heading}\n${code}`;
  });
  const program = parts.join("\n");
  // Every component the blocks construct comes from the README's own import of kvmtune (a block copied alone must not miss it).
  const imported = /import \{([^}]*)\} from "kvmtune";/.exec(program)?.[1].split(",").map((n) => n.trim()) ?? [];
  for (const [, used] of program.matchAll(/\bnew (TunedHost|TunedFleet|NumaPinnedGuest|VhostNetwork|PassthroughDisk)\(/g)) assert.ok(imported.includes(used), `the README's program uses ${used} without importing it from "kvmtune"`);
  return program;
}

/** Type-checks the assembled program against this repository's index (as "kvmtune"); returns the diagnostics as text. */
function typeCheck(source: string): string[] {
  const file = path.join(REPO, "test", "engine", "__readme-program.ts");
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16,
    strict: true, esModuleInterop: true, skipLibCheck: true, noEmit: true,
    baseUrl: REPO, paths: { kvmtune: ["index.ts"] },
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) => (path.resolve(name) === file ? ts.createSourceFile(name, source, lang) : getSourceFile(name, lang, ...rest));
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => path.resolve(name) === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program, program.getSourceFile(file)).map((d) => {
    const where = d.file && d.start !== undefined ? `line ${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: ` : "";
    return where + ts.flattenDiagnosticMessageText(d.messageText, "\n");
  });
}

/** Runs the assembled program as an inline program would run a module: its exports are the stack outputs. */
function runProgram(source: string): Record<string, unknown> {
  const out = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true }, fileName: "readme-program.ts" });
  const mod = { exports: {} as Record<string, unknown> };
  const req = (id: string): unknown => {
    if (id === "kvmtune") return require(path.join(REPO, "index"));
    if (id === "@pulumi/pulumi") return require("@pulumi/pulumi");
    throw new Error(`the README program requires ${JSON.stringify(id)}, which this test does not provide`);
  };
  new Function("exports", "require", "module", out.outputText)(mod.exports, req, mod);
  return mod.exports;
}

describe("the README's example as one program, through the real Pulumi engine", function () {
  this.timeout(PREVIEW_BOUND_MS + 120_000);
  let engine: EngineStack;
  let port: number;
  let fleetPorts: number[];
  let source: string;

  before(async () => {
    port = await freePort();
    fleetPorts = [await freePort(), await freePort(), await freePort()];
    engine = await inlineStack("kvmtune-readme", async () => runProgram(source));
    source = assemble(readmeBlocks("ts"), substitutions(port, path.join(engine.dir, "db1-placement.svg"), fleetPorts));
    // The README reads the key with config.requireSecret("privateKey"): given as stack config, as a user would.
    await engine.stack.setConfig("privateKey", { value: suiteKeys().clientPrivateKey, secret: true });
  });
  after(async () => {
    await engine?.stack.workspace.removeStack("dev", { force: true }).catch(() => undefined);
  });

  it("finds every ts block of the README (the program's sections, in order)", () => {
    assert.deepEqual(readmeBlocks("ts").map((b) => b.heading), ["Tune a real host", "NumaPinnedGuest", "VhostNetwork", "PassthroughDisk", "TunedFleet: staged rollout"]);
  });

  it("the assembled program type-checks against kvmtune's index", () => {
    assert.deepEqual(typeCheck(source), []);
  });

  it("preview finishes within the bound, without an unhandled exception, and fails only in the guest's check, naming the unreachable host", async () => {
    // In an inline program a rejected output surfaces here, in this process, not in the engine's output.
    const rejections: string[] = [];
    const onRejection = (e: unknown) => rejections.push(String((e as Error)?.message ?? e));
    process.on("unhandledRejection", onRejection);
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), PREVIEW_BOUND_MS)));
    const preview = engine.run((onOutput) => engine.stack.preview({ onOutput })).then(
      () => "succeeded" as const,
      () => "failed" as const,
    );
    const result = await Promise.race([preview, bound]);
    clearTimeout(timer);
    process.off("unhandledRejection", onRejection);
    if (result === "timeout") {
      // A hung program: end the CLI this preview started (and its plugins), by PID, then fail.
      const cli = findCli(engine.dir, "preview");
      for (const pid of cli ? [cli.cli, ...cli.descendants] : []) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      assert.fail(`preview did not finish within ${PREVIEW_BOUND_MS / 1000} s (a hung inline program); unhandled rejections in the program: ${JSON.stringify([...new Set(rejections)])}; output so far:\n${engine.output()}`);
    }
    const out = engine.output();
    assert.ok(!out.includes("Unhandled exception"), out);
    assert.ok(!out.includes("error serializing property"), out);
    // Once the engine has ended a failed preview, @pulumi/pulumi rejects the program's pending
    // registerResourceOutputs calls with exactly this message (its own shutdown, not kvmtune's); nothing else may reject.
    assert.deepEqual([...new Set(rejections)].filter((m) => m !== "Resource monitor is terminating"), [], "unhandled rejections in the program");

    // What the README implies for a host that does not answer: TunedHost only warns (its preview check of the boot
    // loader and other boot-time actors needs the host's facts; "A failed read is only warned about"), but
    // NumaPinnedGuest plans its pins "in your program from the host's facts", so without them its domain's check
    // fails, naming the host and the transport error ("An unreachable host fails after dialErrorLimit attempts ...,
    // naming host and port"). Every other check passes: in particular the two owners of host settings, hv01 and the
    // SR-IOV NIC's host side (db1-vf-host: sriov:ens1f0:numvfs only), claim no key twice, and the vhost NIC leaves
    // the host side to hv01 (manageHost: false, so no db1-net-host). The devices wait for the domain, so they never
    // reach the engine.
    assert.equal(result, "failed", out);
    const unreachable = `root@127.0.0.1:PORT unreachable after 3 attempt(s) in N s: cannot connect to 127.0.0.1:PORT: connect ECONNREFUSED 127.0.0.1:PORT`;
    const warning = `warning: could not read the facts of 127.0.0.1:PORT to check its boot loader and what else sets these settings at boot: ${unreachable}`;
    const diags = diagnostics(out, port);
    // The fleet's later batches wait for its canary, so how far they get before the guest's error ends the preview
    // varies; each of its hosts that got as far as its facts warns exactly like hv01, about its own port.
    const fleet = ["hv11", "hv12", "hv13"].filter((n) => diags[`kvmtune:index:TunedHost (${n})`]);
    fleet.forEach((n) => {
      const p = fleetPorts[Number(n.slice(3)) - 1];
      assert.deepEqual(diags[`kvmtune:index:TunedHost (${n})`].map((l) => l.replaceAll(`:${p}`, ":PORT")), [warning], out);
      delete diags[`kvmtune:index:TunedHost (${n})`];
    });
    assert.deepEqual(diags["kvmtune:index:TunedFleet (rack1)"], ["rollout of 3 host(s): batch 1: hv11, hv12, hv13"]);
    delete diags["kvmtune:index:TunedFleet (rack1)"];
    assert.deepEqual(Object.keys(diags).sort(), ["kvmtune:index:TunedHost (db1-vf-host)", "kvmtune:index:TunedHost (hv01)", "pulumi-nodejs:dynamic/kvmtune:LibvirtDomain (db1-domain)"], out);
    assert.deepEqual(diags["kvmtune:index:TunedHost (hv01)"], [warning]);
    assert.deepEqual(diags["kvmtune:index:TunedHost (db1-vf-host)"], [warning]);
    const [guestError, ...more] = diags["pulumi-nodejs:dynamic/kvmtune:LibvirtDomain (db1-domain)"];
    assert.deepEqual(more, []);
    assert.ok(guestError.startsWith("error: pulumi-nodejs:dynamic/kvmtune:LibvirtDomain resource 'db1-domain': "), guestError);
    assert.ok(guestError.includes('NumaPinnedGuest "db1"') && guestError.includes("127.0.0.1:PORT") && guestError.endsWith(unreachable), guestError);
    assert.ok(!out.includes("both set"), out);
    const planned = creates(out);
    // At least the canary; its batch-mates only when they registered before the preview ended (see above).
    const fleetCreates = ["kvmtune:index:TunedFleet rack1", "kvmtune:index:TunedHost hv11", "pulumi-nodejs:dynamic/kvmtune:HostTuning hv11-tuning"];
    for (const c of fleetCreates) assert.ok(planned.includes(c), `${c} missing from ${JSON.stringify(planned)}`);
    const optional = ["kvmtune:index:TunedHost hv12", "kvmtune:index:TunedHost hv13", "pulumi-nodejs:dynamic/kvmtune:HostTuning hv12-tuning", "pulumi-nodejs:dynamic/kvmtune:HostTuning hv13-tuning"];
    const rest = planned.filter((c) => !fleetCreates.includes(c) && !optional.includes(c));
    assert.deepEqual(rest, [
      "kvmtune:index:NumaPinnedGuest db1",
      "kvmtune:index:PassthroughDisk db1-data",
      "kvmtune:index:PassthroughDisk db1-nvme",
      "kvmtune:index:TunedHost db1-vf-host",
      "kvmtune:index:TunedHost hv01",
      "kvmtune:index:VhostNetwork db1-net",
      "kvmtune:index:VhostNetwork db1-vf",
      "pulumi-nodejs:dynamic/kvmtune:HostTuning db1-vf-host-tuning",
      "pulumi-nodejs:dynamic/kvmtune:HostTuning hv01-tuning",
      "pulumi:pulumi:Stack kvmtune-readme-dev",
    ]);
    assert.match(out, new RegExp(`\\nResources:\\n {4}\\+ ${planned.length} to create\\n {4}1 errored\\n`));
  });
});

/** The first "Diagnostics:" section of a preview: messages per resource, with the port and the dial time made stable. */
function diagnostics(output: string, port: number): Record<string, string[]> {
  const lines = output.split("\n");
  const start = lines.indexOf("Diagnostics:");
  assert.ok(start >= 0, `no Diagnostics section in:\n${output}`);
  const out: Record<string, string[]> = {};
  let current: string[] | undefined;
  for (const l of lines.slice(start + 1)) {
    if (/^\S/.test(l)) break; // Outputs:, Resources:
    const header = /^ {2}(\S.*\)):$/.exec(l);
    if (header) out[header[1]] = current = [];
    else if (/^ {4}\S/.test(l) && current) current.push(l.trim().replaceAll(`:${port}`, ":PORT").replace(/ in \d+(\.\d+)? s: /g, " in N s: "));
  }
  return out;
}

/** The resources the preview would create (`+  type name create` lines), sorted, each once. */
function creates(output: string): string[] {
  return [...new Set([...output.matchAll(/^ \+ {2}(\S+ \S+) create\b/gm)].map((m) => m[1]))].sort();
}
