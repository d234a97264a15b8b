// Builds (once, then cached) the test VM boot image: Debian's cloud kernel and a
// gzipped initramfs with busybox, sshd, sudo and kernel modules.
// Script: node -r ts-node/register/transpile-only test/support/build-image.ts
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as crypto from "node:crypto";
import { spawnSync } from "node:child_process";
import { testbedCacheDir } from "./cache";
import { extractKernel, fetchKernel, mib } from "./kernel";
import { suiteKeys } from "./keys";
import { pamClosure, stageRootfs } from "./rootfs";
import { preflightBuild, run } from "./preflight";

export interface TestbedImage {
  dir: string;
  kernelPath: string;
  initrdPath: string;
  /** `uname -r` inside the VM, e.g. 6.1.0-56-cloud-amd64 */
  kernelRelease: string;
  /** Debian package and version the kernel came from. */
  kernelPackage: string;
  kernelPackageVersion: string;
  /** .ko files in the initramfs. */
  modules: string[];
  /** Hash of the builder inputs; names the cache directory. */
  hash: string;
  /** Time the build took when it was made (not this call). */
  buildMs: number;
  /** True when this call found the image in the cache. */
  cached: boolean;
}

export interface BuildOptions {
  log?: (line: string) => void;
  /** Rebuild even if cached. */
  force?: boolean;
}

/** The files whose text decides what the image contains. */
const BUILDER_SOURCES = ["build-image.ts", "kernel.ts", "rootfs.ts", "rootfs-files.ts"];
/**
 * Their text as this process loaded them (this module imports the others), read
 * once at load: hashing the files again at build time could name an image after
 * edits made since, while it is built by the code loaded before them.
 */
const LOADED_SOURCES = BUILDER_SOURCES.map((f) => [f, fs.readFileSync(path.join(__dirname, f))] as const);
/** Host packages whose files are copied into the image. */
const HOST_PACKAGES = ["openssh-server", "sudo", "busybox-static", "kmod", "libc6", "libpam-modules", "libpam-runtime"];

let memo: TestbedImage | undefined;

export function buildImage(opts: BuildOptions = {}): TestbedImage {
  if (memo && !opts.force) return memo;
  const log = opts.log ?? ((s: string) => process.stderr.write(`[testbed] ${s}\n`));
  const t0 = Date.now();
  preflightBuild();
  const root = testbedCacheDir();
  const keys = suiteKeys();
  const pkg = fetchKernel(path.join(root, "debs"), log);
  const hash = inputsHash(pkg.name, pkg.version, keys.clientPublicKey, keys.hostPublicKey, keys.kvmtPassword);
  const dir = path.join(root, `image-${hash}`);
  const manifestPath = path.join(dir, "manifest.json");
  if (!opts.force && fs.existsSync(manifestPath)) {
    memo = { ...(JSON.parse(fs.readFileSync(manifestPath, "utf8")) as TestbedImage), dir, cached: true };
    memo.kernelPath = path.join(dir, "vmlinuz");
    memo.initrdPath = path.join(dir, "initrd.gz");
    return memo;
  }

  log(`building image ${hash} (kernel ${pkg.name} ${pkg.version}) ...`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "kvmtune-image-"));
  const out = fs.mkdtempSync(path.join(root, `image-${hash}.tmp-`));
  try {
    let t = Date.now();
    const kernel = extractKernel(pkg, path.join(work, "kernel"));
    log(`kernel: extracted ${kernel.release} in ${Date.now() - t} ms`);

    t = Date.now();
    const stage = path.join(work, "rootfs");
    fs.mkdirSync(stage);
    // On stdin: a generated password can start with "-", which mkpasswd would take for an option.
    const kvmtHash = run("/bin/busybox", ["mkpasswd", "-m", "sha512", "-P", "0"], { input: keys.kvmtPassword }).trim();
    const staged = stageRootfs(stage, kernel, keys, kvmtHash);
    log(`rootfs: staged ${staged.modules.length} modules, sshd, sudo in ${Date.now() - t} ms`);

    t = Date.now();
    const initrd = path.join(out, "initrd.gz");
    // sorted for a stable archive; -R 0:0 makes every file root's, as on a real root fs
    const r = spawnSync("bash", ["-c",
      'set -euo pipefail; cd "$1"; find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc -R 0:0 --quiet | gzip -6 -n > "$2"',
      "pack", stage, initrd], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`cpio/gzip failed: ${r.stderr}`);
    log(`cpio: ${mib(fs.statSync(initrd).size)} gzipped in ${Date.now() - t} ms`);

    fs.copyFileSync(kernel.vmlinuz, path.join(out, "vmlinuz"));
    const image: TestbedImage = {
      dir, kernelPath: path.join(dir, "vmlinuz"), initrdPath: path.join(dir, "initrd.gz"),
      kernelRelease: kernel.release, kernelPackage: pkg.name, kernelPackageVersion: pkg.version,
      modules: staged.modules, hash, buildMs: Date.now() - t0, cached: false,
    };
    fs.writeFileSync(path.join(out, "manifest.json"), JSON.stringify(image, null, 2) + "\n");
    publish(out, dir);
    pruneOtherImages(root, dir);
    log(`image ready in ${image.buildMs} ms: ${dir}`);
    memo = image;
    return image;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
    fs.rmSync(out, { recursive: true, force: true });
  }
}

// A concurrent run may have published the same hash first; theirs is as good.
function publish(tmp: string, dir: string): void {
  try {
    fs.renameSync(tmp, dir);
  } catch (e) {
    if (!fs.existsSync(path.join(dir, "manifest.json"))) throw e;
  }
}

/** Another checkout (or an older commit's run) may still boot VMs from an older image: keep those for a day. */
const PRUNE_AFTER_MS = 24 * 3600 * 1000;

function pruneOtherImages(root: string, keep: string): void {
  for (const d of fs.readdirSync(root)) {
    const p = path.join(root, d);
    if (!/^image-[0-9a-f]+$/.test(d) || p === keep) continue;
    if (Date.now() - fs.statSync(p).mtimeMs > PRUNE_AFTER_MS) fs.rmSync(p, { recursive: true, force: true });
  }
}

function inputsHash(...extra: string[]): string {
  const h = crypto.createHash("sha256");
  for (const [f, text] of LOADED_SOURCES) h.update(f).update(text);
  h.update(run("dpkg-query", ["-W", "-f", "${Package}=${Version}\\n", ...HOST_PACKAGES]));
  for (const f of pamClosure().files) h.update(f).update(fs.readFileSync(path.join("/etc/pam.d", f)));
  for (const x of extra) h.update(x).update("\0");
  return h.digest("hex").slice(0, 16);
}

if (require.main === module) {
  const force = process.argv.includes("--force");
  const t0 = Date.now();
  const img = buildImage({ force });
  const state = img.cached ? "cached" : "built";
  process.stdout.write(
    `${state}: ${img.kernelPackage} ${img.kernelPackageVersion} (${img.kernelRelease}), ` +
      `${img.modules.length} modules, initrd ${mib(fs.statSync(img.initrdPath).size)}, ` +
      `${Date.now() - t0} ms total\n${img.dir}\n`,
  );
}
