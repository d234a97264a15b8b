// Mocha root hooks (loaded via .mocharc.json): after the whole run, stop the
// shared VM and every process the suite started. processes.ts also kills them
// on exit/SIGINT/SIGTERM, for runs that never get here.
import { stopAllProcesses } from "./processes";
import { stopSharedTestVm } from "./shared-vm";

export const mochaHooks = {
  async afterAll(this: Mocha.Context): Promise<void> {
    this.timeout(30_000);
    await stopSharedTestVm();
    await stopAllProcesses();
  },
};
