// The host side of the journal of originals: APPLY_SCRIPT's compare-and-set of
// one line, run for real under each shell, in a private mount namespace whose
// /var/lib is a fresh tmpfs (this machine's /var/lib is never touched).
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderJournalLine } from "../../provider/host/journal";
import { APPLY_SCRIPT, encodeOps } from "../../provider/host/knobs/remote";
import type { RemoteOp } from "../../provider/host/knobs/types";
import { SHELL_ARGV, type Shell } from "../fixtures/facts/run-script";

const owner = { stack: "acme/kvm/prod", resource: "hv01", tag: "hv01", since: "2026-12-04T10:00:00.000Z" };
const lineA = renderJournalLine({ key: "sysctl:vm.swappiness", ...owner, original: "60" });
const lineA2 = renderJournalLine({ key: "sysctl:vm.swappiness", ...owner, resource: "hv02", original: "60" });
const lineB = renderJournalLine({ key: "hugetlbfs:2M", ...owner, original: null });
const op = (key: string, expected: string, line: string): RemoteOp => ({ op: "journal", key, expected, line });

/** Runs each batch of ops as one APPLY_SCRIPT command in one namespace; prints its output, then the journal's state. */
function runBatches(shell: Shell, batches: { ops: RemoteOp[]; before?: string }[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), "kvmtune-journal-"));
  try {
    const steps = batches.map((b, i) => {
      writeFileSync(join(dir, `ops${i}`), encodeOps(b.ops));
      return [b.before ?? ":", `"$@" -c "$APPLY" < "$T/ops${i}"; echo "exit=$?"`, `if [ -f /var/lib/kvmtune/journal ]; then stat -c 'mode %a' /var/lib/kvmtune /var/lib/kvmtune/journal | tr '\\n' ' '; echo; cat /var/lib/kvmtune/journal; else echo "no journal"; fi`, "ls -A /var/lib/kvmtune 2>/dev/null | grep -v '^journal$' || true", "echo ---"].join("\n");
    });
    const inner = ["mount -t tmpfs -o size=1m tmpfs /var/lib", ...steps].join("\n");
    const r = spawnSync("unshare", ["-m", "--propagation", "private", "sh", "-c", inner, "inner", ...SHELL_ARGV[shell]], {
      encoding: "utf8",
      timeout: 60_000,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", T: dir, APPLY: APPLY_SCRIPT },
    });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split("---\n").map((s) => s.trimEnd());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("journal of originals: the host-side compare-and-set (private /var/lib)", function () {
  this.timeout(120_000);
  before(function () {
    // Root and util-linux's unshare are part of the test bed: their absence is a failure, not a skip.
    const r = spawnSync("unshare", ["-m", "--propagation", "private", "true"]);
    assert.equal(r.status, 0, `unshare -m failed: ${r.stderr}`);
  });

  for (const shell of ["sh", "busybox", "bash"] as Shell[]) {
    it(`records, refuses a stale expectation, replaces, breaks a dead holder's lock and removes the journal with its last line (${shell})`, function () {
      const out = runBatches(shell, [
        { ops: [op("sysctl:vm.swappiness", "", lineA), op("hugetlbfs:2M", "", lineB)] },
        // A second writer that read before the first wrote: refused, nothing changed.
        { ops: [op("sysctl:vm.swappiness", "", lineA2)] },
        // The lock of a process that no longer exists is broken; a PID that cannot exist stands in for it.
        { ops: [op("sysctl:vm.swappiness", lineA, lineA2)], before: "ln -s 4194399 /var/lib/kvmtune/lock" },
        { ops: [op("hugetlbfs:2M", lineB, ""), op("sysctl:vm.swappiness", lineA2, "")] },
      ]);
      assert.deepEqual(out[0].split("\n"), ["@@kvmtune:ok 0", "@@kvmtune:ok 1", "@@kvmtune:end", "exit=0", "mode 700 mode 600 ", lineA, lineB]);
      assert.deepEqual(out[1].split("\n"), [
        "@@kvmtune:fail 0 the journal entry of sysctl:vm.swappiness in /var/lib/kvmtune/journal changed since it was read (another kvmtune run on this host?); run again",
        "exit=3",
        "mode 700 mode 600 ",
        lineA,
        lineB,
      ]);
      assert.deepEqual(out[2].split("\n"), ["@@kvmtune:ok 0", "@@kvmtune:end", "exit=0", "mode 700 mode 600 ", lineB, lineA2], "no lock left behind, the other line kept");
      assert.deepEqual(out[3].split("\n"), ["@@kvmtune:ok 0", "@@kvmtune:ok 1", "@@kvmtune:end", "exit=0", "no journal"], "the file and its directory are gone");
    });
  }

  it("prune removes only an empty directory or an empty file, and never fails", function () {
    const prune = (path: string): RemoteOp => ({ op: "prune", path });
    const out = runBatches("busybox", [
      {
        before: "mkdir -p /var/lib/e /var/lib/full && touch /var/lib/full/x /var/lib/empty-file && echo data > /var/lib/data",
        ops: [prune("/var/lib/e"), prune("/var/lib/full"), prune("/var/lib/empty-file"), prune("/var/lib/data"), prune("/var/lib/none")],
      },
      // What is left, listed before a second (empty) command.
      { before: "ls -A /var/lib", ops: [] },
    ]);
    assert.deepEqual(out[0].split("\n").slice(0, 7), ["@@kvmtune:ok 0", "@@kvmtune:ok 1", "@@kvmtune:ok 2", "@@kvmtune:ok 3", "@@kvmtune:ok 4", "@@kvmtune:end", "exit=0"]);
    assert.deepEqual(out[1].split("\n").slice(0, 2), ["data", "full"]);
  });

  it("waits for a live holder of the lock, then proceeds", function () {
    const out = runBatches("sh", [{ ops: [op("sysctl:vm.swappiness", "", lineA)], before: "mkdir -p /var/lib/kvmtune; sleep 2 & ln -s $! /var/lib/kvmtune/lock; (sleep 1; rm -f /var/lib/kvmtune/lock) &" }]);
    assert.deepEqual(out[0].split("\n"), ["@@kvmtune:ok 0", "@@kvmtune:end", "exit=0", "mode 700 mode 600 ", lineA]);
  });
});
