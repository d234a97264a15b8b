// The suite's independent channel into test hosts: the system OpenSSH client with
// the host key pinned, plus the waits and port picking that starting a server needs.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";

export interface SshResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface SshTarget {
  host: string;
  port: number;
  clientKeyPath: string;
  /** known_hosts file holding only the pinned key for [host]:port */
  knownHostsPath: string;
}

export interface SshCallOptions {
  /** Sent on stdin (user data travels as data, not inside the command). */
  input?: string | Buffer;
  /** Default 120 s (slow TCG guests). */
  timeoutMs?: number;
}

export function writeKnownHosts(file: string, host: string, port: number, hostKey: string): void {
  fs.writeFileSync(file, `[${host}]:${port} ${hostKey}\n`, { mode: 0o600 });
}

export function sshArgs(t: SshTarget, user: string): string[] {
  return [
    "-F", "/dev/null",
    "-o", "StrictHostKeyChecking=yes",
    "-o", `UserKnownHostsFile=${t.knownHostsPath}`,
    "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", "BatchMode=yes",
    "-o", "IdentitiesOnly=yes",
    "-o", "IdentityAgent=none",
    "-o", "ConnectTimeout=30",
    "-i", t.clientKeyPath,
    "-p", String(t.port),
    `${user}@${t.host}`,
  ];
}

export function runSsh(t: SshTarget, user: string, cmd: string, opts: SshCallOptions = {}): Promise<SshResult> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env.SSH_AUTH_SOCK;
    const child = spawn("ssh", [...sshArgs(t, user), "--", cmd], { env, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString("utf8");
      const stderr = Buffer.concat(err).toString("utf8");
      if (code === null) {
        reject(new Error(`ssh ${user}@${t.host}:${t.port} ${signal === "SIGKILL" ? `timed out after ${timeoutMs} ms` : `killed by ${signal}`}: ${cmd}\n${stderr}`));
      } else resolve({ stdout, stderr, code });
    });
    child.stdin.on("error", () => undefined); // the remote side may not read stdin
    child.stdin.end(opts.input ?? "");
  });
}

/** A loopback port that was free a moment ago (callers retry if it is taken meanwhile). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Resolves once the port sends an `SSH-2.0` banner. qemu's user-mode hostfwd
 * accepts TCP before the guest listens and may then hang until the guest's
 * network is up, so a connect proves nothing and one attempt can stall: a new
 * attempt starts every 200 ms while earlier ones wait, and the first banner wins.
 * `gone()` returns a reason when the server process has died, to fail fast.
 */
export function waitForSshBanner(
  host: string, port: number, timeoutMs: number, gone: () => string | undefined,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const socks = new Set<net.Socket>();
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      clearInterval(tick);
      clearTimeout(limit);
      for (const s of socks) s.destroy();
      if (err) reject(err);
      else resolve();
    };
    const attempt = () => {
      const reason = gone();
      if (reason) return finish(new Error(reason));
      if (socks.size >= 8) return;
      const s = net.connect({ host, port });
      socks.add(s);
      let buf = "";
      s.setTimeout(3000, () => s.destroy());
      s.on("data", (d: Buffer) => {
        buf += d.toString("latin1");
        if (buf.includes("SSH-2.0")) finish();
      });
      s.on("error", () => undefined);
      s.on("close", () => socks.delete(s));
    };
    const tick = setInterval(attempt, 200);
    const limit = setTimeout(() => finish(new Error(`no SSH banner on ${host}:${port} within ${timeoutMs} ms`)), timeoutMs);
    attempt();
  });
}
