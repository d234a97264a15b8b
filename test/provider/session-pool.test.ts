// One SSH connection per host per run (#15): the provider process keeps a
// connection for the next operation on the same host with the same connection,
// counted from a real sshd's own log. Elsewhere each operation dials.
import { strict as assert } from "node:assert";
import { closeIdleSessions, forgetSessions, setSessionReuse, TransportError, withSession } from "../../provider/transport";
import { startLocalSshd, type LocalSshd } from "../support/sshd";

describe("SSH connection reuse across operations (real sshd)", function () {
  this.timeout(120_000);
  let sshd: LocalSshd;
  const conn = () => ({ host: sshd.host, port: sshd.port, user: "root", privateKey: sshd.privateKey, hostKey: sshd.hostKey });
  /** Logins (connections) the work made, from sshd's log. */
  const loginsDuring = async (work: () => Promise<unknown>) => {
    const before = sshd.logins();
    await work();
    await new Promise((r) => setTimeout(r, 200)); // sshd writes its log line after the handshake
    return sshd.logins() - before;
  };

  before(async () => {
    sshd = await startLocalSshd();
  });
  afterEach(() => setSessionReuse(undefined));
  after(async () => {
    closeIdleSessions();
    await sshd?.stop();
  });

  it("outside the provider process, every operation dials (tests and the program keep their own lifetimes)", async () => {
    const n = await loginsDuring(async () => {
      await withSession(conn(), (s) => s.run("true"));
      await withSession(conn(), (s) => s.run("true"));
    });
    assert.equal(n, 2);
  });

  it("with reuse on, a read and then an update of one host, and two operations at once, use one connection", async () => {
    setSessionReuse(true);
    const n = await loginsDuring(async () => {
      assert.equal((await withSession(conn(), (s) => s.run("echo read"))).stdout, "read\n");
      assert.equal((await withSession(conn(), (s) => s.run("echo update"))).stdout, "update\n");
      const both = await Promise.all([withSession(conn(), (s) => s.run("echo a")), withSession(conn(), (s) => s.run("echo b"))]);
      assert.deepEqual(both.map((r) => r.stdout), ["a\n", "b\n"]);
    });
    assert.equal(n, 1);
  });

  it("never shares a connection between different connection args (another pin, user or key)", async () => {
    setSessionReuse(true);
    closeIdleSessions();
    const n = await loginsDuring(async () => {
      await withSession(conn(), (s) => s.run("true"));
      await withSession({ ...conn(), hostKey: sshd.hostKeyFingerprint }, (s) => s.run("true"));
      await withSession(conn(), (s) => s.run("true"));
    });
    assert.equal(n, 2);
  });

  it("an operation that failed, a host that rebooted (forgetSessions) or closed the connection: the next operation dials", async () => {
    setSessionReuse(true);
    closeIdleSessions();
    const failed = await loginsDuring(async () => {
      await assert.rejects(withSession(conn(), async (s) => {
        await s.run("true");
        throw new Error("apply failed");
      }), /apply failed/);
      await withSession(conn(), (s) => s.run("true"));
    });
    assert.equal(failed, 2);
    const rebooted = await loginsDuring(async () => {
      await withSession(conn(), (s) => s.run("true"));
      forgetSessions(conn());
      await withSession(conn(), (s) => s.run("true"));
    });
    assert.equal(rebooted, 1, "the first of these reused the connection from before; forgetSessions made the second dial");
    // The host ends the connection while it is idle (its session process is killed).
    const closed = await loginsDuring(async () => {
      await withSession(conn(), (s) => s.run("(sleep 0.3; kill $PPID) >/dev/null 2>&1 &"));
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal((await withSession(conn(), (s) => s.run("echo again"))).stdout, "again\n");
    });
    assert.equal(closed, 1);
  });

  it("a reused connection that died unnoticed (its host froze): the command, which never started, runs once on a new connection", async () => {
    setSessionReuse(true);
    closeIdleSessions();
    let frozen = "";
    try {
      const n = await loginsDuring(async () => {
        frozen = (await withSession(conn(), (s) => s.run("echo $PPID; (sleep 0.3; kill -STOP $PPID) >/dev/null 2>&1 &"))).stdout.trim();
        await new Promise((r) => setTimeout(r, 800));
        // Keepalives (5 s x 3) notice the frozen peer; until then the channel cannot open.
        assert.equal((await withSession(conn(), (s) => s.run("echo fresh"))).stdout, "fresh\n");
      });
      assert.equal(n, 2);
    } finally {
      if (/^\d+$/.test(frozen)) await sshd.ssh(`kill -9 ${frozen}`).catch(() => undefined);
    }
  });

  it("a command that started and was then cut is never run again", async () => {
    setSessionReuse(true);
    closeIdleSessions();
    await withSession(conn(), (s) => s.run("true"));
    const err = await withSession(conn(), (s) => s.run("kill $PPID; sleep 5")).catch((e: unknown) => e);
    assert.ok(err instanceof TransportError && err.kind === "lost" && !err.notStarted, String(err));
  });
});
