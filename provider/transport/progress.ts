import { AsyncLocalStorage } from "node:async_hooks";
import * as path from "node:path";

/**
 * Progress for long provider steps, shown by `pulumi up` while the step runs
 * ("waiting for hv01 to come back: 30 s of 600 s") instead of a bare
 * "creating (300s)".
 *
 * How it reaches the CLI: the engine starts the dynamic-provider plugin as
 * `node …/@pulumi/pulumi/cmd/dynamic-provider <engine address>`, but the SDK
 * never connects to that address (pulumi/pulumi#6065), so `pulumi.log.*` there
 * falls back to console.log. We call the engine's `Log` RPC ourselves with
 * `ephemeral: true`: the engine turns it into a status DiagEvent for the given
 * URN, which the CLI shows as the resource row's status text while it runs and
 * leaves out of the final "Diagnostics:" section. Plain stdout/stderr lines of
 * the provider would also show (engine ≥ 3.146, pulumi/pulumi#18253), but on
 * the stack's row, without a URN, and are repeated in "Diagnostics:".
 *
 * The URN is not given to a dynamic provider's create/update: resources pass
 * their own as the hidden input URN_INPUT (`__`-keys are not displayed), and
 * the impl runs its operation in `progressScope(inputs, …)`. Without it,
 * messages go to the stack's row.
 *
 * Best effort everywhere: outside the provider process (program, unit tests,
 * bench) nothing is sent unless a sink is set; a failed RPC is dropped.
 */

/** Hidden input carrying the resource's own URN to its provider (set with pulumi.createUrn in the resource class). */
export const URN_INPUT = "__kvmtuneUrn";

/** The hidden URN input of `state`, to hand back with a read's inputs (so refresh keeps it); empty when absent. */
export function urnInputOf(state: unknown): Record<string, string> {
  const u = (state as Record<string, unknown> | undefined)?.[URN_INPUT];
  return typeof u === "string" ? { [URN_INPUT]: u } : {};
}

export interface ProgressMessage {
  message: string;
  /** The resource row it belongs to; undefined: the stack's row. */
  urn?: string;
  /** false: also listed in the final "Diagnostics:" section. Default true (status only). */
  ephemeral: boolean;
}

/** Delivers one message; must not throw. */
export type ProgressSink = (m: ProgressMessage) => Promise<void>;

interface Scope {
  urn?: string;
}

const scopes = new AsyncLocalStorage<Scope>();
let customSink: ProgressSink | undefined;
let engine: ProgressSink | null | undefined; // null: looked, none
let chain: Promise<void> = Promise.resolve();

/** Replaces where messages go (tests, bench, a CLI); undefined: back to the engine when in the provider process. */
export function setProgressSink(sink: ProgressSink | undefined): void {
  customSink = sink;
}

/**
 * The engine address when this process is the Node dynamic-provider plugin:
 * cmd/dynamic-provider's main(args) takes it as its first argument.
 */
export function engineAddressFromArgv(argv: readonly string[]): string | undefined {
  if (!/[\\/]@pulumi[\\/]pulumi[\\/]cmd[\\/]dynamic-provider([\\/]index\.js)?$/.test(argv[1] ?? "")) return undefined;
  const addr = argv[2] ?? "";
  return /^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/.test(addr) ? addr : undefined;
}

/** A sink calling the engine's Log RPC at `addr`, through the SDK's own generated client and its grpc-js. */
export function engineLogSink(addr: string): ProgressSink {
  const pulumiDir = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
  // The generated client needs credentials from the same grpc-js it was built with: the SDK's.
  const grpc = require(require.resolve("@grpc/grpc-js", { paths: [pulumiDir] }));
  const { EngineClient } = require("@pulumi/pulumi/proto/engine_grpc_pb");
  const pb = require("@pulumi/pulumi/proto/engine_pb");
  const client = new EngineClient(addr, grpc.credentials.createInsecure());
  return (m) =>
    new Promise<void>((resolve) => {
      try {
        const req = new pb.LogRequest();
        req.setSeverity(pb.LogSeverity.INFO);
        req.setMessage(m.message);
        req.setUrn(m.urn ?? "");
        req.setEphemeral(m.ephemeral);
        client.log(req, { deadline: Date.now() + 5000 }, () => resolve());
      } catch {
        resolve();
      }
    });
}

function currentSink(): ProgressSink | undefined {
  if (customSink) return customSink;
  if (engine === undefined) {
    const addr = engineAddressFromArgv(process.argv);
    try {
      engine = addr ? engineLogSink(addr) : null;
    } catch {
      engine = null;
    }
  }
  return engine ?? undefined;
}

/**
 * Says what the current operation is doing, on its resource's row. Returns at
 * once; messages are delivered in order. `keep: true` also lists it in the
 * final "Diagnostics:" section.
 */
export function progress(message: string, opts: { keep?: boolean } = {}): void {
  const sink = currentSink();
  if (!sink) return;
  const m: ProgressMessage = { message, urn: scopes.getStore()?.urn, ephemeral: !opts.keep };
  chain = chain.then(() => sink(m).catch(() => undefined));
}

/** Waits (at most `ms`) until the messages sent so far were delivered. */
export async function flushProgress(ms = 2000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([chain, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

/**
 * Runs one provider operation with its resource's URN (from `inputs[URN_INPUT]`)
 * as the target of `progress` calls anywhere below it, including concurrent
 * operations in the same process. Flushes before returning, so no status
 * arrives after the engine has the result.
 */
export async function progressScope<T>(inputs: unknown, fn: () => Promise<T>): Promise<T> {
  const u = (inputs as Record<string, unknown> | undefined)?.[URN_INPUT];
  const urn = typeof u === "string" && u.startsWith("urn:pulumi:") ? u : undefined;
  try {
    return await scopes.run({ urn }, fn);
  } finally {
    await flushProgress();
  }
}

export interface DuringOptions {
  /** First message after this long (quick work says nothing). Default 3000. */
  firstAfterMs?: number;
  /** Then one every this long. Default 10000 (one line each in non-interactive logs). */
  everyMs?: number;
  /** Said at the end when something was said during the work: (seconds) => text. */
  done?: (seconds: number) => string;
}

/**
 * Reports `describe(elapsed seconds)` while `work` runs: after firstAfterMs,
 * then every everyMs; and `done(seconds)` at the end if anything was said.
 */
export async function during<T>(describe: (seconds: number) => string, work: Promise<T>, opts: DuringOptions = {}): Promise<T> {
  if (!currentSink()) return work;
  const t0 = Date.now();
  const secs = () => Math.floor((Date.now() - t0) / 1000);
  let said = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = (delay: number) => {
    timer = setTimeout(() => {
      said = true;
      progress(describe(secs()));
      tick(opts.everyMs ?? 10_000);
    }, delay);
    timer.unref();
  };
  tick(opts.firstAfterMs ?? 3000);
  try {
    return await work;
  } finally {
    clearTimeout(timer);
    if (said && opts.done) progress(opts.done(secs()));
  }
}

/** "waiting for hv01 to come back: 30 s of 600 s" */
export function waitMessage(what: string, seconds: number, limitSeconds: number): string {
  return `${what}: ${seconds} s of ${limitSeconds} s`;
}
