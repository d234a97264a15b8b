// Proves test/support/provider-server.ts: small dynamic providers defined here
// are serialised with the SDK's closure serialiser and driven through the real
// `@pulumi/pulumi/cmd/dynamic-provider` gRPC server, as the engine would.
// The second half pins down how a serialised provider resolves what it loads,
// which decides how kvmtune's providers find their implementation.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { shQuote } from "../../provider/transport/framing";
import { makeRunDir, rmTree, trackedProcesses } from "../support/processes";
import {
  DynamicProviderClient,
  DynamicProviderError,
  dynamicUrn,
  PROVIDER_KEY,
  serializeDynamicProvider,
  startDynamicProviderServer,
  withProvider,
  withoutProvider,
} from "../support/provider-server";

/**
 * A file resource: inputs { dir, name?, content, password? }, id = the file's
 * path. Loads everything it needs at call time with require(), so its
 * serialised text captures nothing but its own methods.
 */
const fileProvider: pulumi.dynamic.ResourceProvider = {
  async check(olds, news) {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (typeof news.dir !== "string" || !news.dir.startsWith("/")) failures.push({ property: "dir", reason: "dir must be an absolute path" });
    if (typeof news.content !== "string") failures.push({ property: "content", reason: "content must be a string" });
    // An omitted name keeps the old one (then defaults), as a real provider would keep a generated name.
    const name = typeof news.name === "string" ? news.name : typeof olds.name === "string" ? olds.name : "file.txt";
    const inputs: Record<string, unknown> = { dir: news.dir, name, content: news.content };
    if (news.password !== undefined) inputs.password = news.password;
    return { inputs, failures };
  },

  async diff(id, olds, news) {
    const replaces = ["dir", "name"].filter((k) => olds[k] !== news[k]);
    return { changes: replaces.length > 0 || olds.content !== news.content, replaces, deleteBeforeReplace: replaces.length > 0 };
  },

  async create(inputs) {
    const fs = require("node:fs") as typeof import("node:fs");
    const path = require("node:path") as typeof import("node:path");
    const file = path.join(inputs.dir, inputs.name);
    if (inputs.password !== undefined && inputs.password !== "open-sesame") {
      // The message names the user but never the password.
      throw new Error("login refused for admin: bad password ([redacted])");
    }
    fs.writeFileSync(file, inputs.content);
    if (inputs.content === "half" || inputs.content === "half-kept") {
      // Created but unhealthy: the engine records `properties` as the resource's
      // whole state. Only "half-kept" copies __provider into it (see the test).
      const properties: Record<string, unknown> = { dir: inputs.dir, name: inputs.name, content: inputs.content, size: Buffer.byteLength(inputs.content) };
      if (inputs.content === "half-kept") properties.__provider = inputs.__provider;
      throw Object.assign(new Error(`wrote ${file} but it did not verify`), { id: file, properties, reasons: ["content verification failed"] });
    }
    return { id: file, outs: { dir: inputs.dir, name: inputs.name, content: inputs.content, size: Buffer.byteLength(inputs.content) } };
  },

  async read(id, props) {
    const fs = require("node:fs") as typeof import("node:fs");
    const path = require("node:path") as typeof import("node:path");
    const content = fs.readFileSync(id, "utf8");
    const dir = path.dirname(id);
    const name = path.basename(id);
    // Inputs follow the live file, so a refresh records drift as changed inputs.
    return { id, props: { ...props, dir, name, content, size: Buffer.byteLength(content) }, inputs: { dir, name, content } };
  },

  async update(id, olds, news) {
    const fs = require("node:fs") as typeof import("node:fs");
    if (news.content === "refuse-update") {
      throw Object.assign(new Error(`left ${id} as it was`), { id, properties: { ...olds }, reasons: ["update refused"] });
    }
    fs.writeFileSync(id, news.content);
    return { outs: { dir: news.dir, name: news.name, content: news.content, size: Buffer.byteLength(news.content) } };
  },

  async delete(id, props) {
    const fs = require("node:fs") as typeof import("node:fs");
    if (props.password !== undefined && props.password !== "open-sesame") {
      throw new Error("delete refused for admin: bad password ([redacted])");
    }
    fs.rmSync(id);
  },
};

describe("dynamic provider harness (real cmd/dynamic-provider over gRPC)", function () {
  let server: DynamicProviderClient;
  let text: string;
  let dir: string;
  const urn = dynamicUrn("file");

  before(async () => {
    text = await serializeDynamicProvider(fileProvider);
    server = await startDynamicProviderServer();
    dir = makeRunDir("dynprov");
  });

  after(async () => {
    await server?.stop();
    if (dir) rmTree(dir);
  });

  it("serialises the provider as the SDK does and talks to the server", async () => {
    assert.match(text, /^exports\.handler = __f0;/);
    assert.equal(await server.getPluginInfo(), require("@pulumi/pulumi/package.json").version);
    assert.deepEqual(await server.configure({}), { acceptSecrets: false });
    assert.ok(trackedProcesses().some((p) => p.pid === server.pid));
  });

  it("check: returns normalised inputs and failures", async () => {
    const ok = await server.check(urn, {}, withProvider({ dir, content: "one" }, text));
    assert.deepEqual(ok, { inputs: withProvider({ dir, name: "file.txt", content: "one" }, text), failures: [] });

    const keepName = await server.check(urn, withProvider({ dir, name: "kept.txt", content: "one" }, text), withProvider({ dir, content: "two" }, text));
    assert.deepEqual(keepName.inputs, withProvider({ dir, name: "kept.txt", content: "two" }, text));

    const bad = await server.check(urn, {}, withProvider({ dir: "relative", content: 7 }, text));
    assert.deepEqual(bad, {
      inputs: withProvider({ dir: "relative", name: "file.txt", content: 7 }, text),
      failures: [
        { property: "dir", reason: "dir must be an absolute path" },
        { property: "content", reason: "content must be a string" },
      ],
    });
  });

  it("create, read with drift, diff, update, delete", async () => {
    const inputs = withProvider({ dir, name: "a.txt", content: "one" }, text);
    const file = path.join(dir, "a.txt");

    const created = await server.create(urn, inputs);
    assert.deepEqual(created, { id: file, outs: withProvider({ dir, name: "a.txt", content: "one", size: 3 }, text) });
    assert.equal(fs.readFileSync(file, "utf8"), "one");

    // No drift: read gives back the same state and inputs.
    const same = await server.read(file, urn, created.outs, inputs);
    assert.deepEqual(same, { id: file, props: created.outs, inputs });

    // Drift: the file changed behind Pulumi's back.
    fs.writeFileSync(file, "drifted!");
    const drifted = await server.read(file, urn, created.outs, inputs);
    assert.deepEqual(drifted, {
      id: file,
      props: withProvider({ dir, name: "a.txt", content: "drifted!", size: 8 }, text),
      inputs: withProvider({ dir, name: "a.txt", content: "drifted!" }, text),
    });

    // The program still wants "one": a diff against the refreshed state finds the change.
    assert.deepEqual(await server.diff(file, urn, drifted.props, inputs, drifted.inputs), { changes: "some", replaces: [], deleteBeforeReplace: false });
    assert.deepEqual(await server.diff(file, urn, created.outs, inputs), { changes: "none", replaces: [], deleteBeforeReplace: false });
    assert.deepEqual(await server.diff(file, urn, created.outs, withProvider({ dir, name: "b.txt", content: "one" }, text)), {
      changes: "some",
      replaces: ["name"],
      deleteBeforeReplace: true,
    });

    const updated = await server.update(file, urn, drifted.props, withProvider({ dir, name: "a.txt", content: "three" }, text), drifted.inputs);
    assert.deepEqual(updated, { outs: withProvider({ dir, name: "a.txt", content: "three", size: 5 }, text) });
    assert.equal(fs.readFileSync(file, "utf8"), "three");

    await server.delete(file, urn, updated.outs, inputs);
    assert.equal(fs.existsSync(file), false);
  });

  it("create failure with id + properties: decoded as partial state (ErrorResourceInitFailed)", async () => {
    const file = path.join(dir, "half.txt");
    const err = await rejection(server.create(urn, withProvider({ dir, name: "half.txt", content: "half" }, text)));
    assert.ok(err instanceof DynamicProviderError);
    assert.equal(err.message, `wrote ${file} but it did not verify`);
    assert.equal(err.method, "create");
    assert.equal(err.code, 2); // grpc UNKNOWN
    assert.deepEqual(err.initFailure, {
      id: file,
      properties: { dir, name: "half.txt", content: "half", size: 4 },
      reasons: ["content verification failed"],
    });
  });

  it("partial state must carry __provider itself, or the resource can never be deleted or refreshed", async () => {
    // The engine stores ErrorResourceInitFailed.properties as the outputs verbatim
    // (CreateStep.Apply: outs = resp.Properties), and Delete/Read deserialise the
    // provider from those outputs. The server does not add __provider to them.
    const lost = await rejection(server.create(urn, withProvider({ dir, name: "lost.txt", content: "half" }, text)));
    assert.equal(PROVIDER_KEY in lost.initFailure!.properties, false);
    const del = await rejection(server.delete(lost.initFailure!.id, urn, lost.initFailure!.properties));
    assert.equal(del.message, "code must be a string, not undefined");
    const ref = await rejection(server.read(lost.initFailure!.id, urn, lost.initFailure!.properties));
    assert.equal(ref.message, "code must be a string, not undefined");

    // Copying inputs.__provider (create receives it) into the error's properties fixes it.
    const kept = await rejection(server.create(urn, withProvider({ dir, name: "kept.txt", content: "half-kept" }, text)));
    assert.deepEqual(kept.initFailure!.properties, withProvider({ dir, name: "kept.txt", content: "half-kept", size: 9 }, text));
    await server.delete(kept.initFailure!.id, urn, kept.initFailure!.properties);
    assert.equal(fs.existsSync(path.join(dir, "kept.txt")), false);
  });

  it("update failure with id + properties is decoded the same way", async () => {
    const created = await server.create(urn, withProvider({ dir, name: "u.txt", content: "one" }, text));
    const err = await rejection(server.update(created.id, urn, created.outs, withProvider({ dir, name: "u.txt", content: "refuse-update" }, text)));
    assert.equal(err.message, `left ${created.id} as it was`);
    assert.deepEqual(err.initFailure, { id: created.id, properties: created.outs, reasons: ["update refused"] });
  });

  it("plain failures carry only the message (no partial state)", async () => {
    const err = await rejection(server.create(urn, withProvider({ dir, name: "p.txt", content: "x", password: "wrong-Pa55word-4711" }, text)));
    assert.equal(err.message, "login refused for admin: bad password ([redacted])");
    assert.equal(err.code, 2);
    assert.equal(err.initFailure, undefined);
  });

  it("a secret input never reaches the logs when errors are redacted", async () => {
    const secret = "wrong-Pa55word-4711";
    const before = server.logs.length;
    // create/update errors go back over gRPC only; check/diff/read/delete errors are also printed on stderr.
    await rejection(server.create(urn, withProvider({ dir, name: "s.txt", content: "x", password: secret }, text)));
    assert.deepEqual(server.logs.slice(before), []);

    const created = await server.create(urn, withProvider({ dir, name: "s.txt", content: "x", password: "open-sesame" }, text));
    const err = await rejection(server.delete(created.id, urn, withProvider({ ...withoutProvider(created.outs), password: secret }, text)));
    assert.equal(err.message, "delete refused for admin: bad password ([redacted])");
    await waitFor(() => server.logs.length > before);
    const printed = server.logs.slice(before);
    assert.equal(printed[0].stream, "stderr");
    assert.equal(printed[0].text, "Error: delete refused for admin: bad password ([redacted]): Error: delete refused for admin: bad password ([redacted])");
    assert.ok(!server.output().includes(secret), server.output());
    assert.ok(!server.output().includes("open-sesame"), server.output());
  });

  it("never dials the engine address it is given", () => {
    assert.equal(server.engineConnections, 0);
  });
});

describe("dynamic provider configure (stack config, secrets)", function () {
  it("passes namespaced stack config, unwrapping secrets, to provider.configure", async () => {
    const configured: pulumi.dynamic.ResourceProvider & { token?: string } = {
      async configure(req) {
        this.token = req.config.require("token"); // "project:token"
      },
      async create() {
        return { id: "c", outs: { tokenLength: this.token?.length ?? -1, project: process.env.PULUMI_NODEJS_PROJECT } };
      },
    };
    const secret = "tok-9f8e7d6c5b4a";
    const server = await startDynamicProviderServer({ project: "kvm", config: { "kvm:token": secret, "kvm:other": 3 }, secretConfigKeys: ["kvm:token"] });
    try {
      const t = await serializeDynamicProvider(configured);
      const r = await server.create(dynamicUrn("c", { project: "kvm" }), withProvider({}, t));
      assert.deepEqual(withoutProvider(r.outs), { tokenLength: secret.length, project: "kvm" });
      assert.equal(server.output(), "");
    } finally {
      await server.stop();
    }
  });
});

// --- How a serialised provider finds its code -------------------------------

/** Absolute path of a repo .ts module, computed here (at serialisation time) and captured as a string. */
const FRAMING_TS = path.resolve(__dirname, "../../provider/transport/framing");
/** A module-level zod schema: an object full of bound native functions. */
const portSchema = z.number().int().min(1).max(65535);

/** Tries each way of loading code from inside a provider method; reports results as outputs. */
const probeProvider: pulumi.dynamic.ResourceProvider = {
  async create() {
    const out: Record<string, string> = {};
    const probe = async (key: string, f: () => unknown) => {
      try {
        out[key] = String(await f());
      } catch (e) {
        out[key] = "ERR " + (e as Error).message.split("\n")[0];
      }
    };
    await probe("builtin", () => typeof (require("node:fs") as typeof import("node:fs")).readFileSync);
    await probe("capturedBuiltin", () => typeof fs.readFileSync); // top-level `import * as fs`
    await probe("packageName", () => typeof require("zod").z);
    await probe("dynamicImportPackage", async () => typeof (await import("zod")).z);
    await probe("dirname", () => JSON.stringify([__dirname, __filename]));
    await probe("dirnameRelative", () => require(__dirname + "/provider/transport/framing").shQuote("x"));
    await probe("absoluteTs", () => require(FRAMING_TS).shQuote("a'b"));
    await probe("dynamicImportAbsoluteTs", async () => typeof (await import(FRAMING_TS + ".ts")).shQuote);
    await probe("capturedLocalModule", () => shQuote("a'b")); // top-level `import { shQuote } from "../../provider/..."`
    return { id: "probe", outs: out };
  },
};

describe("serialised providers: how imports resolve in the server", function () {
  let text: string;
  before(async () => {
    text = await serializeDynamicProvider(probeProvider);
  });

  async function probeWith(opts: Parameters<typeof startDynamicProviderServer>[0]): Promise<Record<string, unknown>> {
    const server = await startDynamicProviderServer(opts);
    try {
      return withoutProvider((await server.create(dynamicUrn("probe"), withProvider({}, text))).outs);
    } finally {
      await server.stop();
    }
  }

  it("the serialised text: builtins become require(), local modules are copied by value, __dirname is not captured", () => {
    assert.match(text, /^const fs = require\("fs"\);$/m);
    assert.ok(text.includes(`FRAMING_TS: ${JSON.stringify(FRAMING_TS)}`), "absolute path captured as a string");
    assert.match(text, /function __shQuote\(/); // framing.ts's shQuote copied in
    assert.ok(!/require\("[^"]*framing[^"]*"\)/.test(text.replace(/require\(__dirname/g, "")), "no require of framing by name");
    assert.ok(!text.includes("__dirname:"), "__dirname is left to the server's module");
  });

  it("plain node server (what the engine runs), cwd = repo root", async () => {
    assert.deepEqual(await probeWith({}), {
      builtin: "function",
      capturedBuiltin: "function",
      packageName: "object",
      dynamicImportPackage: "object",
      dirname: '[".",""]',
      // __dirname is "." in the server, so this resolves against the server's cwd
      dirnameRelative: "ERR Cannot find module './provider/transport/framing'",
      absoluteTs: `ERR Cannot find module '${FRAMING_TS}'`,
      dynamicImportAbsoluteTs: `ERR Unknown file extension ".ts" for ${FRAMING_TS}.ts`,
      capturedLocalModule: "'a'\\''b'",
    });
  });

  it("plain node server, cwd outside the repo: package names no longer resolve", async () => {
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), "kvmtune-nocwd-"));
    try {
      const r = await probeWith({ cwd: elsewhere });
      assert.equal(r.packageName, "ERR Cannot find module 'zod'");
      assert.equal(r.dynamicImportPackage, `ERR Cannot find package 'zod' imported from ${elsewhere}/`);
      assert.equal(r.capturedLocalModule, "'a'\\''b'");
      assert.equal(r.builtin, "function");
    } finally {
      rmTree(elsewhere);
    }
  });

  it("server with ts-node registered: absolute .ts paths load via require (not import())", async () => {
    assert.deepEqual(await probeWith({ tsNode: true }), {
      builtin: "function",
      capturedBuiltin: "function",
      packageName: "object",
      dynamicImportPackage: "object",
      dirname: '[".",""]',
      dirnameRelative: "'x'", // only because cwd = repo root
      absoluteTs: "'a'\\''b'",
      dynamicImportAbsoluteTs: `ERR Unknown file extension ".ts" for ${FRAMING_TS}.ts`,
      capturedLocalModule: "'a'\\''b'",
    });
  });

  it("a captured module-level zod schema cannot be serialised; loading zod in the method can", async () => {
    const capturing: pulumi.dynamic.ResourceProvider = {
      async create(inputs) {
        return { id: "z", outs: { ok: portSchema.safeParse(inputs.port).success } };
      },
    };
    await assert.rejects(serializeDynamicProvider(capturing), /function 'bound safeParse': which could not be serialized/);

    const loading: pulumi.dynamic.ResourceProvider = {
      async create(inputs) {
        const { z } = require("zod") as typeof import("zod");
        return { id: "z", outs: { ok: z.number().int().min(1).max(65535).safeParse(inputs.port).success } };
      },
    };
    const t = await serializeDynamicProvider(loading);
    const server = await startDynamicProviderServer();
    try {
      assert.deepEqual(withoutProvider((await server.create(dynamicUrn("z"), withProvider({ port: 22 }, t))).outs), { ok: true });
    } finally {
      await server.stop();
    }
  });
});

async function rejection(p: Promise<unknown>): Promise<DynamicProviderError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof DynamicProviderError) return e;
    throw e;
  }
  assert.fail("expected the call to fail");
}

async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}
