// The real Pulumi engine for tests: the CLI built from its Go modules (see
// scripts/build-pulumi-cli.sh) driving inline Automation API programs with a
// local file backend and no network. The Node language host cannot be built
// here (the module proxy refuses it), so programs run inline, in this process;
// the engine, state, diff, refresh and the dynamic-provider plugin are real.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { makeRunDir } from "./processes";

const REPO = path.resolve(__dirname, "..", "..");
let binDir: string | undefined;

/** Builds (once, cached) or finds the CLI; returns its bin directory. */
export function pulumiBinDir(): string {
  if (binDir) return binDir;
  const out = execFileSync("bash", [path.join(REPO, "scripts", "build-pulumi-cli.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], timeout: 30 * 60_000 });
  const dir = out.trim().split("\n").pop()!;
  if (!fs.existsSync(path.join(dir, "pulumi"))) throw new Error(`scripts/build-pulumi-cli.sh printed ${dir}, which has no pulumi binary`);
  binDir = dir;
  return dir;
}

export interface EngineStack {
  stack: Stack;
  dir: string;
  /** Everything the engine printed for the last operation. */
  output: () => string;
  run<T>(fn: (onOutput: (s: string) => void) => Promise<T>): Promise<T>;
}

/** A fresh stack for an inline program, with its own file backend in a run dir. `env` adds to the CLI's (and so its plugins') environment. */
export async function inlineStack(projectName: string, program: () => Promise<Record<string, unknown> | void>, env: Record<string, string> = {}): Promise<EngineStack> {
  const bin = pulumiBinDir();
  const dir = makeRunDir("engine");
  const state = path.join(dir, "state");
  fs.mkdirSync(state);
  const envVars: Record<string, string> = {
    PULUMI_BACKEND_URL: `file://${state}`,
    PULUMI_CONFIG_PASSPHRASE: "kvmtune-test",
    PULUMI_HOME: path.join(dir, "home"),
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_DISABLE_REGISTRY_RESOLVE: "true",
    PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
    PULUMI_ENABLE_AUTOMATIC_AGENT_SIGNUP: "false",
    PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
    // The dynamic-provider plugin resolves @pulumi/pulumi and kvmtune from here (node_modules/kvmtune links the repo).
    NODE_PATH: path.join(REPO, "node_modules"),
    PATH: `${bin}:${process.env.PATH}`,
    ...env,
  };
  const pulumiCommand = await PulumiCommand.get({ root: path.dirname(bin), skipVersionCheck: true });
  const ws = await LocalWorkspace.create({ workDir: dir, envVars, pulumiCommand, program, projectSettings: { name: projectName, runtime: "nodejs", backend: { url: `file://${state}` } } });
  const stack = await Stack.create("dev", ws);
  let last = "";
  return {
    stack,
    dir,
    output: () => last,
    async run(fn) {
      last = "";
      try {
        return await fn((s) => (last += s));
      } catch (err) {
        last += `\n${String((err as Error).message)}`;
        throw err;
      }
    },
  };
}
