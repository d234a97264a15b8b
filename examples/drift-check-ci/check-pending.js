#!/usr/bin/env node
// Reads `pulumi stack output --json --show-secrets=false` on stdin and reports, apart from drift, what waits:
// any output (at any depth) named pendingReboot or restartRequired that is true, with its path, and the
// matching pendingRebootKeys / restartReasons next to it. Exit 0: nothing waits; 3: something waits
// (the workflow decides whether that fails the job). Plain Node, no dependencies.
"use strict";

function findWaiting(value, path = [], out = []) {
  if (value === null || typeof value !== "object") return out;
  // A top-level output (export const pendingReboot = hv.pendingReboot) is named by itself.
  if (value.pendingReboot === true) out.push({ path: path.join(".") || "pendingReboot", what: "pending reboot", detail: value.pendingRebootKeys });
  if (value.restartRequired === true) out.push({ path: path.join(".") || "restartRequired", what: "guest restart required", detail: value.restartReasons });
  for (const [k, v] of Object.entries(value)) if (k !== "pendingRebootKeys" && k !== "restartReasons") findWaiting(v, [...path, k], out);
  return out;
}

function report(outputs) {
  return findWaiting(outputs).map((f) => `${f.path}: ${f.what}${Array.isArray(f.detail) && f.detail.length ? ` (${f.detail.join("; ")})` : ""}`);
}

if (require.main === module) {
  let text = "";
  process.stdin.on("data", (d) => (text += d));
  process.stdin.on("end", () => {
    const lines = report(JSON.parse(text || "{}"));
    for (const l of lines) console.log(l);
    if (lines.length === 0) console.log("nothing waits for a reboot or a guest restart");
    process.exit(lines.length ? 3 : 0);
  });
}

module.exports = { report };
