// Module load cost away from the engine's noise: a fresh node loads
// @pulumi/pulumi (the plugin and the program always have it), then the module
// under test; the time of that second require, median of `runs` processes.
// What a provider process pays per plugin start, and a real (non-inline)
// program per run for `require("kvmtune")`.
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { median } from "./breakdown";

const REPO = path.resolve(__dirname, "..", "..");

export function coldRequireMs(moduleId: string, runs: number): number {
  const script = `require("@pulumi/pulumi"); const t = performance.now(); require(${JSON.stringify(moduleId)}); process.stdout.write(String(performance.now() - t));`;
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    // NODE_OPTIONS cleared: no timing hook here, only the require itself.
    times.push(Number(execFileSync(process.execPath, ["-e", script], { cwd: REPO, encoding: "utf8", env: { ...process.env, NODE_OPTIONS: "" } })));
  }
  return median(times);
}

/** The modules the bench reports: what each provider process loads, and the program's entry point. */
export const COLD_MODULES: Record<string, string> = {
  "HostTuning provider (host-tuning-impl)": "kvmtune/dist/provider/resources/host-tuning-impl",
  "program: kvmtune index": "kvmtune",
};
