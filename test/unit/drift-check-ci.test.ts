// examples/drift-check-ci: the workflow's shape (previews for pull requests from this repository only, the drift
// check on main and on a schedule) and its pending-reboot/restart report, run as the workflow runs it.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const DIR = join(__dirname, "..", "..", "examples", "drift-check-ci");
const { report } = require(join(DIR, "check-pending.js")) as { report: (o: unknown) => string[] };

describe("examples/drift-check-ci", () => {
  const yml = readFileSync(join(DIR, "drift-check.yml"), "utf8");
  // js-yaml comes with the dev tools (mocha); the workflow itself needs nothing but Node and the CLI.
  const wf = (require("js-yaml") as { load: (t: string) => any }).load(yml);

  it("previews pull requests (never from forks, never --expect-no-changes) and checks drift on main and hourly", () => {
    assert.deepEqual(Object.keys(wf.on), ["pull_request", "push", "schedule"]);
    assert.deepEqual(wf.on.push.branches, ["main"]);
    assert.equal(wf.jobs.preview.if, "github.event_name == 'pull_request'");
    assert.equal(wf.jobs.preview.steps[0].if, "github.event.pull_request.head.repo.full_name != github.repository");
    const runs = (job: any) => job.steps.map((s: any) => s.run).filter(Boolean).join("\n");
    assert.match(runs(wf.jobs.preview), /pulumi preview --stack prod-rack1 --refresh --diff/);
    assert.doesNotMatch(runs(wf.jobs.preview), /expect-no-changes/);
    assert.equal(wf.jobs.drift.if, "github.event_name != 'pull_request'");
    assert.match(runs(wf.jobs.drift), /pulumi preview --stack prod-rack1 --refresh --expect-no-changes --diff/);
    assert.match(runs(wf.jobs.drift), /node examples\/drift-check-ci\/check-pending\.js < outputs\.json/);
  });

  it("reports pending reboots and guest restarts apart from drift, with where and why", () => {
    const outputs = {
      pendingReboot: true,
      hosts: { hv01: { pendingReboot: true, pendingRebootKeys: ["cmdline:isolcpus"] }, hv02: { pendingReboot: false } },
      db1: { restartRequired: true, restartReasons: ["numatune.memory.nodeset: 0 → 1"] },
      web: { restartRequired: false },
    };
    assert.deepEqual(report(outputs), [
      "pendingReboot: pending reboot",
      "hosts.hv01: pending reboot (cmdline:isolcpus)",
      "db1: guest restart required (numatune.memory.nodeset: 0 → 1)",
    ]);
    assert.deepEqual(report({ pendingReboot: false, db1: { restartRequired: false } }), []);
  });

  it("exits 3 when something waits (the workflow decides whether to fail), 0 when nothing does", () => {
    const run = (o: unknown) => spawnSync("node", [join(DIR, "check-pending.js")], { input: JSON.stringify(o), encoding: "utf8" });
    const waits = run({ hv01: { pendingReboot: true, pendingRebootKeys: ["cmdline:iommu"] } });
    assert.deepEqual([waits.status, waits.stdout], [3, "hv01: pending reboot (cmdline:iommu)\n"]);
    const none = run({ hv01: { pendingReboot: false } });
    assert.deepEqual([none.status, none.stdout], [0, "nothing waits for a reboot or a guest restart\n"]);
  });
});
