// The host the libvirt-on-a-real-host tests run against: by default a whole
// Debian 12 test host (libvirtd as a systemd service, cgroup v2, TCG guests),
// or, opted into with environment variables, a real KVM host of the user's:
//   KVMTUNE_TEST_KVM_HOST=hv01.example.net[:22]
//   KVMTUNE_TEST_KVM_HOST_KEY="ssh-ed25519 AAAA..."   (pinned; never skipped)
//   KVMTUNE_TEST_KVM_KEY_FILE=~/.ssh/id_ed25519        (default ~/.ssh/id_ed25519)
//   KVMTUNE_TEST_KVM_USER=root                         (default root; others go through sudo -n)
// The tests then define guests of type "kvm" there, tune 2M pools and remove
// everything they made at the end. Use a host with no guests of its own.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { withSession } from "../../provider/transport/session-pool";
import { startDebianHost, type DebianHost } from "./debian-host";

export interface KvmTestHost {
  /** "debian-vm" (TCG guests) or "real" (KVM guests). */
  kind: "debian-vm" | "real";
  label: string;
  connection(): { host: string; port: number; user: string; privateKey: string; hostKey: string };
  /** Runs a shell command as root on the host; fails on a non-zero exit. */
  sh(cmd: string): Promise<string>;
  stop(): Promise<void>;
}

/** The opted-in real host, or undefined when KVMTUNE_TEST_KVM_HOST is not set. Refuses a partial opt-in. */
export function realHostFromEnv(env: NodeJS.ProcessEnv = process.env): KvmTestHost | undefined {
  const addr = env.KVMTUNE_TEST_KVM_HOST;
  if (!addr) return undefined;
  const hostKey = env.KVMTUNE_TEST_KVM_HOST_KEY;
  if (!hostKey) throw new Error("KVMTUNE_TEST_KVM_HOST is set but KVMTUNE_TEST_KVM_HOST_KEY is not: the host key must be pinned (its public key line, e.g. from ssh-keyscan checked out of band)");
  const m = /^([^:\s]+)(?::(\d+))?$/.exec(addr);
  if (!m) throw new Error(`KVMTUNE_TEST_KVM_HOST: ${JSON.stringify(addr)} is not accepted; expected host or host:port`);
  const keyFile = (env.KVMTUNE_TEST_KVM_KEY_FILE ?? "~/.ssh/id_ed25519").replace(/^~(?=\/)/, os.homedir());
  const privateKey = fs.readFileSync(path.resolve(keyFile), "utf8");
  const conn = { host: m[1], port: Number(m[2] ?? 22), user: env.KVMTUNE_TEST_KVM_USER ?? "root", privateKey, hostKey };
  return {
    kind: "real",
    label: `${conn.user}@${conn.host}:${conn.port}`,
    connection: () => conn,
    sh: (cmd) =>
      withSession(conn, async (s) => {
        const r = await s.run(cmd, { label: "test check" });
        if (r.code !== 0) throw new Error(`on ${s.target}: ${cmd}\nexited ${r.code}: ${r.stderr.trim()}`);
        return r.stdout;
      }),
    stop: async () => undefined,
  };
}

/** The real host when opted in, else a whole Debian test host with `cpus` vCPUs over 2 NUMA nodes. */
export async function startKvmTestHost(opts: { name: string; cpus?: number }): Promise<KvmTestHost> {
  const real = realHostFromEnv();
  if (real) return real;
  const vm: DebianHost = await startDebianHost({ name: opts.name, cpus: opts.cpus });
  return { kind: "debian-vm", label: `${vm.name} (Debian 12 under TCG)`, connection: () => vm.connection(), sh: (cmd) => vm.sh(cmd), stop: () => vm.stop() };
}
