// The packaged kvmtune, as a user gets it: `npm pack`, install the tarball into
// a fresh Pulumi project, and run that project's own program (its own
// @pulumi/pulumi, its own node_modules, no NODE_PATH, no repo paths) through the
// real engine against a real kernel. Proves the serialised provider resolves
// kvmtune from the installed package.
import { strict as assert } from "node:assert";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { pulumiBinDir } from "../support/engine";
import { makeRunDir } from "../support/processes";
import { startTestVm, type TestVm } from "../support/vm";

const REPO = path.resolve(__dirname, "..", "..");

const RUN_JS = String.raw`
const { LocalWorkspace, Stack } = require("@pulumi/pulumi/automation");
const pulumi = require("@pulumi/pulumi");
const { TunedHost } = require("kvmtune");
const target = JSON.parse(process.env.KVMT_TARGET);
(async () => {
  const program = async () => {
    const host = new TunedHost("packaged", {
      connection: { host: target.host, port: target.port, privateKey: pulumi.secret(target.privateKey), hostKey: target.hostKey },
      sysctl: { "vm.swappiness": 7 },
    });
    return { settings: host.settings };
  };
  const ws = await LocalWorkspace.create({ workDir: process.cwd(), program, projectSettings: { name: "consumer", runtime: "nodejs", backend: { url: process.env.PULUMI_BACKEND_URL } } });
  const stack = await Stack.create("dev", ws);
  const up = await stack.up();
  console.log("UP " + JSON.stringify(up.outputs.settings.value.live));
  const state = JSON.stringify(await stack.exportStack());
  const provider = state.match(/"__provider":"((?:[^"\\]|\\.)*)"/)[1];
  console.log("PROVIDER-REQUIRES " + JSON.stringify(provider.match(/require\(\\"[^\\]+\\"\)/g)));
  console.log("REPO-PATH-IN-STATE " + state.includes(process.env.KVMT_REPO));
  await stack.destroy();
  console.log("DESTROYED");
})().catch((e) => { console.error("FAILED " + e.message); process.exit(1); });
`;

describe("the npm-packed kvmtune in a fresh Pulumi project (real engine, real kernel)", function () {
  this.timeout(900_000);
  let vm: TestVm;
  let dir: string;

  before(async () => {
    vm = await startTestVm({ name: "hv-packaged" });
    dir = makeRunDir("consumer");
  });
  after(async () => {
    await vm?.stop();
  });

  it("packs a clean checkout (prepack builds dist/)", function () {
    // A checkout with no dist/: `npm pack` must still ship the compiled package, not 2 files.
    const clean = path.join(makeRunDir("clean-checkout"), "kvmtune");
    execFileSync("git", ["clone", "-q", REPO, clean]);
    fs.symlinkSync(path.join(REPO, "node_modules"), path.join(clean, "node_modules"));
    const out = execFileSync("npm", ["pack", "--dry-run", "--json"], { cwd: clean, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    const files: string[] = JSON.parse(out.slice(out.indexOf("[")))[0].files.map((f: { path: string }) => f.path);
    for (const f of ["dist/index.js", "dist/index.d.ts", "dist/provider/resources/host-tuning-impl.js", "README.md", "package.json"]) assert.ok(files.includes(f), `${f} in ${files.length} files`);
  });

  it("each example installs from its own package.json (kvmtune from the tarball) and type-checks with only what that installs", function () {
    const packed = execFileSync("npm", ["pack", "--silent", "--pack-destination", dir], { cwd: REPO, encoding: "utf8" }).trim().split("\n").pop()!;
    for (const name of ["single-host", "pinned-database-guest", "fleet"]) {
      const src = path.join(REPO, "examples", name);
      const work = makeRunDir(`example-${name}`);
      for (const f of fs.readdirSync(src)) fs.copyFileSync(path.join(src, f), path.join(work, f));
      const pkg = JSON.parse(fs.readFileSync(path.join(work, "package.json"), "utf8"));
      // In the repository the examples link the checkout ("file:../.."); a user's copy gets the package instead.
      assert.equal(pkg.dependencies.kvmtune, "file:../..");
      pkg.dependencies.kvmtune = `file:${path.join(dir, packed)}`;
      fs.writeFileSync(path.join(work, "package.json"), JSON.stringify(pkg));
      execFileSync("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: work, stdio: "inherit", timeout: 600_000 });
      const tsc = spawnSync(path.join(work, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.json"], { cwd: work, encoding: "utf8" });
      assert.equal(tsc.status, 0, `${name}: ${tsc.stdout}${tsc.stderr}`);
    }
  });

  it("installs from the tarball and runs up/destroy with the provider loaded from node_modules/kvmtune", async () => {
    const packed = execFileSync("npm", ["pack", "--silent", "--pack-destination", dir], { cwd: REPO, encoding: "utf8" }).trim().split("\n").pop()!;
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, dependencies: { kvmtune: `file:./${packed}` } }));
    fs.writeFileSync(path.join(dir, "run.js"), RUN_JS);
    execFileSync("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: dir, stdio: "inherit", timeout: 600_000 });
    assert.ok(fs.existsSync(path.join(dir, "node_modules", "kvmtune", "dist", "provider", "resources", "host-tuning-impl.js")));
    assert.ok(!fs.existsSync(path.join(dir, "node_modules", "kvmtune", "test")), "tests are not shipped");
    // @pulumi/pulumi is a peer: one copy, the program's own (two copies would split the engine's runtime state).
    assert.ok(fs.existsSync(path.join(dir, "node_modules", "@pulumi", "pulumi", "package.json")));
    assert.ok(!fs.existsSync(path.join(dir, "node_modules", "kvmtune", "node_modules", "@pulumi")), "no second @pulumi/pulumi under kvmtune");
    // @pulumi/command is an optional peer: not installed (nor its plugin download) unless the program wants it.
    assert.ok(!fs.existsSync(path.join(dir, "node_modules", "@pulumi", "command")));

    const env: Record<string, string> = {
      PATH: `${pulumiBinDir()}:${process.env.PATH}`,
      HOME: process.env.HOME ?? "/root",
      PULUMI_BACKEND_URL: `file://${dir}`,
      PULUMI_CONFIG_PASSPHRASE: "consumer",
      PULUMI_HOME: path.join(dir, ".pulumi-home"),
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
      PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
      KVMT_REPO: REPO,
      KVMT_TARGET: JSON.stringify({ host: vm.host, port: vm.port, privateKey: vm.privateKey, hostKey: vm.hostKey }),
    };
    const r = spawnSync("node", ["run.js"], { cwd: dir, env, encoding: "utf8", timeout: 600_000 });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    const lines = r.stdout.split("\n");
    assert.ok(lines.includes(`UP {"sysctl:vm.swappiness":"7"}`), r.stdout);
    // Every provider method loads the implementation by package name, and nothing else.
    const requires: string[] = JSON.parse(lines.find((l) => l.startsWith("PROVIDER-REQUIRES "))!.slice("PROVIDER-REQUIRES ".length));
    assert.deepEqual([...new Set(requires.map((q) => q.replace(/\\/g, "")))], ['require("kvmtune/dist/provider/resources/host-tuning-impl")']);
    assert.ok(lines.includes("REPO-PATH-IN-STATE false"), r.stdout);
    assert.ok(lines.includes("DESTROYED"), r.stdout);
    assert.equal((await vm.ssh("cat /proc/sys/vm/swappiness")).stdout, "60\n");
  });
});
