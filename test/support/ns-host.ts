// A throwaway "host" on this machine: an OpenSSH sshd in its own mount, network
// and PID namespaces, reached only through loopback. Its per-netns sysctls
// (net.*) and its NIC's MTU are real kernel values of its own network namespace;
// nothing it does reaches this machine's tuning (see ns-host-scripts.ts).
//
//   test process
//   ├─ setpriv --pdeathsig KILL -- unshare --mount --net --pid --propagation private -- sh holder.sh
//   │    └─ setpriv --pdeathsig KILL -- sh init.sh       PID 1 of the new PID ns: mounts, lo up, eth1
//   │         ├─ sshd -D on the namespace's 127.0.0.1:22 (LogLevel VERBOSE, log in the run dir)
//   │         └─ socat UNIX-LISTEN:<dir>/ssh.sock,fork TCP:127.0.0.1:22,nodelay
//   └─ setpriv --pdeathsig KILL -- socat TCP-LISTEN:<port>,bind=127.0.0.1,nodelay UNIX-CONNECT:<dir>/ssh.sock
//
// Killing the holder SIGKILLs PID 1 of the namespace and with it every process
// inside; pdeathsig covers this process being SIGKILLed.
import { spawn, ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fingerprint, suiteKeys } from "./keys";
import { namespaceProcesses, type NamespaceProcess } from "./libvirtd";
import { holderScript, initScript, sshdConfig } from "./ns-host-scripts";
import { makeRunDir, pdeathsigPrefix, rmTree, stopProcess, track } from "./processes";
import { startSocatBridge } from "./socat-bridge";
import { runSsh, SshCallOptions, SshResult, SshTarget, waitForSshBanner, writeKnownHosts } from "./ssh-client";

export interface NsHostOptions {
  /** Lower-case letters, digits and '-' (default "ns-host"). */
  name?: string;
  /** The NIC made inside the namespace (default "eth1"). */
  nic?: string;
  /**
   * Paths inside the namespace to bind /dev/null over, e.g. "/proc/sys/net/ipv4/conf/all/arp_filter":
   * a write there succeeds and vanishes, a read returns nothing. /dev/null is not a regular file,
   * so kvmtune reports such a key as "not present on this host" and writes nothing to that host.
   */
  maskPaths?: string[];
  /**
   * Paths inside the namespace to bind a read-only regular file over, holding the value the path had
   * at start: reads return that value and every write fails (EROFS), so kvmtune's apply fails at the
   * write, naming the key, and rolls that host back.
   */
  frozenPaths?: string[];
  /** Until sshd answers through the bridge; default 20 s. */
  startTimeoutMs?: number;
}

export interface NsHost {
  name: string;
  host: "127.0.0.1";
  port: number;
  user: "root";
  /** OpenSSH private key text of the suite client key (and its file, for ssh/Ansible). */
  privateKey: string;
  clientKeyPath: string;
  /** "ssh-ed25519 AAAA..." of the host's sshd (the suite host key), and a known_hosts file pinning it. */
  hostKey: string;
  hostKeyFingerprint: string;
  knownHostsPath: string;
  nic: string;
  /** The run dir on this machine (sshd log, keys, socket); removed by stop(). */
  dir: string;
  pids: { holder: number; init: number; bridge: number };
  /** `net:[4026532...]` etc. */
  namespaces: { net: string; mnt: string; pid: string };
  /** SSH logins so far ("Accepted publickey for" in the sshd log): one per connection. */
  logins(): number;
  /** Sessions started so far ("Starting session:": an exec'd command, a shell or the sftp subsystem). */
  commands(): number;
  /** Runs `cmd` as root with the system ssh client (a new connection, counted like any other). */
  ssh(cmd: string, opts?: SshCallOptions): Promise<SshResult>;
  /** Processes in the host's PID namespace (empty once stopped). */
  processes(): NamespaceProcess[];
  stop(): Promise<void>;
}

const NAME = /^[a-z0-9][a-z0-9-]{0,30}$/;
const NIC = /^[a-z][a-z0-9]{0,9}$/;
const MASK = /^\/(?:[A-Za-z0-9_.-]+\/)*[A-Za-z0-9_.-]+$/;

export async function startNsHost(opts: NsHostOptions = {}): Promise<NsHost> {
  const name = opts.name ?? "ns-host";
  const nic = opts.nic ?? "eth1";
  const masks = opts.maskPaths ?? [];
  const frozen = opts.frozenPaths ?? [];
  if (!NAME.test(name)) throw new Error(`ns host name ${JSON.stringify(name)}: lower-case letters, digits and '-'`);
  if (!NIC.test(nic)) throw new Error(`ns host nic ${JSON.stringify(nic)}`);
  for (const m of [...masks, ...frozen]) if (!MASK.test(m) || m.split("/").includes("..")) throw new Error(`maskPaths/frozenPaths: ${JSON.stringify(m)} is not an absolute plain path`);

  const keys = suiteKeys();
  const dir = makeRunDir(`ns-${name}`);
  let holder: ChildProcess | undefined;
  let bridge: ChildProcess | undefined;
  try {
    fs.copyFileSync(keys.hostKeyPath, path.join(dir, "host_ed25519"));
    fs.chmodSync(path.join(dir, "host_ed25519"), 0o600);
    fs.writeFileSync(path.join(dir, "authorized_keys"), keys.clientPublicKey + "\n", { mode: 0o600 });
    fs.writeFileSync(path.join(dir, "sshd_config"), sshdConfig(dir));
    fs.writeFileSync(path.join(dir, "holder.sh"), holderScript());
    fs.writeFileSync(path.join(dir, "init.sh"), initScript(nic, masks, frozen));
    const log = fs.openSync(path.join(dir, "init.log"), "a");
    holder = spawn(
      pdeathsigPrefix[0],
      [...pdeathsigPrefix.slice(1), "/usr/bin/unshare", "--mount", "--net", "--pid", "--propagation", "private",
        "--", "/bin/sh", path.join(dir, "holder.sh"), dir],
      { stdio: ["ignore", log, log] },
    );
    fs.closeSync(log);
    track(holder, `ns host ${name}`, () => rmTree(dir));
    const b = await startSocatBridge(path.join(dir, "ssh.sock"), `ns host ${name}`);
    bridge = b.child;
    const h = holder;
    await waitForSshBanner("127.0.0.1", b.port, opts.startTimeoutMs ?? 20_000, () =>
      h.exitCode !== null || h.signalCode !== null ? `the namespace holder exited (${h.exitCode ?? h.signalCode})` : undefined);
    const knownHostsPath = path.join(dir, "known_hosts");
    writeKnownHosts(knownHostsPath, "127.0.0.1", b.port, keys.hostPublicKey);
    const init = Number(fs.readFileSync(`/proc/${holder.pid}/task/${holder.pid}/children`, "utf8").trim().split(/\s+/)[0]);
    const namespaces = {
      net: fs.readlinkSync(`/proc/${init}/ns/net`),
      mnt: fs.readlinkSync(`/proc/${init}/ns/mnt`),
      pid: fs.readlinkSync(`/proc/${init}/ns/pid`),
    };
    const target: SshTarget = { host: "127.0.0.1", port: b.port, clientKeyPath: keys.clientKeyPath, knownHostsPath };
    const sshdLog = path.join(dir, "sshd.log");
    const count = (re: RegExp) => (fs.existsSync(sshdLog) ? fs.readFileSync(sshdLog, "utf8").match(re)?.length ?? 0 : 0);
    const held = holder;
    const br = bridge;
    let stopping: Promise<void> | undefined;
    return {
      name,
      host: "127.0.0.1",
      port: b.port,
      user: "root",
      privateKey: keys.clientPrivateKey,
      clientKeyPath: keys.clientKeyPath,
      hostKey: keys.hostPublicKey,
      hostKeyFingerprint: fingerprint(keys.hostPublicKey),
      knownHostsPath,
      nic,
      dir,
      pids: { holder: held.pid as number, init, bridge: br.pid as number },
      namespaces,
      logins: () => count(/^.*Accepted publickey for /gm),
      commands: () => count(/^.*Starting session: /gm),
      ssh: (cmd, o) => runSsh(target, "root", cmd, o),
      processes: () => namespaceProcesses(namespaces.pid),
      stop: () =>
        (stopping ??= (async () => {
          await stopProcess(br, 1000);
          await stopProcess(held, 3000); // its cleanup removes the run dir
        })()),
    };
  } catch (e) {
    const diag = tail(path.join(dir, "init.log")) + "\n--- sshd.log ---\n" + tail(path.join(dir, "sshd.log"));
    if (bridge) await stopProcess(bridge, 500);
    if (holder) await stopProcess(holder, 3000);
    rmTree(dir);
    throw new Error(`ns host ${name} did not start: ${(e as Error).message}\n--- init.log ---\n${diag}`);
  }
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-15).join("\n");
  } catch {
    return `(no ${path.basename(file)})`;
  }
}
