// Runs dynamic providers the way `pulumi up` does: the provider object is
// serialised into the `__provider` string with the SDK's own closure serialiser,
// and every call goes over gRPC to a real `@pulumi/pulumi/cmd/dynamic-provider`
// process, which deserialises that string (require-from-string) and calls
// check/diff/create/read/update/delete. The requests carry what the Go engine
// sends (see sdk/go/common/resource/plugin/provider_plugin.go), so a provider
// that passes here has also passed closure serialisation, proto Struct
// round-trips, and the server's error encoding.
//
// What the real engine does that matters here:
// - launches `node <resolved cmd/dynamic-provider> <engine address>` (the
//   `pulumi-resource-pulumi-nodejs` shim) with cwd = the project directory and
//   env = the CLI's env plus PULUMI_NODEJS_PROJECT/PULUMI_PROJECT/PULUMI_CONFIG;
//   no ts-node. The server (3.248.0) only checks that the address argument is
//   present and never dials it; `pulumi.log.*` inside a provider falls back to
//   console output because PULUMI_NODEJS_ENGINE is not set for plugins.
//   The engine shows the plugin's stdout/stderr lines to the user, so here they
//   are the "log" (`logs`, `output()`).
// - calls Handshake (UNIMPLEMENTED here), GetPluginInfo, then Configure with the
//   whole stack config (namespaced keys, secrets as signature objects). The
//   server answers acceptSecrets=false, so all later requests carry secrets as
//   plain values (the engine re-marks outputs by input name afterwards).
// - Diff/Update send olds = old *outputs*, news = checked new inputs, and
//   oldInputs separately (the Node server ignores oldInputs); Delete sends the
//   old outputs. Each of these carries `__provider`, and the server uses the one
//   in `news` (or olds when news' is unknown) - but Delete and Read use the old
//   state's, i.e. the provider text that was saved when the resource was made.
// - A create/update error with `id` is a partial failure: the engine stores the
//   error's `properties` as the resource's whole state, verbatim. The server
//   does not add `__provider` to them, so a provider must copy
//   `inputs.__provider` in itself or that resource can't be deleted or refreshed.
import { ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as net from "node:net";
import * as path from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import type * as grpcTypes from "@grpc/grpc-js";
import type * as structTypes from "google-protobuf/google/protobuf/struct_pb";
import type * as provrpcTypes from "@pulumi/pulumi/proto/provider_grpc_pb";
import type * as provprotoTypes from "@pulumi/pulumi/proto/provider_pb";
import type * as pluginTypes from "@pulumi/pulumi/proto/plugin_pb";
import type * as statusTypes from "@pulumi/pulumi/proto/status_pb";
import type * as emptyTypes from "google-protobuf/google/protobuf/empty_pb";
import { pdeathsigPrefix, stopProcess, track } from "./processes";
import { UNKNOWN_VALUE } from "../../provider/spec/unknown";

// Load gRPC and protobuf through @pulumi/pulumi's own resolution, so the client
// stubs, the messages and grpc-js are the very instances the SDK's generated
// code uses (a second copy of grpc-js or google-protobuf would not interoperate).
const sdkPackageJson = require.resolve("@pulumi/pulumi/package.json");
const SDK_DIR = path.dirname(sdkPackageJson);
const sdkRequire = createRequire(sdkPackageJson);
const grpc: typeof grpcTypes = sdkRequire("@grpc/grpc-js");
const structproto: typeof structTypes = sdkRequire("google-protobuf/google/protobuf/struct_pb");
const emptyproto: typeof emptyTypes = sdkRequire("google-protobuf/google/protobuf/empty_pb");
const provrpc: typeof provrpcTypes = sdkRequire("./proto/provider_grpc_pb");
const provproto: typeof provprotoTypes = sdkRequire("./proto/provider_pb");
const statusproto: typeof statusTypes = sdkRequire("./proto/status_pb");

/** The dynamic-provider server script, as the `pulumi-resource-pulumi-nodejs` shim resolves it. */
export const DYNAMIC_PROVIDER_SCRIPT = path.join(SDK_DIR, "cmd", "dynamic-provider", "index.js");
/** Repository root: the default cwd of the server (the engine uses the project directory). */
export const REPO_ROOT = path.resolve(__dirname, "..", "..");

export const PROVIDER_KEY = "__provider";
/** How the engine encodes an unknown (preview-time) value (`rpc.unknownValue`): the product's own constant. */
export const UNKNOWN = UNKNOWN_VALUE;
/** Secret signature key/value of the wire format (`rpc.specialSigKey` / `specialSecretSig`). */
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

export const DYNAMIC_RESOURCE_TYPE = "pulumi-nodejs:dynamic:Resource";

export type Props = Record<string, unknown>;

/**
 * The `__provider` text the SDK stores for `provider` (exactly what
 * `pulumi.dynamic.Resource` does: `serializeFunction(() => provider, { allowSecrets: true })`).
 */
export async function serializeDynamicProvider(provider: pulumi.dynamic.ResourceProvider): Promise<string> {
  return (await serializeDynamicProviderDetailed(provider)).text;
}

/** As `serializeDynamicProvider`, plus whether the closure captured a secret Output. */
export async function serializeDynamicProviderDetailed(
  provider: pulumi.dynamic.ResourceProvider,
): Promise<{ text: string; containsSecrets: boolean }> {
  // Loaded on demand, as the SDK does (its dependencies are slow to load).
  const sc: typeof import("@pulumi/pulumi/runtime/closure/serializeClosure") = require("@pulumi/pulumi/runtime/closure/serializeClosure");
  const sf = await sc.serializeFunction(() => provider, { allowSecrets: true });
  return { text: sf.text, containsSecrets: sf.containsSecrets };
}

/** `props` plus the `__provider` key, as every resource request carries it. */
export function withProvider(props: Props, providerText: string): Props {
  return { ...props, [PROVIDER_KEY]: providerText };
}

/** `props` without the `__provider` key. */
export function withoutProvider(props: Props): Props {
  const { [PROVIDER_KEY]: _, ...rest } = props;
  return rest;
}

/** The URN the engine gives a `pulumi.dynamic.Resource` named `name` (no parent). */
export function dynamicUrn(name: string, opts: { stack?: string; project?: string; type?: string } = {}): string {
  const type = opts.type ?? DYNAMIC_RESOURCE_TYPE;
  return `urn:pulumi:${opts.stack ?? "stack"}::${opts.project ?? "project"}::${type}::${name}`;
}

/** `ErrorResourceInitFailed` as the engine decodes it: the resource exists but is not healthy (partial state). */
export interface ResourceInitFailure {
  id: string;
  properties: Props;
  reasons: string[];
}

/**
 * A failed RPC: `message` is the gRPC status message (for create/update, the
 * provider error's `message`; for the others, also its message), `code` the
 * gRPC status code, `initFailure` the partial state if the provider threw an
 * error with an `id` (create/update only).
 */
export class DynamicProviderError extends Error {
  constructor(
    /** The RPC that failed ("create", "check", ...). */
    readonly method: string,
    readonly code: number,
    readonly details: string,
    readonly initFailure?: ResourceInitFailure,
  ) {
    super(details);
    this.name = "DynamicProviderError";
  }
}

export interface CheckResult {
  inputs: Props;
  failures: { property: string; reason: string }[];
}

export interface DiffResult {
  changes: "none" | "some" | "unknown";
  replaces: string[];
  deleteBeforeReplace: boolean;
}

export interface ReadResult {
  id: string;
  props: Props;
  /** Present only when the provider's read returned `inputs`. */
  inputs?: Props;
}

export interface LogLine {
  stream: "stdout" | "stderr";
  text: string;
}

export interface DynamicProviderServerOptions {
  /**
   * Start node with `-r ts-node/register/transpile-only`, so a provider may
   * `require` .ts files. The real engine never does this: use only to test
   * providers whose implementation lives in this repo's .ts sources.
   */
  tsNode?: boolean;
  /** Server working directory; bare package names resolve from here. Default: the repo root. */
  cwd?: string;
  /** Added to the server's environment (on top of this process's). */
  env?: Record<string, string>;
  /** Project name: sets PULUMI_NODEJS_PROJECT/PULUMI_PROJECT as the engine does. Default "project". */
  project?: string;
  /**
   * Stack config sent with the initial Configure (namespaced keys, e.g.
   * "project:password"), also put in PULUMI_CONFIG. `null`: send no Configure.
   * Default `{}` (the engine always configures the provider before using it).
   */
  config?: Props | null;
  /** Config keys sent as secrets in Configure. */
  secretConfigKeys?: string[];
  /** Default 30 s (ts-node start-up is slower). */
  startTimeoutMs?: number;
}

export interface DynamicProviderClient {
  /** Server process PID (registered with `track()`). */
  pid: number;
  /** 127.0.0.1 port the server listens on. */
  port: number;
  /** Connections made to the engine address given to the server (none expected: it never dials). */
  readonly engineConnections: number;
  /** Every line the server printed after its port line, in order (what the engine would show). */
  readonly logs: readonly LogLine[];
  /** All logged text, stdout and stderr, joined with newlines. */
  output(): string;
  /** Version reported by GetPluginInfo (the SDK version). */
  getPluginInfo(): Promise<string>;
  /**
   * Configure as the engine does (`variables` + `args`, acceptSecrets etc.).
   * The server caches each deserialised provider and calls its `configure`
   * once, with the config current at its first use.
   */
  configure(config?: Props, secretKeys?: string[]): Promise<{ acceptSecrets: boolean }>;
  check(urn: string, olds: Props, news: Props, randomSeed?: Uint8Array): Promise<CheckResult>;
  diff(id: string, urn: string, olds: Props, news: Props, oldInputs?: Props): Promise<DiffResult>;
  create(urn: string, props: Props): Promise<{ id: string; outs: Props }>;
  read(id: string, urn: string, props: Props, inputs?: Props): Promise<ReadResult>;
  update(id: string, urn: string, olds: Props, news: Props, oldInputs?: Props): Promise<{ outs: Props }>;
  delete(id: string, urn: string, props: Props, oldInputs?: Props): Promise<void>;
  /** Closes the client, kills the server by PID (SIGTERM, then SIGKILL) and closes the fake engine listener. */
  stop(): Promise<void>;
}

/** Starts a dynamic-provider server (the engine's plugin process) and connects a client to it. */
export async function startDynamicProviderServer(opts: DynamicProviderServerOptions = {}): Promise<DynamicProviderClient> {
  const project = opts.project ?? "project";
  const config = opts.config === undefined ? {} : opts.config;

  // The address argument is mandatory; listen on it so a test can see it stays unused.
  let engineConnections = 0;
  const engine = net.createServer((s) => {
    engineConnections++;
    s.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    engine.once("error", reject);
    engine.listen(0, "127.0.0.1", () => resolve());
  });
  const engineAddress = `127.0.0.1:${(engine.address() as net.AddressInfo).port}`;
  const closeEngine = () => {
    try {
      engine.close();
    } catch {
      // already closed
    }
  };

  const nodeArgs = opts.tsNode ? ["-r", require.resolve("ts-node/register/transpile-only")] : [];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PULUMI_NODEJS_PROJECT: project,
    PULUMI_PROJECT: project,
    ...(config ? { PULUMI_CONFIG: JSON.stringify(configStrings(config)) } : {}),
    // ts-node looks for tsconfig.json from the cwd; pin the repo's so `cwd` can be anywhere.
    ...(opts.tsNode ? { TS_NODE_PROJECT: path.join(REPO_ROOT, "tsconfig.json") } : {}),
    ...opts.env,
  };
  const argv = [...nodeArgs, DYNAMIC_PROVIDER_SCRIPT, engineAddress];
  const usePdeathsig = fs.existsSync(pdeathsigPrefix[0]);
  const [cmd, ...args] = usePdeathsig ? [...pdeathsigPrefix, process.execPath, ...argv] : [process.execPath, ...argv];
  const child = spawn(cmd, args, { cwd: opts.cwd ?? REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  track(child, `dynamic-provider ${engineAddress}`, closeEngine);

  const logs: LogLine[] = [];
  let port: number;
  try {
    port = await readPort(child, logs, opts.startTimeoutMs ?? 30_000);
  } catch (e) {
    await stopProcess(child);
    throw e;
  }

  const client = new provrpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const call = <Req, Res>(method: string, req: Req): Promise<Res> =>
    new Promise<Res>((resolve, reject) => {
      const fn = (client as unknown as Record<string, Function>)[method];
      fn.call(client, req, (err: grpcTypes.ServiceError | null, res: Res) => (err ? reject(toError(method, err)) : resolve(res)));
    });

  const api: DynamicProviderClient = {
    pid: child.pid!,
    port,
    get engineConnections() {
      return engineConnections;
    },
    logs,
    output: () => logs.map((l) => l.text).join("\n"),

    async getPluginInfo() {
      const res = await call<emptyTypes.Empty, pluginTypes.PluginInfo>("getPluginInfo", new emptyproto.Empty());
      return res.getVersion();
    },

    async configure(cfg: Props = {}, secretKeys: string[] = []) {
      const req = new provproto.ConfigureRequest();
      const vars = req.getVariablesMap();
      for (const [k, v] of Object.entries(cfg)) vars.set(`pulumi-nodejs:config:${k}`, typeof v === "string" ? v : JSON.stringify(v));
      const args: Props = {};
      for (const [k, v] of Object.entries(cfg)) args[k] = secretKeys.includes(k) ? { [SIG_KEY]: SECRET_SIG, value: v } : v;
      req.setArgs(toStruct(args));
      req.setAcceptsecrets(true);
      req.setAcceptresources(true);
      req.setSendsOldInputs(true);
      req.setSendsOldInputsToDelete(true);
      const res = await call<provprotoTypes.ConfigureRequest, provprotoTypes.ConfigureResponse>("configure", req);
      return { acceptSecrets: res.getAcceptsecrets() };
    },

    async check(urn, olds, news, randomSeed = randomBytes(32)) {
      const req = new provproto.CheckRequest();
      setUrn(req, urn);
      req.setOlds(toStruct(olds));
      req.setNews(toStruct(news));
      req.setRandomseed(randomSeed);
      const res = await call<provprotoTypes.CheckRequest, provprotoTypes.CheckResponse>("check", req);
      return {
        inputs: fromStruct(res.getInputs()),
        failures: res.getFailuresList().map((f) => ({ property: f.getProperty(), reason: f.getReason() })),
      };
    },

    async diff(id, urn, olds, news, oldInputs) {
      const req = new provproto.DiffRequest();
      req.setId(id);
      setUrn(req, urn);
      req.setOlds(toStruct(olds));
      req.setNews(toStruct(news));
      req.setOldInputs(toStruct(oldInputs ?? olds));
      const res = await call<provprotoTypes.DiffRequest, provprotoTypes.DiffResponse>("diff", req);
      const C = provproto.DiffResponse.DiffChanges;
      const changes = res.getChanges();
      return {
        changes: changes === C.DIFF_SOME ? "some" : changes === C.DIFF_NONE ? "none" : "unknown",
        replaces: res.getReplacesList(),
        deleteBeforeReplace: res.getDeletebeforereplace(),
      };
    },

    async create(urn, props) {
      const req = new provproto.CreateRequest();
      setUrn(req, urn);
      req.setProperties(toStruct(props));
      const res = await call<provprotoTypes.CreateRequest, provprotoTypes.CreateResponse>("create", req);
      return { id: res.getId(), outs: fromStruct(res.getProperties()) };
    },

    async read(id, urn, props, inputs) {
      const req = new provproto.ReadRequest();
      req.setId(id);
      setUrn(req, urn);
      req.setProperties(toStruct(props));
      if (inputs) req.setInputs(toStruct(inputs));
      const res = await call<provprotoTypes.ReadRequest, provprotoTypes.ReadResponse>("read", req);
      const out: ReadResult = { id: res.getId(), props: fromStruct(res.getProperties()) };
      if (res.hasInputs()) out.inputs = fromStruct(res.getInputs());
      return out;
    },

    async update(id, urn, olds, news, oldInputs) {
      const req = new provproto.UpdateRequest();
      req.setId(id);
      setUrn(req, urn);
      req.setOlds(toStruct(olds));
      req.setNews(toStruct(news));
      req.setOldInputs(toStruct(oldInputs ?? olds));
      const res = await call<provprotoTypes.UpdateRequest, provprotoTypes.UpdateResponse>("update", req);
      return { outs: fromStruct(res.getProperties()) };
    },

    async delete(id, urn, props, oldInputs) {
      const req = new provproto.DeleteRequest();
      req.setId(id);
      setUrn(req, urn);
      req.setProperties(toStruct(props));
      if (oldInputs) req.setOldInputs(toStruct(oldInputs));
      await call<provprotoTypes.DeleteRequest, emptyTypes.Empty>("delete", req);
    },

    async stop() {
      client.close();
      await stopProcess(child); // runs closeEngine via the track() cleanup
      closeEngine();
    },
  };

  try {
    if (config) await api.configure(config, opts.secretConfigKeys ?? []);
  } catch (e) {
    await api.stop();
    throw e;
  }
  return api;
}

/** Reads the port line, then keeps collecting output lines into `logs`. */
function readPort(child: ChildProcess, logs: LogLine[], timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let port: number | undefined;
    const partial = { stdout: "", stderr: "" };
    const onData = (stream: "stdout" | "stderr") => (chunk: Buffer) => {
      partial[stream] += chunk.toString();
      const lines = partial[stream].split("\n");
      partial[stream] = lines.pop()!;
      for (const text of lines) {
        if (stream === "stdout" && port === undefined) {
          const p = Number(text.trim());
          if (Number.isInteger(p) && p > 0) {
            port = p;
            clearTimeout(timer);
            resolve(p);
            continue;
          }
        }
        logs.push({ stream, text });
      }
    };
    child.stdout!.on("data", onData("stdout"));
    child.stderr!.on("data", onData("stderr"));
    const flush = () => {
      for (const stream of ["stdout", "stderr"] as const) if (partial[stream]) logs.push({ stream, text: partial[stream] });
      partial.stdout = partial.stderr = "";
    };
    child.once("exit", (code, signal) => {
      flush();
      if (port === undefined) {
        clearTimeout(timer);
        reject(new Error(`dynamic-provider server exited (${signal ?? code}) before printing its port:\n${logs.map((l) => l.text).join("\n")}`));
      }
    });
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    const timer = setTimeout(() => {
      reject(new Error(`dynamic-provider server printed no port within ${timeoutMs} ms:\n${logs.map((l) => l.text).join("\n")}`));
    }, timeoutMs);
  });
}

function setUrn(req: { setUrn(v: string): unknown; setName(v: string): unknown; setType(v: string): unknown }, urn: string): void {
  req.setUrn(urn);
  // The engine fills name and type from the URN: ...::<qualified type>::<name>
  const parts = urn.split("::");
  req.setName(parts[parts.length - 1] ?? "");
  const qualified = parts[parts.length - 2] ?? "";
  req.setType(qualified.slice(qualified.lastIndexOf("$") + 1));
}

function toStruct(props: Props): structTypes.Struct {
  // Struct.fromJavaScript rejects `undefined`; the engine never sends it (JSON drops it).
  return structproto.Struct.fromJavaScript(JSON.parse(JSON.stringify(props)));
}

function fromStruct(s: structTypes.Struct | undefined): Props {
  return (s?.toJavaScript() ?? {}) as Props;
}

function configStrings(config: Props): Record<string, string> {
  return Object.fromEntries(Object.entries(config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
}

/** Decodes a gRPC error, including `ErrorResourceInitFailed` carried in `grpc-status-details-bin`. */
function toError(method: string, err: grpcTypes.ServiceError): DynamicProviderError {
  let initFailure: ResourceInitFailure | undefined;
  for (const bin of err.metadata?.get("grpc-status-details-bin") ?? []) {
    const status = statusproto.Status.deserializeBinary(new Uint8Array(bin as Buffer));
    for (const any of status.getDetailsList()) {
      const detail = any.unpack(provproto.ErrorResourceInitFailed.deserializeBinary, "pulumirpc.ErrorResourceInitFailed");
      if (detail) {
        initFailure = { id: detail.getId(), properties: fromStruct(detail.getProperties()), reasons: detail.getReasonsList() };
      }
    }
  }
  return new DynamicProviderError(method, err.code, err.details ?? err.message, initFailure);
}
