import { createHash } from "node:crypto";
import { connectionClosed, connectionOpening, isProviderProcess } from "./engine-watch";
import { openSession, TransportError } from "./ssh";
import { parseConnection } from "../spec/connection";
import type { RemoteSession, RunOptions, RunResult } from "./types";

/**
 * One SSH connection per host per run (issue #15): in the provider process, a
 * connection outlives the operation that opened it, so `up --refresh` reads a
 * host and then updates it over the same connection. An idle connection is
 * closed after IDLE_MS, or when the host reboots (forgetSessions); the engine
 * ends the process after the run. Connections are shared only between
 * operations with the very same connection (user, credentials, host key and
 * all), never across users or keys.
 *
 * Elsewhere (the program's facts read, tests, benchmarks) each operation gets
 * its own connection unless setSessionReuse(true) says otherwise.
 */

const IDLE_MS = 60_000;

interface Entry {
  key: string;
  target: string;
  ready: Promise<RemoteSession>;
  session?: RemoteSession;
  users: number;
  /** No new operation may use it (the host rebooted, an operation failed on it, or it sat idle too long). */
  retired: boolean;
  idle?: NodeJS.Timeout;
}

const pool = new Map<string, Entry>();
let reuse: boolean | undefined;

/** Turns reuse on or off; undefined: on only in the dynamic-provider process. Closes idle connections when turned off. */
export function setSessionReuse(on: boolean | undefined): void {
  reuse = on;
  if (!reuseEnabled()) closeIdleSessions();
}

const reuseEnabled = () => reuse ?? isProviderProcess();

/** The pool key: a digest of the whole parsed connection (secrets included, kept only as a hash in memory). */
function keyOf(connection: unknown): { key: string; target: string } {
  const spec = parseConnection(connection);
  return { key: createHash("sha256").update(JSON.stringify(spec)).digest("hex"), target: `${spec.host}:${spec.port}` };
}

function close(e: Entry): void {
  clearTimeout(e.idle);
  e.session?.close();
}

function retire(e: Entry): void {
  e.retired = true;
  if (pool.get(e.key) === e) pool.delete(e.key);
  if (e.users === 0) close(e);
}

function release(e: Entry): void {
  e.users--;
  if (e.users > 0) return;
  if (e.retired || e.session?.alive === false) return retire(e);
  e.idle = setTimeout(() => retire(e), IDLE_MS);
  e.idle.unref();
}

async function acquire(connection: unknown): Promise<{ entry: Entry; reused: boolean }> {
  const { key, target } = keyOf(connection);
  for (;;) {
    const e = pool.get(key);
    if (!e || e.retired) break;
    clearTimeout(e.idle);
    e.users++;
    try {
      // Set here too: this waiter may resume before the operation that dialled.
      e.session ??= await e.ready;
    } catch {
      // The dial another operation started failed: that operation reports it; this one dials itself.
      release(e);
      break;
    }
    if (e.session?.alive !== false && !e.retired) return { entry: e, reused: true };
    retire(e);
    release(e);
  }
  const e: Entry = { key, target, ready: openSession(connection), users: 1, retired: false };
  pool.set(key, e);
  e.ready.catch(() => undefined);
  try {
    e.session = await e.ready;
    return { entry: e, reused: false };
  } catch (err) {
    e.users--;
    retire(e);
    throw err;
  }
}

/**
 * A pooled connection as one operation sees it. A reused connection that died
 * while idle (keepalives notice within ~15 s) fails before the command starts:
 * then, and only then, the command is run once more on a new connection.
 */
class PooledSession implements RemoteSession {
  constructor(
    private entry: Entry,
    private reused: boolean,
    private readonly connection: unknown,
  ) {}

  get target(): string {
    return this.entry.session!.target;
  }

  current(): Entry {
    return this.entry;
  }

  async run(script: string, opts?: RunOptions): Promise<RunResult> {
    try {
      return await this.entry.session!.run(script, opts);
    } catch (err) {
      if (!(this.reused && err instanceof TransportError && err.notStarted)) throw err;
      this.reused = false;
      retire(this.entry);
      release(this.entry);
      this.entry = (await acquire(this.connection)).entry;
      return this.entry.session!.run(script, opts);
    }
  }

  close(): void {
    // Given back by withSession.
  }
}

/**
 * Runs `fn` with a session to the host. In the provider process the session's
 * connection is reused by later operations on the same host with the same
 * connection; `fresh: true` always dials (a reboot's probes).
 */
export async function withSession<T>(connection: unknown, fn: (session: RemoteSession) => Promise<T>, opts: { fresh?: boolean } = {}): Promise<T> {
  connectionOpening();
  try {
    if (opts.fresh || !reuseEnabled()) {
      const session = await openSession(connection);
      try {
        return await fn(session);
      } finally {
        session.close();
      }
    }
    const { entry, reused } = await acquire(connection);
    const session = new PooledSession(entry, reused, connection);
    try {
      return await fn(session);
    } catch (err) {
      // Whatever failed may have left the connection in a state nobody should build on.
      retire(session.current());
      throw err;
    } finally {
      release(session.current());
    }
  } finally {
    connectionClosed();
  }
}

/** Retires every pooled connection to the connection's host and port, whoever logs in (it reboots: they are dead or about to be). */
export function forgetSessions(connection: unknown): void {
  const { target } = keyOf(connection);
  for (const e of [...pool.values()]) if (e.target === target) retire(e);
}

/** Closes pooled connections nobody is using (tests, shutdown). */
export function closeIdleSessions(): void {
  for (const e of [...pool.values()]) if (e.users === 0) retire(e);
}
