// Timing hook for bench/fixed-cost: records, as JSON lines in $KVMTUNE_COST_LOG,
// when this process started, how long each first `require` took (self time per
// package), each provider gRPC call, each kvmtune impl call, and each SSH
// connect and remote command. Loaded with `node --require` into the dynamic-
// provider plugin (NODE_OPTIONS), and imported by the bench for its own process
// (the inline program's facts read). Measures only: it changes no result.
import * as fs from "node:fs";
import Module = require("node:module");

export interface CostEvent {
  /** "provider": the dynamic-provider plugin; "shim": the plugin's `node -e require.resolve` launcher; "program": the bench process (the inline program). */
  proc: "provider" | "shim" | "program";
  pid: number;
  kind: "process" | "require" | "rpc" | "impl" | "connect" | "command";
  name: string;
  /** Epoch ms (fractional). */
  start: number;
  end: number;
  /** require: self time per package of this load and everything it loaded first. */
  selfByPackage?: Record<string, number>;
}

const proc: CostEvent["proc"] = process.argv[1] === undefined ? "shim" : /[\\/]@pulumi[\\/]pulumi[\\/]cmd[\\/]dynamic-provider/.test(process.argv[1]) ? "provider" : "program";
const now = () => performance.timeOrigin + performance.now();

function record(e: Omit<CostEvent, "proc" | "pid">): void {
  // Read each time: the bench sets it for its own process after importing this hook.
  const logPath = process.env.KVMTUNE_COST_LOG;
  if (logPath) fs.appendFileSync(logPath, `${JSON.stringify({ proc, pid: process.pid, ...e })}\n`);
}

/** The package a file belongs to: the last node_modules segment, or "kvmtune" for this repo's dist. */
function packageOf(file: string): string {
  if (!file.includes("/")) return "node:builtin";
  const parts = file.split("/node_modules/");
  if (parts.length > 1) {
    const rest = parts[parts.length - 1].split("/");
    const pkg = rest[0].startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0];
    if (pkg !== "kvmtune") return pkg;
  }
  return /\/dist\//.test(file) ? "kvmtune" : "other";
}

// Self time per package: a load's own time minus what its nested first loads took.
interface Frame {
  start: number;
  child: number;
  self: Record<string, number>;
}
const frames: Frame[] = [];
const moduleApi = Module as unknown as {
  _load(request: string, parent: unknown, isMain: boolean): unknown;
  _resolveFilename(request: string, parent: unknown, isMain: boolean): string;
  _cache: Record<string, unknown>;
};
const origLoad = moduleApi._load;
moduleApi._load = function (request: string, parent: unknown, isMain: boolean) {
  let file: string;
  try {
    file = request.startsWith("node:") ? request : moduleApi._resolveFilename(request, parent, isMain);
  } catch {
    return origLoad.call(this, request, parent, isMain);
  }
  if (moduleApi._cache[file] || !file.includes("/")) return origLoad.call(this, request, parent, isMain);
  const frame: Frame = { start: now(), child: 0, self: {} };
  frames.push(frame);
  let result: unknown;
  try {
    result = origLoad.call(this, request, parent, isMain);
  } finally {
    frames.pop();
    const end = now();
    const total = end - frame.start;
    const pkg = packageOf(file);
    frame.self[pkg] = (frame.self[pkg] ?? 0) + total - frame.child;
    const outer = frames[frames.length - 1];
    if (outer) {
      outer.child += total;
      for (const [k, v] of Object.entries(frame.self)) outer.self[k] = (outer.self[k] ?? 0) + v;
    } else {
      // Only outermost loads are logged: each carries its whole tree's self times.
      record({ kind: "require", name: isMain ? `main:${request}` : request, start: frame.start, end, selfByPackage: frame.self });
    }
  }
  instrument(file, result);
  return result;
};

function wrapExports(exp: Record<string, unknown>, kind: CostEvent["kind"], prefix: string): void {
  for (const [key, fn] of Object.entries(exp)) {
    if (typeof fn !== "function" || /^[A-Z]/.test(key)) continue;
    try {
      exp[key] = async function (this: unknown, ...args: unknown[]) {
        const start = now();
        try {
          return await (fn as (...a: unknown[]) => unknown).apply(this, args);
        } finally {
          record({ kind, name: `${prefix}${key}`, start, end: now() });
        }
      };
    } catch {
      // a getter-only re-export: left as it is
    }
  }
}

const instrumented = new Set<string>();
function instrument(file: string, exp: unknown): void {
  if (instrumented.has(file) || !exp) return;
  const impl = /\/dist\/provider\/resources\/([a-z-]+-impl)\.js$/.exec(file);
  if (/\/provider\/host\/read-facts\.[jt]s$/.test(file)) {
    // The program's facts read (the bench's inline program loads the TypeScript source).
    instrumented.add(file);
    wrapExports(exp as Record<string, unknown>, "impl", "read-facts.");
  } else if (impl) {
    instrumented.add(file);
    wrapExports(exp as Record<string, unknown>, "impl", `${impl[1]}.`);
  } else if (/\/ssh2\/lib\/client\.js$/.test(file)) {
    instrumented.add(file);
    instrumentSsh((exp as { prototype?: unknown }).prototype as SshClientProto);
  } else if (/\/@grpc\/grpc-js\/build\/src\/server\.js$/.test(file)) {
    instrumented.add(file);
    instrumentGrpc((exp as { Server: { prototype: GrpcServerProto } }).Server.prototype);
  }
}

interface SshClientProto {
  connect(this: NodeJS.EventEmitter, cfg: { host?: string; port?: number }): unknown;
  exec(this: unknown, cmd: string, ...rest: unknown[]): unknown;
}
function instrumentSsh(proto: SshClientProto): void {
  const connect = proto.connect;
  proto.connect = function (cfg) {
    const start = now();
    this.once("ready", () => record({ kind: "connect", name: `${cfg.host ?? "sock"}:${cfg.port ?? ""}`, start, end: now() }));
    return connect.call(this, cfg);
  };
  const exec = proto.exec;
  proto.exec = function (cmd, ...rest) {
    const start = now();
    const cb = rest[rest.length - 1] as (err: Error | undefined, ch: NodeJS.EventEmitter) => void;
    rest[rest.length - 1] = (err: Error | undefined, ch: NodeJS.EventEmitter) => {
      ch?.once("close", () => record({ kind: "command", name: cmd.slice(0, 40), start, end: now() }));
      cb(err, ch);
    };
    return exec.call(this, cmd, ...rest);
  };
}

interface GrpcServerProto {
  addService(service: Record<string, { originalName?: string }>, impl: Record<string, (call: unknown, cb: (...a: unknown[]) => void) => unknown>): void;
}
function instrumentGrpc(proto: GrpcServerProto): void {
  const addService = proto.addService;
  proto.addService = function (service, impl) {
    const wrapped: typeof impl = {};
    for (const key of Object.keys(service)) {
      const name = service[key]?.originalName ?? key;
      const fn = impl[key] ?? impl[name];
      if (typeof fn !== "function") continue;
      wrapped[key] = function (this: unknown, call, cb) {
        if (typeof cb !== "function") return fn.call(impl, call, cb);
        const start = now();
        return fn.call(impl, call, (...a: unknown[]) => {
          record({ kind: "rpc", name, start, end: now() });
          cb(...a);
        });
      };
    }
    // The SDK's service is a class instance: its methods live on the prototype, so every one is wrapped above.
    return addService.call(this, service, wrapped);
  };
}

// Node's own start-up (before this hook runs) is the span's start; a process other than the bench also logs its exit.
const started = now();
record({ kind: "process", name: "start", start: performance.timeOrigin, end: started });
if (proc !== "program") process.on("exit", () => record({ kind: "process", name: "exit", start: started, end: now() }));
