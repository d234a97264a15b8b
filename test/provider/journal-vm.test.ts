// The journal of originals on a real kernel (busybox test VM): originals survive
// lost state and re-creates, a second owner is refused, a take-over keeps the
// recorded original, and the last owner's destroy leaves the host as it was.
// Values and the journal are read back through an independent `vm.ssh` channel.
import { strict as assert } from "node:assert";
import { renderJournalLine, type JournalOwner } from "../../provider/host/journal";
import { applyHostTuning, restoreHostTuning } from "../../provider/host/tuning";
import type { Originals } from "../../provider/host/knobs/plan";
import { sharedTestVm } from "../support/shared-vm";
import type { TestVm } from "../support/vm";

const conn = (vm: TestVm) => ({ host: vm.host, port: vm.port, user: "root", privateKey: vm.privateKey, hostKey: vm.hostKey });

async function sh(vm: TestVm, cmd: string): Promise<string> {
  const r = await vm.ssh(cmd);
  assert.equal(r.code, 0, `${cmd}\n${r.stderr}`);
  return r.stdout;
}

const A: JournalOwner = { stack: "acme/kvm/prod", resource: "jr-a", tag: "jr-a" };
const B: JournalOwner = { stack: "acme/kvm/lab", resource: "jr-b", tag: "jr-b" };
const LIVE = "cat /proc/sys/vm/swappiness /proc/sys/vm/dirty_ratio /sys/kernel/mm/transparent_hugepage/enabled";
const PRISTINE_LIVE = "60\n20\nalways madvise [never]\n";
/** The journal's lines without their `since` times, and its modes; "none" when there is no /var/lib/kvmtune. */
const JOURNAL = `if [ -d /var/lib/kvmtune ]; then stat -c '%a' /var/lib/kvmtune /var/lib/kvmtune/journal; ls -A /var/lib/kvmtune; sed 's/"since":"[^"]*"/"since":"-"/' /var/lib/kvmtune/journal; else echo none; fi`;
const line = (key: string, owner: JournalOwner, original: string | null) => renderJournalLine({ key, ...owner, original, since: "-" });

describe("journal of originals on a real kernel (shared VM)", function () {
  this.timeout(300_000);
  let vm: TestVm;
  const apply = (owner: JournalOwner, settings: Record<string, string>, originals: Originals = {}, previousKeys: string[] = [], takeOver?: string[]) =>
    applyHostTuning(conn(vm), { settings, tag: owner.tag, allowManagementInterface: false, originals, previousKeys, owner, takeOver });

  before(async function () {
    vm = await sharedTestVm();
    assert.equal(await sh(vm, LIVE), PRISTINE_LIVE, "the shared VM starts from the kernel's defaults");
    assert.equal(await sh(vm, JOURNAL), "none\n");
  });

  afterEach(async function () {
    // Leave the shared VM as found even when a test failed half-way.
    await vm.ssh("echo 60 > /proc/sys/vm/swappiness; echo 20 > /proc/sys/vm/dirty_ratio; echo never > /sys/kernel/mm/transparent_hugepage/enabled; rm -rf /var/lib/kvmtune /etc/sysctl.d/90-kvmtune-jr-* /etc/tmpfiles.d/kvmtune-jr-*");
  });

  it("records originals root-only before the first write; a second run with empty state (a re-create) keeps them, and destroy restores them", async function () {
    const settings = { "sysctl:vm.swappiness": "10", "thp:enabled": "madvise" };
    const first = await apply(A, settings);
    assert.deepEqual(first.originals, { "thp:enabled": "never", "sysctl:vm.swappiness": "60" });
    assert.equal(await sh(vm, JOURNAL), `700\n600\njournal\n${line("thp:enabled", A, "never")}\n${line("sysctl:vm.swappiness", A, "60")}\n`);

    // What a killed CLI leaves: the host tuned, the state without the resource. The re-create finds the journal.
    const again = await apply(A, settings);
    assert.deepEqual(again.originals, { "thp:enabled": "never", "sysctl:vm.swappiness": "60" }, "not the tuned values 10 and madvise");
    assert.deepEqual(again.changes, []);

    // Destroy with lost state: the journal alone says what to give back.
    await restoreHostTuning(conn(vm), {}, A.tag, A);
    assert.equal(await sh(vm, LIVE), PRISTINE_LIVE);
    assert.equal(await sh(vm, JOURNAL), "none\n", "the journal and its directory are gone with the last entry");
  });

  it("gives back a key only the journal knows when a run with lost state no longer wants it", async function () {
    await apply(A, { "sysctl:vm.swappiness": "10", "sysctl:vm.dirty_ratio": "5" });
    const r = await apply(A, { "sysctl:vm.swappiness": "10" });
    assert.deepEqual(r.changes, [{ key: "sysctl:vm.dirty_ratio", from: "5", to: "20", disruption: "live" }]);
    assert.equal(await sh(vm, "cat /proc/sys/vm/dirty_ratio /etc/sysctl.d/90-kvmtune-jr-a.conf"), "20\n# Managed by kvmtune (jr-a). Changes here are overwritten; change the Pulumi program instead.\nvm.swappiness = 10\n");
    assert.equal(await sh(vm, JOURNAL), `700\n600\njournal\n${line("sysctl:vm.swappiness", A, "60")}\n`);
    await restoreHostTuning(conn(vm), r.originals, A.tag, A);
    assert.equal(await sh(vm, LIVE), PRISTINE_LIVE);
  });

  it("takes originals from state for keys applied before the journal existed, and records them", async function () {
    await sh(vm, "echo 10 > /proc/sys/vm/swappiness");
    const r = await apply(A, { "sysctl:vm.swappiness": "10" }, { "sysctl:vm.swappiness": "60" }, ["sysctl:vm.swappiness"]);
    assert.deepEqual(r.originals, { "sysctl:vm.swappiness": "60" });
    assert.equal(await sh(vm, JOURNAL), `700\n600\njournal\n${line("sysctl:vm.swappiness", A, "60")}\n`);
    await restoreHostTuning(conn(vm), r.originals, A.tag, A);
    assert.equal(await sh(vm, LIVE), PRISTINE_LIVE);
  });

  it("refuses a second owner before any write, naming the first; a take-over keeps the original; the last owner restores it", async function () {
    const a = await apply(A, { "sysctl:vm.swappiness": "10", "sysctl:vm.dirty_ratio": "5" });
    const journalA = await sh(vm, JOURNAL);
    let refused: Error | undefined;
    try {
      await apply(B, { "sysctl:vm.swappiness": "30", "thp:enabled": "madvise" });
    } catch (err) {
      refused = err as Error;
    }
    assert.ok(refused, "the second owner must be refused");
    assert.match(
      refused.message,
      new RegExp(
        `^invalid settings for 127\\.0\\.0\\.1:${vm.port} \\(nothing was changed\\):\\n  - sysctl:vm\\.swappiness is owned by TunedHost "jr-a" of stack acme/kvm/prod since \\S+ \\(journal /var/lib/kvmtune/journal\\); ` +
          `a setting has one owner per host\\. Leave it to that owner, or take it over with takeOver: \\["sysctl:vm\\.swappiness"\\] \\(the recorded original, "60", is kept for the last owner's destroy\\)$`,
      ),
    );
    assert.equal(await sh(vm, LIVE), "10\n5\nalways madvise [never]\n", "nothing of B's was written");
    assert.equal(await sh(vm, JOURNAL), journalA);

    const b = await apply(B, { "sysctl:vm.swappiness": "30", "thp:enabled": "madvise" }, {}, [], ["sysctl:vm.swappiness"]);
    assert.deepEqual(b.originals, { "thp:enabled": "never", "sysctl:vm.swappiness": "60" }, "the recorded original, not A's 10");
    assert.deepEqual(b.notes, ['sysctl:vm.swappiness: taken over from TunedHost "jr-a" of stack acme/kvm/prod; its recorded original ("60") is kept']);
    assert.equal(await sh(vm, JOURNAL), `700\n600\njournal\n${line("sysctl:vm.dirty_ratio", A, "20")}\n${line("thp:enabled", B, "never")}\n${line("sysctl:vm.swappiness", B, "60")}\n`);

    // A's destroy gives back only what it still owns.
    const released = await restoreHostTuning(conn(vm), a.originals, A.tag, A);
    assert.deepEqual(released, { restored: ["sysctl:vm.dirty_ratio"], notes: ['sysctl:vm.swappiness: now owned by TunedHost "jr-b" of stack acme/kvm/lab, so it is left as it is'] });
    assert.equal(await sh(vm, LIVE), "30\n20\nalways [madvise] never\n");
    assert.equal(await sh(vm, "ls /etc/sysctl.d"), "90-kvmtune-jr-b.conf\n", "A's file went, B's stayed");

    await restoreHostTuning(conn(vm), b.originals, B.tag, B);
    assert.equal(await sh(vm, LIVE), PRISTINE_LIVE, "exactly as before kvmtune");
    assert.equal(await sh(vm, JOURNAL), "none\n");
  });

  it("refuses another stack's resource of the same name, whose persistence files it would share", async function () {
    await apply(A, { "sysctl:vm.swappiness": "10" });
    const twin = { ...A, stack: "acme/kvm/lab" };
    await assert.rejects(apply(twin, { "sysctl:vm.dirty_ratio": "5" }), (err: Error) => {
      assert.equal(
        err.message,
        `invalid settings for 127.0.0.1:${vm.port} (nothing was changed):\n  - persistence files tagged "jr-a" (e.g. /etc/sysctl.d/90-kvmtune-jr-a.conf) belong to TunedHost "jr-a" of stack acme/kvm/prod; give this TunedHost another name`,
      );
      return true;
    });
    assert.equal(await sh(vm, "cat /proc/sys/vm/dirty_ratio /etc/sysctl.d/90-kvmtune-jr-a.conf"), "20\n# Managed by kvmtune (jr-a). Changes here are overwritten; change the Pulumi program instead.\nvm.swappiness = 10\n");
    await restoreHostTuning(conn(vm), {}, A.tag, A);
    assert.equal(await sh(vm, LIVE), PRISTINE_LIVE);
  });

  it("a failed apply leaves no journal entry for the values it rolled back", async function () {
    await assert.rejects(apply(A, { "sysctl:vm.swappiness": "10", "block:vdb:nr_requests": "4096" }), /failed: write \/sys\/block\/vdb\/queue\/nr_requests: .*rolled back to their previous values\.$/);
    assert.equal(await sh(vm, "cat /proc/sys/vm/swappiness"), "60\n");
    assert.equal(await sh(vm, JOURNAL), "none\n");
  });
});
