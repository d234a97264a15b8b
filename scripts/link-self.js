// Makes this repo resolvable as the package `kvmtune` from its own directory,
// the way an installed copy is resolved from a Pulumi program. Serialised
// dynamic providers `require("kvmtune/dist/...")` from the provider process's
// working directory, so the repo's tests exercise the same path as users do.
const fs = require("node:fs");
const path = require("node:path");

const link = path.join(__dirname, "..", "node_modules", "kvmtune");
try {
  const st = fs.lstatSync(link);
  if (st.isSymbolicLink() && fs.realpathSync(link) === fs.realpathSync(path.join(__dirname, ".."))) process.exit(0);
  fs.rmSync(link, { recursive: true, force: true });
} catch {
  // absent: create it
}
fs.mkdirSync(path.dirname(link), { recursive: true });
fs.symlinkSync("..", link, "dir");
console.log("linked node_modules/kvmtune -> repo root");
