// One default test VM per mocha run, booted on first use and shared by every
// test file (a TCG boot costs seconds). Tests that change persistent state in it
// should undo their changes; tests that need something special start their own.
import { startTestVm, TestVm } from "./vm";

let shared: Promise<TestVm> | undefined;

/** The run's shared default VM (a failed boot is remembered: later callers fail fast). */
export function sharedTestVm(): Promise<TestVm> {
  return (shared ??= startTestVm({ name: "kvmt-shared" }));
}

/** Stops the shared VM if one was started (root afterAll hook). */
export async function stopSharedTestVm(): Promise<void> {
  const p = shared;
  shared = undefined;
  if (!p) return;
  try {
    await (await p).stop();
  } catch {
    // its boot failed: the failure was reported to the tests that asked for it
  }
}
