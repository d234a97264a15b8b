import { managedBlock, persistencePaths, renderPersistence } from "./persistence";
import type { Knob } from "./types";

/** At most this many differing lines are named per file: enough to see the edit, bounded for a file replaced wholesale. */
const MAX_LINES_PER_FILE = 3;

const show = (line: string | undefined) => (line === undefined ? "nothing" : JSON.stringify(line));

/**
 * kvmtune's own persistence files as the host has them, against what the
 * settings render: one message per hand-edited line (file and line number),
 * per missing file and per file that should not exist. A hand edit there is
 * drift: the next boot would apply it. Our fstab block is compared on its own
 * (the rest of fstab is not ours), numbered from the block's first line.
 */
export function diffPersistence(tag: string, entries: { knob: Knob; value: string }[], files: ReadonlyMap<string, string | undefined>): string[] {
  const fstab = persistencePaths(tag).fstab;
  const drift: string[] = [];
  for (const [path, wanted] of renderPersistence(tag, entries)) {
    if (path === fstab) {
      const have = managedBlock(files.get(path), tag);
      if (have === wanted) continue;
      if (have === "") drift.push(`${path} has no kvmtune block "${tag}"; kvmtune wrote it with ${wanted.split("\n").length - 1} line(s)`);
      else drift.push(...lineDiff(`${path} (kvmtune's block "${tag}")`, have, wanted));
      continue;
    }
    const have = files.get(path);
    if (have === undefined && wanted === "") continue;
    if (have === undefined) {
      drift.push(`${path} is missing; kvmtune wrote it with ${wanted.split("\n").length - 1} line(s)`);
      continue;
    }
    if (wanted === "") {
      drift.push(`${path} exists, but kvmtune's settings put nothing there`);
      continue;
    }
    // The read drops the final newline; an empty line at the end is still seen.
    if (have !== wanted.replace(/\n$/, "")) drift.push(...lineDiff(path, `${have}\n`, wanted));
  }
  return drift;
}

function lineDiff(where: string, have: string, wanted: string): string[] {
  const a = have.replace(/\n$/, "").split("\n");
  const b = wanted.replace(/\n$/, "").split("\n");
  const out: string[] = [];
  for (let i = 0; i < Math.max(a.length, b.length) && out.length < MAX_LINES_PER_FILE; i++) {
    if (a[i] !== b[i]) out.push(`${where} line ${i + 1}: ${show(a[i])}, expected ${show(b[i])}`);
  }
  return out.length > 0 ? out : [`${where} differs from what kvmtune wrote`];
}
