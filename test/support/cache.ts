// Where the test bed keeps what is expensive to make: keys, the kernel .deb, built images.
import * as os from "node:os";
import * as path from "node:path";

/** `${KVMTUNE_CACHE:-$HOME/.cache/kvmtune}/testbed` */
export function testbedCacheDir(): string {
  const root = process.env.KVMTUNE_CACHE || path.join(os.homedir(), ".cache", "kvmtune");
  return path.join(root, "testbed");
}
