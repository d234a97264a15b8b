// A block device that does not answer (a frozen request queue): the facts script
// gives up on it within its bound under every shell, the knob read skips its
// files and says so, plans that touch it are refused before any write, and a
// step that hangs is named. Scripts run here for real, on fake roots where a
// FIFO stands for a sysfs file whose read never returns.
import { strict as assert } from "node:assert";
import { execFileSync, spawnSync } from "node:child_process";
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseHostFacts, type HostFacts } from "../../provider/host/facts";
import { ApplyError, applyOps, DEFAULT_STEP_TIMEOUT_MS, readFiles, readSnapshot } from "../../provider/host/knobs/execute";
import { normaliseSettings, planApply } from "../../provider/host/knobs/plan";
import { parseReadOutput, READ_SCRIPT } from "../../provider/host/knobs/remote";
import type { RemoteOp } from "../../provider/host/knobs/types";
import { pathUnder, planUnresponsive } from "../../provider/host/knobs/unresponsive";
import { resolveKnob } from "../../provider/host/knobs/catalogue";
import { TransportError } from "../../provider/transport/ssh";
import type { RemoteSession, RunOptions, RunResult } from "../../provider/transport/types";
import { expectedHv01 } from "../fixtures/facts/expected";
import { hv01 } from "../fixtures/facts/fake-hosts";
import { buildFakeRoot, FIXTURE_DIR, runFactsScript, SHELL_ARGV, type Shell } from "../fixtures/facts/run-script";

const SHELLS: Shell[] = ["sh", "busybox", "bash"];
const HV01 = parseHostFacts(readFileSync(join(FIXTURE_DIR, "hv01-2socket.txt"), "utf8"));
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const dump = (...sections: string[]) => ["@@kvmtune:facts 1", ...sections, "@@kvmtune:end", ""].join("\n");
/** The facts script's temp dirs in /tmp now (each run must remove its own). */
const factsTempDirs = () => new Set(readdirSync(tmpdir()).filter((d) => d.startsWith("kvmtune-facts.")));

/** Waits (a little: the script removes it in the background) until no facts temp dir but those in `before` is left. */
async function removed(before: Set<string>): Promise<void> {
  let left: string[] = [];
  for (let i = 0; i < 50; i++) {
    left = [...factsTempDirs()].filter((d) => !before.has(d));
    if (left.length === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`the facts script left ${left.join(", ")} in ${tmpdir()}`);
}

/** hv01's tree with nvme0n1's queue/scheduler replaced by a FIFO nobody writes: reading it blocks, as a frozen queue's does. */
function frozenHv01(): { root: string; fifo: string; release: () => void } {
  const { root, remove } = buildFakeRoot(hv01);
  const fifo = join(realpathSync(join(root, "sys/block/nvme0n1")), "queue/scheduler");
  rmSync(fifo);
  execFileSync("mkfifo", [fifo]);
  return {
    root,
    fifo,
    release() {
      // A writer lets a reader stuck in open() go on (it then reads EOF); without one it stays forever.
      try {
        closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // no reader left
      }
      remove();
    },
  };
}

/** hv01's facts with nvme0n1 unresponsive: only its generic attributes are known. */
function expectedFrozen(seconds: number): HostFacts {
  const f = clone(expectedHv01);
  const nvme = f.blockDevices.find((d) => d.name === "nvme0n1")!;
  Object.assign(nvme, { rotational: null, schedulers: [], scheduler: null, readAheadKiB: null, nrRequests: null, model: null, serial: null, wwid: null });
  f.unresponsive = [{ path: "/sys/block/nvme0n1", seconds }];
  return f;
}

function knob(key: string) {
  const k = resolveKnob(key);
  if ("problem" in k) throw new Error(k.problem);
  return k;
}

/** A RemoteSession that runs scripts here under one shell, with extra environment (a fake root). */
class LocalSession implements RemoteSession {
  readonly target = "local-test:0";
  readonly runs: RunOptions[] = [];
  constructor(
    private readonly shell: Shell,
    private readonly env: Record<string, string>,
  ) {}
  async run(script: string, opts: RunOptions = {}): Promise<RunResult> {
    this.runs.push(opts);
    const argv = SHELL_ARGV[this.shell];
    const r = spawnSync(argv[0], [...argv.slice(1), "-c", script], { input: opts.stdin, encoding: "utf8", timeout: 30_000, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...this.env } });
    if (r.error) throw r.error;
    return { stdout: r.stdout, stderr: r.stderr, code: r.status ?? -1 };
  }
  close(): void {}
}

/** A RemoteSession whose every command times out, having printed `partial` (undefined: not even the framing marker). */
class TimingOutSession implements RemoteSession {
  readonly target = "hv01:22";
  readonly runs: RunOptions[] = [];
  constructor(private readonly partial: string | undefined) {}
  async run(_script: string, opts: RunOptions = {}): Promise<RunResult> {
    this.runs.push(opts);
    throw new TransportError("timeout", `command on ${this.target} (${opts.label}) did not finish within ${(opts.timeoutMs ?? 0) / 1000} s`, [], this.partial);
  }
  close(): void {}
}

describe("unresponsive block devices", function () {
  this.timeout(120_000);

  describe("the facts script gives up on a device that does not answer", function () {
    for (const shell of SHELLS) {
      it(`reports it with the seconds waited, reads everything else, and leaves its reader behind (${shell})`, async function () {
        const host = frozenHv01();
        const before = factsTempDirs();
        try {
          const t0 = Date.now();
          const r = runFactsScript({ shell, root: host.root, env: { ...hv01.env, KVMTUNE_FACTS_BLOCK_WAIT: "1" } });
          const ms = Date.now() - t0;
          assert.equal(r.code, 0, r.stderr);
          assert.equal(r.stderr, "");
          // Not a speed check: it returned at all (the reader is still blocked) and did not wait for the 5 s default.
          assert.ok(ms < 20_000, `${ms} ms`);
          assert.deepStrictEqual(parseHostFacts(r.stdout), expectedFrozen(1));
          assert.match(r.stdout, /\n@@kvmtune:var unresponsive\n\/sys\/block\/nvme0n1 1\n@@kvmtune:end\n$/);
          await removed(before);
          // A non-blocking writer can only open a FIFO that a reader holds: the stuck reader was neither killed nor waited for.
          closeSync(openSync(host.fifo, constants.O_WRONLY | constants.O_NONBLOCK));
        } finally {
          host.release();
        }
      });
    }

    it("parses the report: path and seconds per device, sorted; anything else is ignored", function () {
      const f = parseHostFacts(dump("@@kvmtune:var unresponsive", "/sys/block/vdb 5", "/sys/block/nvme10n1 7", "/sys/block/nvme2n1 5", "/etc/passwd 5", "/sys/block/sda x", ""));
      assert.deepStrictEqual(f.unresponsive, [
        { path: "/sys/block/nvme2n1", seconds: 5 },
        { path: "/sys/block/nvme10n1", seconds: 7 },
        { path: "/sys/block/vdb", seconds: 5 },
      ]);
      assert.deepStrictEqual(parseHostFacts(dump()).unresponsive, []);
    });
  });

  describe("the knob read skips files under such a device", function () {
    let dir: string;
    beforeEach(function () {
      dir = mkdtempSync(join(tmpdir(), "kvmtune-hung-"));
      for (const d of ["vda", "vdb"]) mkdirSync(join(dir, d, "queue"), { recursive: true });
      writeFileSync(join(dir, "vda/queue/scheduler"), "[none] mq-deadline\n");
      // Reading this would block the script (and the test) for good.
      execFileSync("mkfifo", [join(dir, "vdb/queue/scheduler")]);
    });
    afterEach(function () {
      rmSync(dir, { recursive: true, force: true });
    });

    for (const shell of SHELLS) {
      it(`reports them as hung, apart from missing files, without touching them (${shell})`, function () {
        const argv = SHELL_ARGV[shell];
        const paths = ["vda/queue/scheduler", "vdb/queue/scheduler", "vd*/queue/scheduler", "vdb/queue/nr_requests", "vdc/queue/scheduler"].map((p) => join(dir, p));
        const r = spawnSync(argv[0], [...argv.slice(1), "-c", READ_SCRIPT], {
          input: paths.map((p) => `${p}\n`).join(""),
          encoding: "utf8",
          timeout: 30_000,
          env: { PATH: process.env.PATH ?? "/usr/bin:/bin", kvmtune_hung: `${join(dir, "vdx")} ${join(dir, "vdb")}` },
        });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stderr, "");
        const files = parseReadOutput(r.stdout);
        assert.deepEqual([...files], [
          [join(dir, "vda/queue/scheduler"), "[none] mq-deadline"],
          [join(dir, "vdc/queue/scheduler"), undefined],
        ]);
        assert.deepEqual(files.hung, [join(dir, "vdb/queue/scheduler"), join(dir, "vdb/queue/scheduler"), join(dir, "vdb/queue/nr_requests")]);
        assert.equal(files.has(join(dir, "vdb/queue/scheduler")), false, "a hung file is not a missing one");
      });
    }

    it("parses hung lines apart from read and missing ones", function () {
      const files = parseReadOutput("@@kvmtune:read /a\nx\n@@kvmtune:eof\n@@kvmtune:hung /sys/block/vdb/queue/scheduler\n@@kvmtune:missing /c\n@@kvmtune:end\n");
      assert.deepEqual([...files], [["/a", "x"], ["/c", undefined]]);
      assert.deepEqual(files.hung, ["/sys/block/vdb/queue/scheduler"]);
      assert.deepEqual(parseReadOutput("@@kvmtune:end\n").hung, []);
    });
  });

  describe("readSnapshot: facts and knob read in one command", function () {
    for (const shell of SHELLS) {
      it(`hands the facts' unresponsive devices to the knob read (${shell})`, async function () {
        const host = frozenHv01();
        try {
          const s = new LocalSession(shell, { ...hv01.env, KVMTUNE_FACTS_ROOT: host.root, KVMTUNE_FACTS_BLOCK_WAIT: "1" });
          // The knob read uses real paths (no fake root): this machine's swappiness, read-only.
          const snap = await readSnapshot(s, ["/sys/block/nvme0n1/queue/scheduler", "/proc/sys/vm/swappiness"]);
          assert.deepStrictEqual(snap.facts, expectedFrozen(1));
          assert.deepEqual([...snap.files], [["/proc/sys/vm/swappiness", readFileSync("/proc/sys/vm/swappiness", "utf8").trim()]]);
          assert.deepEqual(snap.files.hung, ["/sys/block/nvme0n1/queue/scheduler"]);
          assert.deepEqual(s.runs.map((o) => [o.label, o.timeoutMs]), [["read host state", DEFAULT_STEP_TIMEOUT_MS]]);
        } finally {
          host.release();
        }
      });
    }
  });

  describe("planUnresponsive", function () {
    const vdb = [{ path: "/sys/block/vdb", seconds: 5 }];

    it("refuses a key whose files lie under the device, naming key, device and seconds", function () {
      assert.deepEqual([...planUnresponsive([["block:vdb:scheduler", knob("block:vdb:scheduler")]], vdb)], [
        ["block:vdb:scheduler", "block:vdb:scheduler: /sys/block/vdb did not answer within 5 s (a frozen block queue?); nothing was changed on this host"],
      ]);
    });

    it("refuses a glob key that matches the device, naming every such device and the longest wait", function () {
      const two = [...vdb, { path: "/sys/block/vdc", seconds: 6 }];
      assert.deepEqual([...planUnresponsive([["block:vd*:read_ahead_kb", knob("block:vd*:read_ahead_kb")], ["block:vd?:nr_requests", knob("block:vd?:nr_requests")]], two)], [
        ["block:vd*:read_ahead_kb", "block:vd*:read_ahead_kb: /sys/block/vdb, /sys/block/vdc did not answer within 6 s (a frozen block queue?); nothing was changed on this host"],
        ["block:vd?:nr_requests", "block:vd?:nr_requests: /sys/block/vdb, /sys/block/vdc did not answer within 6 s (a frozen block queue?); nothing was changed on this host"],
      ]);
    });

    it("leaves other keys alone: other devices, sysctls, THP; and facts without the field", function () {
      const keys = ["block:vda:scheduler", "block:sd*:scheduler", "block:vdbx:scheduler", "sysctl:vm.swappiness", "thp:enabled"];
      assert.deepEqual([...planUnresponsive(keys.map((k) => [k, knob(k)]), vdb)], []);
      assert.deepEqual([...planUnresponsive([["block:vdb:scheduler", knob("block:vdb:scheduler")]], undefined)], []);
      assert.deepEqual([...planUnresponsive([["block:vdb:scheduler", knob("block:vdb:scheduler")]], [])], []);
    });

    it("matches paths component by component, globs in the path only", function () {
      assert.equal(pathUnder("/sys/block/vdb/queue/scheduler", "/sys/block/vdb"), true);
      assert.equal(pathUnder("/sys/block/vd*/queue/scheduler", "/sys/block/vdb"), true);
      assert.equal(pathUnder("/sys/block/vd?/queue/scheduler", "/sys/block/vdb"), true);
      assert.equal(pathUnder("/sys/block/vdb", "/sys/block/vdb"), true);
      assert.equal(pathUnder("/sys/block/vdbb/queue/scheduler", "/sys/block/vdb"), false);
      assert.equal(pathUnder("/sys/block", "/sys/block/vdb"), false);
      assert.equal(pathUnder("/sys/block/dm.0/queue/scheduler", "/sys/block/dmx0"), false, "a dot is literal");
    });
  });

  describe("planApply on a host with an unresponsive device", function () {
    const facts: HostFacts = { ...HV01, unresponsive: [{ path: "/sys/block/nvme0n1", seconds: 5 }] };
    const files = new Map<string, string | undefined>([["/proc/sys/vm/swappiness", "60"], ["/sys/block/sda/queue/scheduler", "none [mq-deadline] kyber bfq"]]);
    const plan = (settings: Record<string, string>, dropped: string[] = []) => {
      const n = normaliseSettings(settings);
      assert.deepEqual(n.problems, []);
      return planApply({ desired: n.desired, knobs: n.knobs, facts, files, tag: "hv01", allowManagementInterface: false, originals: {}, dropped: new Map(dropped.map((k) => [k, knob(k)])) });
    };

    it("refuses the keys that touch it, and only with that reason", function () {
      const p = plan({ "sysctl:vm.swappiness": "10", "block:nvme0n1:scheduler": "none", "block:nvme*:read_ahead_kb": "512", "block:sda:scheduler": "none" }, ["block:nvme0n1:nr_requests"]);
      assert.deepEqual(p.problems, [
        "block:nvme0n1:nr_requests: /sys/block/nvme0n1 did not answer within 5 s (a frozen block queue?); nothing was changed on this host",
        "block:nvme*:read_ahead_kb: /sys/block/nvme0n1 did not answer within 5 s (a frozen block queue?); nothing was changed on this host",
        "block:nvme0n1:scheduler: /sys/block/nvme0n1 did not answer within 5 s (a frozen block queue?); nothing was changed on this host",
      ]);
    });

    it("plans a sysctl-only change as on any host", function () {
      const p = plan({ "sysctl:vm.swappiness": "10" });
      assert.deepEqual(p.problems, []);
      assert.deepEqual(p.changes, [{ key: "sysctl:vm.swappiness", from: "60", to: "10", disruption: "live" }]);
      assert.deepEqual(p.ops[0], { op: "write", path: "/proc/sys/vm/swappiness", value: "10" });
    });
  });

  describe("every remote step is bounded and named", function () {
    const ops: RemoteOp[] = [
      { op: "write", path: "/proc/sys/vm/swappiness", value: "10" },
      { op: "write", path: "/sys/block/vdb/queue/scheduler", value: "none" },
      { op: "write", path: "/sys/block/vdb/queue/read_ahead_kb", value: "512" },
    ];

    it("a step that does not finish: host, step, op and seconds, and how many steps finished", async function () {
      const s = new TimingOutSession("@@kvmtune:ok 0\n");
      await assert.rejects(applyOps(s, ops, "apply settings", 10_000), (err: ApplyError) => {
        assert.equal(err.name, "ApplyError");
        assert.equal(err.message, 'on hv01:22, step 2 of 3 (write "none" to /sys/block/vdb/queue/scheduler) did not finish within 10 s; the host may be partly changed (run again to converge)');
        assert.equal(err.done, 1);
        return true;
      });
      assert.deepEqual(s.runs.map((o) => [o.label, o.timeoutMs]), [["apply settings", 10_000]]);
    });

    it("names the first step when nothing was printed, and the label when every step had finished", async function () {
      await assert.rejects(applyOps(new TimingOutSession(undefined), ops, "apply settings", 1500), {
        name: "ApplyError",
        message: 'on hv01:22, step 1 of 3 (write "10" to /proc/sys/vm/swappiness) did not finish within 1.5 s; the host may be partly changed (run again to converge)',
      });
      await assert.rejects(applyOps(new TimingOutSession("@@kvmtune:ok 0\n@@kvmtune:ok 1\n@@kvmtune:ok 2\n"), ops, "roll back", 5000), {
        name: "ApplyError",
        message: "on hv01:22, roll back, after all 3 steps, did not finish within 5 s; the host may be partly changed (run again to converge)",
      });
    });

    it(`defaults to DEFAULT_STEP_TIMEOUT_MS (${DEFAULT_STEP_TIMEOUT_MS / 1000} s), far below the transport's 10 minutes, for reads and applies`, async function () {
      assert.equal(DEFAULT_STEP_TIMEOUT_MS, 120_000);
      const s = new TimingOutSession("");
      await assert.rejects(applyOps(s, ops), { message: 'on hv01:22, step 1 of 3 (write "10" to /proc/sys/vm/swappiness) did not finish within 120 s; the host may be partly changed (run again to converge)' });
      await assert.rejects(readFiles(s, ["/proc/sys/vm/swappiness"]), { name: "TransportError", message: "command on hv01:22 (read back) did not finish within 120 s" });
      await assert.rejects(readSnapshot(s, [], 7000), { name: "TransportError", message: "command on hv01:22 (read host state) did not finish within 7 s" });
      await assert.rejects(readFiles(s, [], "read settings", 3000), { name: "TransportError", message: "command on hv01:22 (read settings) did not finish within 3 s" });
      assert.deepEqual(s.runs.map((o) => [o.label, o.timeoutMs]), [["apply", 120_000], ["read back", 120_000], ["read host state", 7000], ["read settings", 3000]]);
    });

    it("other transport failures pass through unchanged", async function () {
      const lost = new TransportError("lost", "connection to hv01:22 was lost while running a command (apply); the step may be partly applied, so re-run to converge");
      const s: RemoteSession = { target: "hv01:22", run: () => Promise.reject(lost), close() {} };
      await assert.rejects(applyOps(s, ops), (err) => err === lost);
    });
  });
});
