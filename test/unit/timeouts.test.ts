import { strict as assert } from "node:assert";
import { parseDuration, stepTimeoutMs, timeoutProblems } from "../../provider/spec/timeouts";
import { inputProblems, shutdownFitProblem } from "../../provider/libvirt/virsh-inputs";
import { readDomainState, writeDomain, WriteTimeoutError } from "../../provider/libvirt/virsh";
import { domainKey, libvirtOwner, recordOps, viewJournal } from "../../provider/libvirt/domain-journal";
import * as domain from "../../provider/resources/libvirt-domain-impl";
import { boundedSession } from "../../provider/spec/timeouts";
import * as device from "../../provider/resources/guest-device-impl";
import { TransportError } from "../../provider/transport";
import type { RemoteSession, RunOptions, RunResult } from "../../provider/transport";

describe("customTimeouts as step bounds", function () {
  it("parses Pulumi's durations (Go's syntax, plus d) to ms", function () {
    assert.deepEqual(["90s", "5m", "1h30m", "1.5h", "1d", "2m500ms", "1000ms"].map(parseDuration), [90_000, 300_000, 5_400_000, 5_400_000, 86_400_000, 120_500, 1000]);
  });

  it("refuses what is not a duration of at least 1s, naming the field and what is accepted", function () {
    assert.deepEqual(["5", "5 m", "-1s", "m", "500ms", "", "1y"].map(parseDuration), [undefined, undefined, undefined, undefined, undefined, undefined, undefined]);
    assert.deepEqual(timeoutProblems({ create: "5x", update: "2m", purge: "1m" }), [
      'timeouts.create: "5x" is not accepted; expected a duration of at least 1s such as "90s", "5m" or "1h30m"',
      'timeouts: unknown operation "purge"; accepted: create, update, delete, read',
    ]);
    assert.deepEqual(timeoutProblems("5m"), ['timeouts: "5m" is not accepted; expected { create?, update?, delete?, read? } durations']);
    assert.deepEqual(timeoutProblems(undefined), []);
  });

  it("gives each operation its own bound, none when unset", function () {
    const t = { create: "10m", delete: "30s" };
    assert.deepEqual([stepTimeoutMs(t, "create"), stepTimeoutMs(t, "delete"), stepTimeoutMs(t, "update"), stepTimeoutMs(undefined, "read")], [600_000, 30_000, undefined, undefined]);
  });
});

describe("customTimeouts of LibvirtDomain and GuestDevice", function () {
  const conn = { host: "hv01", password: "pw12", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC4R9z/TIOObTKEO64Ptvl8pVbxNHFg9yEu4dEiJJdIx" };
  const defined = { connection: conn, name: "db1", mode: "define", domain: { memoryMiB: 1024, vcpus: 2 } };
  const nic = { connection: conn, domain: "db1", interface: { type: "bridge", source: "br0", mac: "52:54:00:00:00:01" } };

  /** A session whose every command records its options and times out, having printed `partial`. */
  class TimingOut implements RemoteSession {
    readonly target = "hv01:22";
    readonly runs: RunOptions[] = [];
    closed = false;
    constructor(private readonly partial?: string) {}
    async run(_script: string, opts: RunOptions = {}): Promise<RunResult> {
      this.runs.push(opts);
      throw new TransportError("timeout", `command on ${this.target} (${opts.label}) did not finish within ${(opts.timeoutMs ?? 600_000) / 1000} s`, [], this.partial);
    }
    close(): void {
      this.closed = true;
    }
  }

  it("check accepts timeouts on both resources and refuses malformed ones, naming the field", async () => {
    assert.deepEqual(inputProblems({ ...defined, timeouts: { create: "10m", read: "30s" } }), []);
    assert.deepEqual(inputProblems({ ...defined, timeouts: { update: "5x", purge: "1m" } }), [
      { property: "timeouts", reason: 'timeouts.update: "5x" is not accepted; expected a duration of at least 1s such as "90s", "5m" or "1h30m"' },
      { property: "timeouts", reason: 'timeouts: unknown operation "purge"; accepted: create, update, delete, read' },
    ]);
    assert.deepEqual((await device.check(undefined, { ...nic, timeouts: { delete: "90s" } } as never)).failures, []);
    assert.deepEqual((await device.check(undefined, { ...nic, timeouts: "5m" } as never)).failures, [
      { property: "timeouts", reason: 'timeouts: "5m" is not accepted; expected { create?, update?, delete?, read? } durations' },
    ]);
  });

  it("refuses a restart whose wait for the guest does not fit in the update's bound (adopted: the create's too)", function () {
    const restart = { ...defined, restart: "when-required" };
    assert.deepEqual(inputProblems({ ...restart, timeouts: { update: "3m" } }), []);
    assert.deepEqual(inputProblems({ ...restart, timeouts: { update: "2m" } }), [{
      property: "shutdownTimeoutSeconds",
      reason: 'shutdownTimeoutSeconds: 120 (the default) does not fit in timeouts.update "2m": a restart is one command within that bound, waiting up to shutdownTimeoutSeconds for the guest\'s shutdown and keeping 60 s to stop and start the domain; expected at most 60, or a timeouts.update of at least "180s"',
    }]);
    assert.deepEqual(inputProblems({ ...restart, shutdownTimeoutSeconds: 30, timeouts: { update: "45s" } }).map((f) => f.reason), [
      'shutdownTimeoutSeconds: 30 does not fit in timeouts.update "45s": a restart is one command within that bound, waiting up to shutdownTimeoutSeconds for the guest\'s shutdown and keeping 60 s to stop and start the domain; expected a timeouts.update of at least "90s"',
    ]);
    // A defined domain's create never restarts it; an adopted one's may.
    assert.deepEqual(inputProblems({ ...restart, timeouts: { create: "1m" } }), []);
    const adopted = { connection: conn, name: "db1", mode: "adopt", restart: "when-required", shutdownTimeoutSeconds: 10, timeouts: { create: "1m" } };
    assert.deepEqual(inputProblems(adopted).map((f) => f.reason), [
      'shutdownTimeoutSeconds: 10 does not fit in timeouts.create "1m": a restart is one command within that bound, waiting up to shutdownTimeoutSeconds for the guest\'s shutdown and keeping 60 s to stop and start the domain; expected at most 0, or a timeouts.create of at least "70s"',
    ]);
    // Without a restart nothing waits; without timeouts the 600 s bound holds what 0-540 allows.
    assert.deepEqual(inputProblems({ ...defined, shutdownTimeoutSeconds: 300, timeouts: { update: "1m" } }), []);
    assert.deepEqual(inputProblems({ ...restart, shutdownTimeoutSeconds: 540 }), []);
    assert.equal(shutdownFitProblem({ shutdownTimeoutSeconds: 540, timeouts: { update: "10m" } }, "update"), undefined);
  });

  it("bounds every command of an operation by that operation's timeout, and leaves the transport's default otherwise", async () => {
    const s = new TimingOut();
    assert.equal(boundedSession(s, undefined, "read"), s);
    assert.equal(boundedSession(s, { create: "5m" }, "read"), s);
    const b = boundedSession(s, { read: "1s", create: "5m" }, "read");
    assert.equal(b.target, "hv01:22");
    await assert.rejects(readDomainState(b, "db1"), { name: "TransportError", message: "command on hv01:22 (read domain) did not finish within 1 s" });
    await assert.rejects(b.run("true", { label: "read facts", timeoutMs: 300_000 }), { message: "command on hv01:22 (read facts) did not finish within 1 s" });
    assert.deepEqual(s.runs.map((r) => r.timeoutMs), [1000, 1000]);
    b.close();
    assert.equal(s.closed, true);
  });

  it("a write given up on at its bound names the host, the step list, the bound, what had finished, and that the domain may be partly changed", async () => {
    const journal = recordOps(viewJournal(undefined, domainKey("db1"), libvirtOwner(undefined, "domain db1")), null);
    const write = (partial: string | undefined, j = journal) => writeDomain(boundedSession(new TimingOut(partial), { update: "3s" }, "update"), "db1", { define: "<domain/>", start: true }, j);
    await assert.rejects(write("@@kvmtune:ok 0\n@@kvmtune:end\ndefine 0 \nsta"), (e: WriteTimeoutError) => {
      assert.ok(e instanceof WriteTimeoutError);
      assert.equal(e.message, "command on hv01:22 (write domain (journal, define, start)) did not finish within 3 s (done before it: journal, define); domain 'db1' may be partly changed (run again to converge)");
      assert.deepEqual(e.done, ["define"]);
      return true;
    });
    await assert.rejects(write(undefined, []), { name: "WriteTimeoutError", message: "command on hv01:22 (write domain (define, start)) did not finish within 3 s; domain 'db1' may be partly changed (run again to converge)" });
  });

  it("a change of timeouts alone is no change to the domain or the device", async () => {
    const olds = { ...defined, timeouts: { update: "5m" } };
    assert.deepEqual(await domain.diff("id", olds as never, { ...defined, timeouts: { update: "10m", read: "1m" } } as never), { changes: false, replaces: [], deleteBeforeReplace: true });
    assert.deepEqual(await domain.diff("id", olds as never, defined as never), { changes: false, replaces: [], deleteBeforeReplace: true });
    assert.deepEqual(await device.diff("id", { ...nic, drift: [] } as never, { ...nic, timeouts: { delete: "30s" } } as never), { changes: false, replaces: [], deleteBeforeReplace: true });
  });
});
