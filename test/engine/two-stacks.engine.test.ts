// Two stacks, one host, through the real Pulumi engine: the host's journal of
// originals is the only thing the two stacks share. Stack B's preview is refused
// naming A's TunedHost and stack; a take-over keeps the host's true original;
// A's drift check then shows the key B took; A's destroy gives back only what A
// still owns, and B's destroy leaves the host as it was before kvmtune.
import { strict as assert } from "node:assert";
import { TunedHost } from "../../components/tuned-host";
import { inlineStack, type EngineStack } from "../support/engine";
import { startTestVm, type TestVm } from "../support/vm";

const PROJECT_A = "kvmtune-two-stacks-a";
const PROJECT_B = "kvmtune-two-stacks-b";
const STACK_A = `organization/${PROJECT_A}/dev`;
const STACK_B = `organization/${PROJECT_B}/dev`;

/** swappiness, dirty_ratio, THP enabled. */
const LIVE = "cat /proc/sys/vm/swappiness /proc/sys/vm/dirty_ratio /sys/kernel/mm/transparent_hugepage/enabled";
const PRISTINE_LIVE = "60\n20\nalways madvise [never]\n";
/** The journal without its `since` times (as test/provider/journal-vm.test.ts strips them), or "none". */
const JOURNAL = `if [ -d /var/lib/kvmtune ]; then sed 's/,"since":"[^"]*"//' /var/lib/kvmtune/journal; else echo none; fi`;
/** kvmtune's boot-time files of both stacks (sysctl.d and tmpfiles.d), one name a line. */
const FILES = "ls -A /etc/sysctl.d /etc/tmpfiles.d 2>/dev/null | grep kvmtune; true";
const line = (key: string, stack: string, resource: string, original: string | null) =>
  `{"key":"${key}","stack":"${stack}","resource":"${resource}","tag":"${resource}","original":${original === null ? "null" : `"${original}"`}}\n`;
/** The refusal of a key the journal gives to another owner (provider/host/journal.ts), as preview prints it. */
const refusal = (stack: string, resource: string, since: string) =>
  `sysctl:vm.swappiness is owned by TunedHost "${resource}" of stack ${stack} since ${since} (journal /var/lib/kvmtune/journal); a setting has one owner per host. ` +
  `Leave it to that owner, or take it over with takeOver: ["sysctl:vm.swappiness"] (the recorded original, "60", is kept for the last owner's destroy)`;
const sinceOf = (key: string) => `sed -n 's/^{"key":"${key}".*"since":"\\([^"]*\\)".*/\\1/p' /var/lib/kvmtune/journal`;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe("two stacks tuning one host through the real Pulumi engine (real-kernel VM)", function () {
  this.timeout(900_000);
  let vm: TestVm;
  let a: EngineStack;
  let b: EngineStack;
  let takeOver: string[] | undefined;
  /** A's swappiness entry's `since`, read from the journal after A's up. */
  let sinceA = "";
  /** B's swappiness entry's `since`, after the take-over. */
  let sinceB = "";

  const sh = async (cmd: string) => {
    const r = await vm.ssh(cmd);
    assert.equal(r.code, 0, `${cmd}\n${r.stderr}`);
    return r.stdout;
  };
  const noCrash = (out: string) => {
    assert.ok(!out.includes("Unhandled exception"), out);
    assert.ok(!out.includes("error serializing"), out);
  };

  before(async () => {
    vm = await startTestVm({ name: "two-stacks" });
    assert.equal(await sh(LIVE), PRISTINE_LIVE);
    assert.equal(await sh(JOURNAL), "none\n");
    const connection = () => ({ host: vm.host, port: vm.port, privateKey: vm.privateKey, hostKey: vm.hostKey });
    a = await inlineStack(PROJECT_A, async () => {
      const host = new TunedHost("hv-a", { connection: connection(), sysctl: { "vm.swappiness": 10, "vm.dirty_ratio": 5 } });
      return { originals: host.originals, notes: host.notes };
    });
    b = await inlineStack(PROJECT_B, async () => {
      const host = new TunedHost("hv-b", { connection: connection(), sysctl: { "vm.swappiness": 30 }, thp: "madvise", takeOver });
      return { originals: host.originals, notes: host.notes };
    });
  });
  after(async () => {
    await a?.stack.workspace.removeStack("dev", { force: true }).catch(() => undefined);
    await b?.stack.workspace.removeStack("dev", { force: true }).catch(() => undefined);
    await vm?.stop();
  });

  it("stack A: up tunes the host and records the originals under A's stack and name", async () => {
    const up = await a.run((onOutput) => a.stack.up({ onOutput }));
    assert.equal(up.summary.result, "succeeded");
    noCrash(a.output());
    assert.deepEqual(up.outputs.originals.value, { "sysctl:vm.swappiness": "60", "sysctl:vm.dirty_ratio": "20" });
    assert.equal(await sh(LIVE), "10\n5\nalways madvise [never]\n");
    // One line per key, in the order the provider receives them (the engine sorts map keys).
    assert.equal(await sh(JOURNAL), line("sysctl:vm.dirty_ratio", STACK_A, "hv-a", "20") + line("sysctl:vm.swappiness", STACK_A, "hv-a", "60"));
    sinceA = (await sh(sinceOf("sysctl:vm.swappiness"))).trim();
    assert.match(sinceA, ISO);
    assert.equal(await sh(FILES), "90-kvmtune-hv-a.conf\n");
  });

  it("stack B: preview is refused naming A's TunedHost, its stack and the recorded original; nothing changes", async () => {
    await assert.rejects(b.run((onOutput) => b.stack.preview({ onOutput })));
    const out = b.output();
    noCrash(out);
    // HostTuning's check refuses it (the program read the host's journal with its facts at preview).
    assert.ok(out.includes(`error: pulumi-nodejs:dynamic/kvmtune:HostTuning resource 'hv-b-tuning': property settings value `), out);
    assert.ok(out.includes(`has a problem: ${refusal(STACK_A, "hv-a", sinceA)}\n`), out);
    // Only the swappiness key is refused: THP is nobody's yet.
    assert.deepEqual([...new Set(out.match(/\S+ is owned by/g))], ["sysctl:vm.swappiness is owned by"], out);
    assert.equal(await sh(LIVE), "10\n5\nalways madvise [never]\n");
    assert.equal(await sh(JOURNAL), line("sysctl:vm.dirty_ratio", STACK_A, "hv-a", "20") + line("sysctl:vm.swappiness", STACK_A, "hv-a", "60"));
    assert.equal(await sh(FILES), "90-kvmtune-hv-a.conf\n");
  });

  it("stack B with takeOver: up takes the key, keeping the host's true original (60, not A's 10)", async () => {
    takeOver = ["sysctl:vm.swappiness"];
    const up = await b.run((onOutput) => b.stack.up({ onOutput }));
    assert.equal(up.summary.result, "succeeded");
    noCrash(b.output());
    assert.deepEqual(up.outputs.originals.value, { "sysctl:vm.swappiness": "60", "thp:enabled": "never" });
    assert.deepEqual(up.outputs.notes.value, [`sysctl:vm.swappiness: taken over from TunedHost "hv-a" of stack ${STACK_A}; its recorded original ("60") is kept`]);
    assert.equal(await sh(LIVE), "30\n5\nalways [madvise] never\n");
    assert.equal(
      await sh(JOURNAL),
      line("sysctl:vm.dirty_ratio", STACK_A, "hv-a", "20") + line("thp:enabled", STACK_B, "hv-b", "never") + line("sysctl:vm.swappiness", STACK_B, "hv-b", "60"),
    );
    sinceB = (await sh(sinceOf("sysctl:vm.swappiness"))).trim();
    assert.match(sinceB, ISO);
    assert.equal(await sh(FILES), "90-kvmtune-hv-a.conf\n90-kvmtune-hv-b.conf\nkvmtune-hv-b.conf\n");
  });

  it("stack A: the drift check shows the key B took, and A's destroy gives back only what A still owns", async () => {
    // What an operator of stack A sees: the refresh reads 30 where A applied 10 (drift, "10" => "30"), and A's
    // program still claims the key, which the journal now gives to hv-b, so A's check refuses it, naming hv-b,
    // its stack and the recorded original: A must drop the key (or take it back with takeOver). The preview
    // fails on that check (before --expect-no-changes judges any diff), so the operator is told why the value
    // moved instead of being offered an update that would fight B. A warning also says the host boots with B's 30.
    await assert.rejects(a.run((onOutput) => a.stack.preview({ onOutput, refresh: true, expectNoChanges: true, diff: true })));
    const out = a.output();
    noCrash(out);
    assert.match(out, /~ live\s+: \{[^}]*~ sysctl:vm\.swappiness\s+: "10" => "30"/, out);
    assert.ok(out.includes(`error: pulumi-nodejs:dynamic/kvmtune:HostTuning resource 'hv-a-tuning': property settings value `), out);
    assert.ok(out.includes(`has a problem: ${refusal(STACK_B, "hv-b", sinceB)}\n`), out);
    // And, at preview, the boot-time consequence: B's file sorts after A's, so the host boots with B's value.
    assert.ok(out.includes("warning: sysctl:vm.swappiness: /etc/sysctl.d/90-kvmtune-hv-b.conf sets 30 after kvmtune's 90-kvmtune-hv-a.conf, so the host boots with 30, not 10\n"), out);
    // Only that key: A's other key reads as applied, and no key of A's was given to anyone else.
    assert.ok(!/sysctl:vm\.dirty_ratio\s*: "5" =>/.test(out), out);
    assert.deepEqual([...new Set(out.match(/\S+ is owned by/g))], ["sysctl:vm.swappiness is owned by"], out);
    // The refresh of a preview is not saved and nothing was written.
    assert.equal(await sh(LIVE), "30\n5\nalways [madvise] never\n");
    assert.equal(
      await sh(JOURNAL),
      line("sysctl:vm.dirty_ratio", STACK_A, "hv-a", "20") + line("thp:enabled", STACK_B, "hv-b", "never") + line("sysctl:vm.swappiness", STACK_B, "hv-b", "60"),
    );

    const d = await a.run((onOutput) => a.stack.destroy({ onOutput }));
    assert.equal(d.summary.result, "succeeded");
    noCrash(a.output());
    assert.equal(await sh(LIVE), "30\n20\nalways [madvise] never\n");
    assert.equal(await sh(FILES), "90-kvmtune-hv-b.conf\nkvmtune-hv-b.conf\n");
    assert.equal(await sh(JOURNAL), line("thp:enabled", STACK_B, "hv-b", "never") + line("sysctl:vm.swappiness", STACK_B, "hv-b", "60"));
  });

  it("stack B: destroy leaves the host exactly as before kvmtune", async () => {
    const d = await b.run((onOutput) => b.stack.destroy({ onOutput }));
    assert.equal(d.summary.result, "succeeded");
    noCrash(b.output());
    assert.equal(await sh(LIVE), PRISTINE_LIVE);
    assert.equal(await sh("ls -A /etc/sysctl.d | grep -c '^90-kvmtune-'; [ -e /var/lib/kvmtune ] && echo journal-left; true"), "0\n");
    assert.equal(await sh(FILES), "");
    assert.equal(await sh(JOURNAL), "none\n");
  });
});
