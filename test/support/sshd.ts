// A real OpenSSH server on 127.0.0.1:<free port> with its own config and keys:
// the quick SSH target for transport tests (no VM needed).
import { spawn, ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fingerprint, makeKey, suiteKeys } from "./keys";
import { preflightSshd } from "./preflight";
import { makeRunDir, pdeathsigPrefix, rmTree, stopProcess, track } from "./processes";
import { freePort, runSsh, SshCallOptions, SshResult, waitForSshBanner, writeKnownHosts } from "./ssh-client";

export interface LocalSshdOptions {
  /** Served as the pre-auth `Banner` (the ssh client prints it on stderr). */
  banner?: string;
  /** "suite" (default): the suite's cached host key; "fresh": a new one for this server. */
  hostKey?: "suite" | "fresh";
  /** More sshd_config lines (e.g. "MaxSessions 2"). */
  extraConfig?: string[];
  /** Default 10 s. */
  startTimeoutMs?: number;
}

export interface LocalSshd {
  host: "127.0.0.1";
  port: number;
  user: "root";
  /** OpenSSH private key text of the suite client key. */
  privateKey: string;
  /** "ssh-ed25519 AAAA..." */
  hostKey: string;
  hostKeyFingerprint: string;
  pid: number;
  /** Runs `cmd` as root through the system ssh client, host key pinned. */
  ssh(cmd: string, opts?: SshCallOptions): Promise<SshResult>;
  /** Logins so far, as sshd's own log counts them ("Accepted publickey for ..."): one per SSH connection. */
  logins(): number;
  stop(): Promise<void>;
}

const PORT_ATTEMPTS = 3;

export async function startLocalSshd(opts: LocalSshdOptions = {}): Promise<LocalSshd> {
  preflightSshd();
  // sshd checks that its privilege-separation dir exists (Debian creates it at boot via systemd)
  fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  for (let attempt = 1; ; attempt++) {
    const r = await tryStart(opts);
    if ("sshd" in r) return r.sshd;
    // another process may have taken the port between freePort() and sshd's bind
    if (attempt < PORT_ATTEMPTS && /Address already in use/.test(r.error)) continue;
    throw new Error(`local sshd did not start: ${r.error}`);
  }
}

async function tryStart(opts: LocalSshdOptions): Promise<{ sshd: LocalSshd } | { error: string }> {
  const keys = suiteKeys();
  const dir = makeRunDir("sshd");
  let hostKeyPath = keys.hostKeyPath;
  let hostKey = keys.hostPublicKey;
  let port: number;
  let config: string;
  try {
    if (opts.hostKey === "fresh") {
      hostKeyPath = path.join(dir, "host_ed25519");
      hostKey = makeKey(hostKeyPath, "kvmtune-local-sshd");
    }
    fs.writeFileSync(path.join(dir, "authorized_keys"), keys.clientPublicKey + "\n", { mode: 0o600 });
    if (opts.banner !== undefined) fs.writeFileSync(path.join(dir, "banner"), opts.banner);
    port = await freePort();
    config = path.join(dir, "sshd_config");
    fs.writeFileSync(config, sshdConfig(dir, port, hostKeyPath, opts));
  } catch (e) {
    rmTree(dir);
    throw e;
  }
  const [cmd, ...args] = [...pdeathsigPrefix, "/usr/sbin/sshd", "-D", "-f", config, "-E", path.join(dir, "sshd.log")];
  const child = spawn(cmd, args, { stdio: "ignore" });
  track(child, `sshd :${port}`, () => rmTree(dir)); // stop (or exit) removes the dir
  const failed = await started(child, port, opts.startTimeoutMs ?? 10_000);
  if (!failed) {
    const knownHostsPath = path.join(dir, "known_hosts");
    writeKnownHosts(knownHostsPath, "127.0.0.1", port, hostKey);
    return { sshd: make(child, port, hostKey, knownHostsPath, path.join(dir, "sshd.log")) };
  }
  const log = readLog(dir);
  await stopProcess(child);
  return { error: `${failed}\n--- sshd log ---\n${log}` };
}

function sshdConfig(dir: string, port: number, hostKeyPath: string, opts: LocalSshdOptions): string {
  return [
    "ListenAddress 127.0.0.1",
    `Port ${port}`,
    `HostKey ${hostKeyPath}`,
    `PidFile ${path.join(dir, "sshd.pid")}`,
    `AuthorizedKeysFile ${path.join(dir, "authorized_keys")}`,
    "PermitRootLogin prohibit-password",
    "UsePAM no",
    "StrictModes no",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "PrintMotd no",
    "UseDNS no",
    "MaxStartups 200:30:300",
    "MaxSessions 100",
    ...(opts.banner !== undefined ? [`Banner ${path.join(dir, "banner")}`] : []),
    ...(opts.extraConfig ?? []),
    "",
  ].join("\n");
}

async function started(child: ChildProcess, port: number, timeoutMs: number): Promise<string | undefined> {
  let spawnError: Error | undefined;
  child.once("error", (e) => (spawnError = e));
  try {
    await waitForSshBanner("127.0.0.1", port, timeoutMs, () =>
      spawnError ? `sshd did not start: ${spawnError.message}`
        : child.exitCode !== null || child.signalCode !== null ? `sshd exited (${child.exitCode ?? child.signalCode})`
        : undefined);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

function readLog(dir: string): string {
  try {
    return fs.readFileSync(path.join(dir, "sshd.log"), "utf8").trim().split("\n").slice(-20).join("\n");
  } catch {
    return "(no log)";
  }
}

function make(child: ChildProcess, port: number, hostKey: string, knownHostsPath: string, log: string): LocalSshd {
  const keys = suiteKeys();
  const target = { host: "127.0.0.1", port, clientKeyPath: keys.clientKeyPath, knownHostsPath };
  let stopping: Promise<void> | undefined;
  return {
    host: "127.0.0.1",
    port,
    user: "root",
    privateKey: keys.clientPrivateKey,
    hostKey,
    hostKeyFingerprint: fingerprint(hostKey),
    pid: child.pid as number,
    ssh: (cmd, o) => runSsh(target, "root", cmd, o),
    logins: () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8").match(/^.*Accepted publickey for /gm)?.length ?? 0 : 0),
    stop: () => (stopping ??= stopProcess(child)),
  };
}
