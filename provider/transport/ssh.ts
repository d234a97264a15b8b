import type { Client, ClientChannel, ConnectConfig } from "ssh2";
import type { Duplex } from "node:stream";
import { connectionSecrets, parseConnection, type ConnectionSpec, type EndpointSpec } from "../spec/connection";
import { afterMarker, frameCommand, sudoRefusal } from "./framing";
import { during } from "./progress";
import { describePin, fingerprint, hostKeyAlgorithms, mergePins, parseHostKey, pinFromKnownHosts, pinIsEmpty, publicKeyLine, verifyHostKey } from "./hostkey";
import { redact } from "./redact";
import { recordCommand, recordConnection } from "./stats";
import type { RemoteSession, RunOptions, RunResult } from "./types";

/** An SSH failure; its message never carries secrets. `kind` lets callers and tests branch without parsing text. */
export class TransportError extends Error {
  /**
   * For a "timeout": what the script had printed on stdout when it was given up
   * on (after the framing marker; undefined when the marker never came), so a
   * caller can tell which step was running. Redacted like the message.
   */
  readonly partialStdout?: string;

  constructor(
    readonly kind: "unreachable" | "host-key" | "auth" | "sudo" | "lost" | "timeout" | "protocol",
    message: string,
    secrets: readonly string[] = [],
    partialStdout?: string,
    /** The command never started (the connection was gone before the channel opened): running it again is safe. */
    readonly notStarted = false,
  ) {
    super(redact(message, secrets));
    this.name = "TransportError";
    if (partialStdout !== undefined) this.partialStdout = redact(partialStdout, secrets);
  }
}

const RETRYABLE = /ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ECONNRESET|EAI_AGAIN|Timed out while waiting for handshake|Connection lost before handshake/;

function target(e: EndpointSpec): string {
  return `${e.user}@${e.host}:${e.port}`;
}

interface HostKeyOutcome {
  presented?: Buffer;
  refusal?: string;
}

function connectConfig(e: EndpointSpec, outcome: HostKeyOutcome, sock?: Duplex): ConnectConfig {
  const pin = mergePins(e.hostKey ? parseHostKey(e.hostKey) : undefined, e.knownHosts ? pinFromKnownHosts(e.knownHosts, e.host, e.port) : undefined);
  const algorithms = hostKeyAlgorithms(pin);
  return {
    host: sock ? undefined : e.host,
    port: sock ? undefined : e.port,
    sock,
    username: e.user,
    privateKey: e.privateKey,
    passphrase: e.privateKeyPassword,
    password: e.password,
    agent: e.agentSocketPath,
    readyTimeout: e.perDialTimeout * 1000,
    keepaliveInterval: 5000,
    keepaliveCountMax: 3,
    algorithms: algorithms ? { serverHostKey: algorithms as never } : undefined,
    hostVerifier: (key: Buffer) => {
      outcome.presented = key;
      if (e.insecureIgnoreHostKey) return true;
      const got = `${fingerprint(key)} (${publicKeyLine(key)})`;
      if (pinIsEmpty(pin) && !pin?.revoked.length) {
        outcome.refusal = `no host key pinned for ${e.host}:${e.port}; it presented ${got}. Set connection.hostKey (or knownHosts) to pin it, or insecureIgnoreHostKey: true to skip the check. No command was run.`;
        return false;
      }
      const verdict = verifyHostKey(pin!, key);
      if (verdict.ok) return true;
      outcome.refusal =
        verdict.reason === "revoked"
          ? `host key of ${e.host}:${e.port} is marked @revoked in knownHosts: ${got}. No command was run.`
          : `host key mismatch for ${e.host}:${e.port}: expected ${describePin(pin!)}, got ${got}. No command was run; if the host was reinstalled, update the pinned key.`;
      return false;
    },
  };
}

async function dialOnce(e: EndpointSpec, secrets: readonly string[], sock?: Duplex): Promise<Client> {
  const { Client } = await import("ssh2");
  const client = new Client();
  const outcome: HostKeyOutcome = {};
  return new Promise<Client>((resolve, reject) => {
    let settled = false;
    const fail = (err: TransportError) => {
      if (settled) return;
      settled = true;
      client.end();
      reject(err);
    };
    client.on("ready", () => {
      settled = true;
      resolve(client);
    });
    client.on("error", (err: Error & { level?: string; code?: string }) => {
      if (outcome.refusal) return fail(new TransportError("host-key", outcome.refusal, secrets));
      if (err.level === "client-authentication") {
        return fail(new TransportError("auth", `authentication failed for ${target(e)}: the server refused the offered credentials (${e.privateKey ? "privateKey" : e.password ? "password" : "agent"}); check connection.user and the key or password.`, secrets));
      }
      if (err.level === "client-timeout" || /Timed out/.test(err.message)) {
        return fail(new TransportError("unreachable", `connect to ${e.host}:${e.port} timed out after ${e.perDialTimeout} s`, secrets));
      }
      const kind = RETRYABLE.test(`${err.code ?? ""} ${err.message}`) ? "unreachable" : "protocol";
      fail(new TransportError(kind, `cannot connect to ${e.host}:${e.port}: ${err.message}`, secrets));
    });
    client.on("close", () => fail(new TransportError("unreachable", `connection to ${e.host}:${e.port} closed before login`, secrets)));
    client.connect(connectConfig(e, outcome, sock));
    // Nagle delays every small exec request by ~40 ms.
    client.setNoDelay(true);
  });
}

/** Dials with bounded retries on network errors only; auth and host-key refusals are final. */
async function dial(e: EndpointSpec, secrets: readonly string[], viaProxy?: Client): Promise<Client> {
  const started = Date.now();
  let last: TransportError | undefined;
  for (let attempt = 1; attempt <= e.dialErrorLimit; attempt++) {
    try {
      const sock = viaProxy ? await forwardThrough(viaProxy, e, secrets) : undefined;
      return await dialOnce(e, secrets, sock);
    } catch (err) {
      last = err instanceof TransportError ? err : new TransportError("protocol", String((err as Error).message), secrets);
      if (last.kind !== "unreachable") throw last;
      if (attempt < e.dialErrorLimit) await new Promise((r) => setTimeout(r, Math.min(4000, 250 * 2 ** (attempt - 1))));
    }
  }
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  throw new TransportError("unreachable", `${target(e)} unreachable after ${e.dialErrorLimit} attempt(s) in ${secs} s: ${last?.message}`, secrets);
}

function forwardThrough(proxy: Client, e: EndpointSpec, secrets: readonly string[]): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    proxy.forwardOut("127.0.0.1", 0, e.host, e.port, (err, stream) => {
      if (err) reject(new TransportError("unreachable", `bastion could not reach ${e.host}:${e.port}: ${err.message}`, secrets));
      else resolve(stream);
    });
  });
}

const DEFAULT_TIMEOUT_MS = 10 * 60 * 1000;

class SshSession implements RemoteSession {
  readonly target: string;
  private closed = false;
  private lost = false;

  constructor(
    private readonly client: Client,
    private readonly spec: ConnectionSpec,
    private readonly secrets: readonly string[],
    private readonly proxy?: Client,
  ) {
    this.target = `${spec.host}:${spec.port}`;
    // Keepalives (5 s x 3) notice a dead peer: a pooled connection is then not handed out again.
    client.on("close", () => (this.lost = true));
  }

  get alive(): boolean {
    return !this.closed && !this.lost;
  }

  run(script: string, opts: RunOptions = {}): Promise<RunResult> {
    if (this.closed) return Promise.reject(new TransportError("protocol", `session to ${this.target} is closed`, [], undefined, true));
    const framed = frameCommand(script, this.spec.sudo);
    const step = opts.label ? ` (${opts.label})` : "";
    recordCommand(this.target);
    const result = new Promise<RunResult>((resolve, reject) => {
      const started = (err: Error | undefined, channel: ClientChannel) => {
        if (err) return reject(new TransportError("lost", `cannot start a command on ${this.target}${step}: ${err.message}`, this.secrets, undefined, true));
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        let code: number | undefined;
        const timer = setTimeout(() => {
          channel.close();
          const partial = afterMarker(Buffer.concat(out).toString("utf8"), framed.marker);
          reject(new TransportError("timeout", `command on ${this.target}${step} did not finish within ${(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000} s`, this.secrets, partial));
        }, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
        channel.on("data", (d: Buffer) => out.push(d));
        channel.stderr.on("data", (d: Buffer) => errOut.push(d));
        channel.on("exit", (c: number | null) => {
          code = c ?? undefined;
        });
        channel.on("close", () => {
          clearTimeout(timer);
          const stdoutRaw = Buffer.concat(out).toString("utf8");
          const stderrRaw = Buffer.concat(errOut).toString("utf8");
          const stderr = afterMarker(stderrRaw, framed.marker) ?? stderrRaw;
          const refusal = sudoRefusal(stderr, framed.sudoMarker);
          if (refusal !== undefined) {
            return reject(new TransportError("sudo", `sudo on ${this.target} refused to run non-interactively for user '${this.spec.user}': ${refusal}. kvmtune runs 'sudo -n' and never types passwords: allow the user NOPASSWD in sudoers, or connect as root.`, this.secrets));
          }
          const stdout = afterMarker(stdoutRaw, framed.marker);
          if (code === undefined) {
            return reject(new TransportError("lost", `connection to ${this.target} was lost while running a command${step}; the step may be partly applied, so re-run to converge`, this.secrets));
          }
          if (stdout === undefined) {
            return reject(new TransportError("protocol", `the login shell on ${this.target} did not run kvmtune's wrapper (exit ${code}): ${stderrRaw.trim().slice(-500)}`, this.secrets));
          }
          resolve({ stdout, stderr, code });
        });
        if (opts.stdin !== undefined) channel.end(opts.stdin);
        else channel.end();
      };
      try {
        this.client.exec(framed.command, started);
      } catch (err) {
        // ssh2 throws "Not connected" synchronously once the connection is gone.
        reject(new TransportError("lost", `connection to ${this.target} is gone; cannot run a command${step}: ${(err as Error).message}`, this.secrets, undefined, true));
      }
    });
    // A labelled step that takes a while says so on the resource's row in `pulumi up` (provider process only).
    if (!opts.label) return result;
    const what = `${this.spec.host}: ${opts.label}`;
    return during((sec) => `${what} (${sec} s)`, result, { done: (sec) => `${what}: done in ${sec} s` });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.end();
    this.proxy?.end();
  }
}

/** Opens one SSH connection (through the bastion when set). Validates the connection first. */
export async function openSession(connection: unknown): Promise<RemoteSession> {
  const spec = parseConnection(connection);
  const secrets = connectionSecrets(spec);
  const proxy = spec.proxy ? await dial(spec.proxy, secrets) : undefined;
  try {
    const client = await dial(spec, secrets, proxy);
    recordConnection(`${spec.host}:${spec.port}`);
    return new SshSession(client, spec, secrets, proxy);
  } catch (err) {
    proxy?.end();
    throw err;
  }
}

