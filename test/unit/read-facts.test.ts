import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FACTS_SCRIPT } from "../../provider/host/facts-script";
import { readHostFactsWith } from "../../provider/host/read-facts";
import type { RemoteSession, RunOptions, RunResult } from "../../provider/transport/types";
import { expectedHv01 } from "../fixtures/facts/expected";
import { FIXTURE_DIR } from "../fixtures/facts/run-script";

/** A session that answers every run with `result` and records what it was asked. */
function fakeSession(result: RunResult): RemoteSession & { calls: Array<{ script: string; opts?: RunOptions }>; closed: boolean } {
  return {
    target: "hv01.example:22",
    calls: [],
    closed: false,
    async run(script: string, opts?: RunOptions) {
      this.calls.push({ script, opts });
      return result;
    },
    close() {
      this.closed = true;
    },
  };
}

describe("readHostFactsWith", function () {
  const hv01Output = readFileSync(join(FIXTURE_DIR, "hv01-2socket.txt"), "utf8");

  it("runs FACTS_SCRIPT once, with no stdin, and parses its output", async function () {
    const session = fakeSession({ stdout: hv01Output, stderr: "", code: 0 });
    assert.deepStrictEqual(await readHostFactsWith(session), expectedHv01);
    assert.equal(session.calls.length, 1);
    assert.equal(session.calls[0].script, FACTS_SCRIPT);
    assert.equal(session.calls[0].opts, undefined);
    assert.equal(session.closed, false, "the caller owns the session");
  });

  it("ignores stderr noise when the script succeeds", async function () {
    const session = fakeSession({ stdout: hv01Output, stderr: "sudo: unable to resolve host hv01\n", code: 0 });
    assert.equal((await readHostFactsWith(session)).hostname, "hv01");
  });

  it("names the target, exit code and the last 5 stderr lines on a non-zero exit", async function () {
    const stderr = ["motd line 1", "motd line 2", "a", "b", "c", "d", "sh: 1: syntax error: unexpected end of file"].join("\n") + "\n";
    const session = fakeSession({ stdout: "", stderr, code: 2 });
    await assert.rejects(readHostFactsWith(session), {
      message: "reading host facts on hv01.example:22 failed with exit code 2 (stderr: a\nb\nc\nd\nsh: 1: syntax error: unexpected end of file)",
    });
  });

  it("keeps a long stderr tail short", async function () {
    const session = fakeSession({ stdout: "", stderr: `${"x".repeat(5000)}END\n`, code: 1 });
    await assert.rejects(readHostFactsWith(session), (err: Error) => {
      assert.match(err.message, /^reading host facts on hv01\.example:22 failed with exit code 1 \(stderr: …x+END\)$/);
      assert.ok(err.message.length < 900, `${err.message.length} chars`);
      return true;
    });
  });

  it("names the target when the output is not complete facts output", async function () {
    const truncated = hv01Output.slice(0, 2000);
    await assert.rejects(readHostFactsWith(fakeSession({ stdout: truncated, stderr: "", code: 0 })), {
      message: "reading host facts on hv01.example:22: facts output is truncated (no end marker) (no stderr)",
    });
    await assert.rejects(readHostFactsWith(fakeSession({ stdout: "", stderr: "Connection closed\n", code: 0 })), {
      message: "reading host facts on hv01.example:22: not kvmtune facts output version 1 (no facts header) (stderr: Connection closed)",
    });
  });
});
