// The plugin process has no TypeScript loader, so the timing hook is transpiled
// to plain JS in the run dir and given to it with NODE_OPTIONS=--require.
import * as fs from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";

export function buildTimingHook(dir: string): string {
  const src = fs.readFileSync(path.join(__dirname, "timing-hook.ts"), "utf8");
  const out = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } });
  const file = path.join(dir, "timing-hook.js");
  fs.writeFileSync(file, out.outputText);
  return file;
}
