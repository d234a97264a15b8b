// The SSH transport against real parts: a loopback sshd and a real-kernel VM.
import { strict as assert } from "node:assert";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { utils } from "ssh2";
import { openSession, resetTransportCounts, transportCounts, TransportError, withSession } from "../../provider/transport";
import { NOISY_STDERR_LINE, NOISY_STDOUT_LINE } from "../support/rootfs-files";
import { sharedTestVm } from "../support/shared-vm";
import { startLocalSshd, type LocalSshd } from "../support/sshd";
import type { TestVm } from "../support/vm";

async function rejection(p: Promise<unknown>): Promise<TransportError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof TransportError, `expected TransportError, got ${String(err)}`);
    return err;
  }
  assert.fail("expected a rejection");
}

const OTHER_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAeyFQ8hq+hnRrPxsb8ogGarcu5dYNquqjKdwIi1FhY1";
const OTHER_FP = "SHA256:Urp0hCRj9X7lhKO+1Kt/KZxc4TO3qQ4ozTcr73I4E/Y";

describe("SSH transport against a real sshd on loopback", function () {
  this.timeout(60_000);
  let sshd: LocalSshd;
  let scratch: string;
  const conn = () => ({ host: sshd.host, port: sshd.port, user: "root", privateKey: sshd.privateKey, hostKey: sshd.hostKey });

  before(async () => {
    sshd = await startLocalSshd({ banner: "Authorized use only. All activity is logged.\n" });
    scratch = mkdtempSync(join(tmpdir(), "kvmt-transport-"));
  });
  after(async () => {
    await sshd?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("runs a script with stdin as data, keeps stdout, stderr and exit code apart, despite a banner", async () => {
    const r = await withSession(conn(), (s) => s.run('cat; echo "to err" >&2; exit 7', { stdin: "it's $(not run)\n" }));
    assert.deepEqual(r, { stdout: "it's $(not run)\n", stderr: "to err\n", code: 7 });
  });

  it("uses one connection for many commands", async () => {
    resetTransportCounts();
    await withSession(conn(), async (s) => {
      for (let i = 0; i < 5; i++) assert.equal((await s.run(`echo ${i}`)).stdout, `${i}\n`);
    });
    assert.deepEqual(transportCounts(`127.0.0.1:${sshd.port}`), { connections: 1, commands: 5 });
  });

  it("accepts the pin from known_hosts text and from a fingerprint", async () => {
    const knownHosts = `# pinned\n[127.0.0.1]:${sshd.port} ${sshd.hostKey}\n`;
    assert.equal((await withSession({ ...conn(), hostKey: undefined, knownHosts }, (s) => s.run("echo ok"))).stdout, "ok\n");
    assert.equal((await withSession({ ...conn(), hostKey: sshd.hostKeyFingerprint }, (s) => s.run("echo ok"))).stdout, "ok\n");
  });

  it("refuses a host key mismatch before any command runs, naming host and both fingerprints", async () => {
    const marker = join(scratch, "mismatch-ran");
    const err = await rejection(withSession({ ...conn(), hostKey: OTHER_HOST_KEY }, (s) => s.run(`touch ${marker}`)));
    assert.equal(err.kind, "host-key");
    assert.equal(
      err.message,
      `host key mismatch for 127.0.0.1:${sshd.port}: expected ${OTHER_FP}, got ${sshd.hostKeyFingerprint} (${sshd.hostKey.split(" ").slice(0, 2).join(" ")}). No command was run; if the host was reinstalled, update the pinned key.`,
    );
    assert.equal(existsSync(marker), false);
  });

  it("refuses an unpinned host unless insecureIgnoreHostKey is set, and shows the key to pin", async () => {
    const marker = join(scratch, "unpinned-ran");
    const err = await rejection(withSession({ ...conn(), hostKey: undefined }, (s) => s.run(`touch ${marker}`)));
    assert.equal(err.kind, "host-key");
    assert.match(err.message, new RegExp(`^no host key pinned for 127\\.0\\.0\\.1:${sshd.port}; it presented ${sshd.hostKeyFingerprint.replace(/[+/]/g, "\\$&")} `));
    assert.equal(existsSync(marker), false);
    const r = await withSession({ ...conn(), hostKey: undefined, insecureIgnoreHostKey: true }, (s) => s.run("echo insecure-ok"));
    assert.equal(r.stdout, "insecure-ok\n");
  });

  it("refuses a key marked @revoked", async () => {
    const knownHosts = `@revoked [127.0.0.1]:${sshd.port} ${sshd.hostKey}\n[127.0.0.1]:${sshd.port} ${sshd.hostKey}\n`;
    const err = await rejection(withSession({ ...conn(), hostKey: undefined, knownHosts }, (s) => s.run("true")));
    assert.equal(err.kind, "host-key");
    assert.match(err.message, /is marked @revoked in knownHosts/);
  });

  it("fails clearly on a wrong private key, without echoing it", async () => {
    const wrong = utils.generateKeyPairSync("ed25519").private;
    const err = await rejection(withSession({ ...conn(), privateKey: wrong }, (s) => s.run("true")));
    assert.equal(err.kind, "auth");
    assert.equal(err.message, `authentication failed for root@127.0.0.1:${sshd.port}: the server refused the offered credentials (privateKey); check connection.user and the key or password.`);
    for (const line of wrong.split("\n").filter((l) => l.length > 20)) assert.ok(!err.message.includes(line));
  });

  it("fails an unreachable port within its bound, naming host and port", async () => {
    const closed = await new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, "127.0.0.1", () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const t0 = Date.now();
    const err = await rejection(openSession({ ...conn(), port: closed, dialErrorLimit: 2, perDialTimeout: 2 }));
    assert.equal(err.kind, "unreachable");
    assert.match(err.message, new RegExp(`^root@127\\.0\\.0\\.1:${closed} unreachable after 2 attempt\\(s\\) in [0-9.]+ s: cannot connect to 127\\.0\\.0\\.1:${closed}: connect ECONNREFUSED`));
    // Bound: 2 attempts x 2 s + 0.25 s back-off; generous slack for a loaded machine.
    assert.ok(Date.now() - t0 < 15_000);
  });

  it("times out a port that accepts TCP but never speaks SSH", async () => {
    const sockets: import("node:net").Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
    const port = (silent.address() as { port: number }).port;
    try {
      const err = await rejection(openSession({ ...conn(), port, dialErrorLimit: 1, perDialTimeout: 1 }));
      assert.equal(err.kind, "unreachable");
      assert.equal(err.message, `root@127.0.0.1:${port} unreachable after 1 attempt(s) in ${err.message.match(/in ([0-9.]+) s/)![1]} s: connect to 127.0.0.1:${port} timed out after 1 s`);
    } finally {
      sockets.forEach((s) => s.destroy());
      silent.close();
    }
  });

  it("validates the connection before connecting", async () => {
    resetTransportCounts();
    await assert.rejects(openSession({ ...conn(), host: "127.0.0.1;touch /tmp/x" }), /connection\.host: "127\.0\.0\.1;touch \/tmp\/x" is not accepted/);
    assert.deepEqual(transportCounts("127.0.0.1;touch /tmp/x:" + sshd.port), { connections: 0, commands: 0 });
  });
});

describe("SSH transport against a real-kernel VM", function () {
  this.timeout(180_000);
  let vm: TestVm;
  const conn = (user = "root", extra: Record<string, unknown> = {}) => ({ host: vm.host, port: vm.port, user, privateKey: vm.privateKey, hostKey: vm.hostKey, ...extra });

  before(async () => {
    vm = await sharedTestVm();
  });

  it("runs as root on the VM's kernel", async () => {
    const r = await withSession(conn(), (s) => s.run("id -u; uname -r"));
    assert.equal(r.stdout, `0\n${vm.kernelRelease}\n`);
  });

  it("strips login-shell noise on stdout and stderr", async () => {
    const r = await withSession(conn("noisy"), (s) => s.run("echo clean; echo err-clean >&2"));
    assert.deepEqual(r, { stdout: "clean\n", stderr: "err-clean\n", code: 0 });
    // The same command through plain ssh shows the noise we stripped.
    const raw = await vm.ssh("echo clean", "noisy");
    assert.equal(raw.stdout, `${NOISY_STDOUT_LINE}\nclean\n`);
    assert.ok(raw.stderr.includes(NOISY_STDERR_LINE));
  });

  it("fails fast when sudo wants a password, and says what to do", async () => {
    const t0 = Date.now();
    const err = await rejection(withSession(conn("kvmt"), (s) => s.run("id -u")));
    assert.equal(err.kind, "sudo");
    assert.equal(
      err.message,
      `sudo on 127.0.0.1:${vm.port} refused to run non-interactively for user 'kvmt': sudo: a password is required. kvmtune runs 'sudo -n' and never types passwords: allow the user NOPASSWD in sudoers, or connect as root.`,
    );
    assert.ok(Date.now() - t0 < 30_000, "no password prompt to wait on");
  });

  it("runs as the plain user when sudo is off", async () => {
    const r = await withSession(conn("kvmt", { sudo: false }), (s) => s.run("id -un"));
    assert.equal(r.stdout, "kvmt\n");
  });

  it("logs in with a password, never echoing it", async () => {
    const r = await withSession({ host: vm.host, port: vm.port, user: "kvmt", password: vm.kvmtPassword, hostKey: vm.hostKey, sudo: false }, (s) => s.run("id -un"));
    assert.equal(r.stdout, "kvmt\n");
    const err = await rejection(withSession({ host: vm.host, port: vm.port, user: "kvmt", password: "wrong-password-123", hostKey: vm.hostKey, sudo: false }, (s) => s.run("true")));
    assert.equal(err.kind, "auth");
    assert.ok(!err.message.includes("wrong-password-123"));
  });

  it("reports a connection cut mid-command with the step name", async () => {
    await withSession(conn(), async (s) => {
      // Kill this session's sshd process: the channel dies without an exit status.
      const err = await rejection(s.run("kill -9 $PPID; sleep 5", { label: "apply sysctl" }));
      assert.equal(err.kind, "lost");
      assert.equal(err.message, `connection to 127.0.0.1:${vm.port} was lost while running a command (apply sysctl); the step may be partly applied, so re-run to converge`);
    });
  });

  it("reaches the VM through a bastion (the loopback sshd)", async () => {
    const bastion = await startLocalSshd();
    try {
      const r = await withSession(
        { ...conn(), proxy: { host: bastion.host, port: bastion.port, user: "root", privateKey: bastion.privateKey, hostKey: bastion.hostKey } },
        (s) => s.run("uname -r"),
      );
      assert.equal(r.stdout, `${vm.kernelRelease}\n`);
      const err = await rejection(withSession({ ...conn(), proxy: { host: bastion.host, port: bastion.port, user: "root", privateKey: bastion.privateKey, hostKey: OTHER_HOST_KEY } }, (s) => s.run("true")));
      assert.equal(err.kind, "host-key");
      assert.match(err.message, new RegExp(`^host key mismatch for 127\\.0\\.0\\.1:${bastion.port}`));
    } finally {
      await bastion.stop();
    }
  });
});
