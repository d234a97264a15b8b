// Debian's cloud kernel for the test VMs: resolve the concrete package, download
// it once into the cache, extract it, and pick the modules the initramfs carries.
import * as fs from "node:fs";
import * as path from "node:path";
import { kernelMissingError, run } from "./preflight";

export const KERNEL_META_PACKAGE = "linux-image-cloud-amd64";

/** Loaded at boot, in this order (virtio PCI transport first, then the drivers). */
export const BOOT_MODULES = [
  "virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci",
  "failover", "net_failover", "virtio_net", "virtio_blk",
];

/** Shipped but not loaded: tests load these themselves (that is what they test). */
export const EXTRA_MODULES = [
  "vhost_net", "vhost_vsock", "tun", "tap", "macvtap", "macvlan", "bridge", "8021q", "veth",
  "bfq", "kyber-iosched", "null_blk", "loop", "dm-mod",
  "vfio-pci", "vfio_iommu_type1", "kvm", "kvm-amd", "kvm-intel", "configfs",
];

export interface KernelPackage {
  /** e.g. linux-image-6.1.0-56-cloud-amd64 */
  name: string;
  /** Debian version of the package, e.g. 6.1.192-2 */
  version: string;
  debPath: string;
}

/** Resolves the cloud kernel and makes sure its .deb is in `debsDir`. */
export function fetchKernel(debsDir: string, log: (s: string) => void): KernelPackage {
  fs.mkdirSync(debsDir, { recursive: true });
  // apt-cache takes ~0.9 s here: reuse the last answer while the package lists are unchanged
  const memoFile = path.join(debsDir, "resolved.json");
  const stamp = aptListsStamp();
  try {
    const m = JSON.parse(fs.readFileSync(memoFile, "utf8")) as KernelPackage & { stamp: string };
    if (m.stamp === stamp && fs.existsSync(m.debPath)) return { name: m.name, version: m.version, debPath: m.debPath };
  } catch {
    // no memo yet
  }
  const pkg = resolveAndDownload(debsDir, log);
  fs.writeFileSync(memoFile, JSON.stringify({ ...pkg, stamp }));
  return pkg;
}

function aptListsStamp(): string {
  try {
    return String(fs.statSync("/var/lib/apt/lists").mtimeMs);
  } catch {
    return "";
  }
}

function resolveAndDownload(debsDir: string, log: (s: string) => void): KernelPackage {
  let name: string;
  let version: string;
  try {
    const deps = run("apt-cache", ["depends", KERNEL_META_PACKAGE]);
    const m = /Depends:\s*(linux-image-[0-9][^\s]*-cloud-amd64)/.exec(deps);
    if (!m) throw new Error(`no linux-image-*-cloud-amd64 in: ${deps.trim()}`);
    name = m[1];
    const policy = run("apt-cache", ["policy", name]);
    const c = /Candidate:\s*(\S+)/.exec(policy);
    if (!c || c[1] === "(none)") throw new Error(`${name} has no candidate version`);
    version = c[1];
  } catch (e) {
    const offline = newestCachedDeb(debsDir);
    if (!offline) throw kernelMissingError((e as Error).message);
    log(`kernel: apt cannot resolve ${KERNEL_META_PACKAGE} (${(e as Error).message}); using cached ${offline.name}`);
    return offline;
  }
  const debPath = path.join(debsDir, `${name}_${version.replace(/:/g, "%3a")}_amd64.deb`);
  if (fs.existsSync(debPath)) return { name, version, debPath };
  log(`kernel: downloading ${name} ${version} ...`);
  const t0 = Date.now();
  const tmp = fs.mkdtempSync(path.join(debsDir, "dl-"));
  try {
    // Sandbox user root: the cache is under $HOME, which _apt may not be able to enter.
    run("apt-get", ["-q", "-o", "APT::Sandbox::User=root", "download", `${name}=${version}`], { cwd: tmp });
    const got = fs.readdirSync(tmp).find((f) => f.endsWith(".deb"));
    if (!got) throw new Error(`apt-get download ${name} produced no .deb`);
    fs.renameSync(path.join(tmp, got), debPath);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  log(`kernel: downloaded ${path.basename(debPath)} (${mib(fs.statSync(debPath).size)}) in ${Date.now() - t0} ms`);
  return { name, version, debPath };
}

function newestCachedDeb(debsDir: string): KernelPackage | undefined {
  const debs = fs.readdirSync(debsDir).filter((f) => /^linux-image-.*-cloud-amd64_.*_amd64\.deb$/.test(f)).sort();
  const f = debs[debs.length - 1];
  if (!f) return undefined;
  const [name, version] = f.split("_");
  return { name, version: version.replace(/%3a/g, ":"), debPath: path.join(debsDir, f) };
}

export interface ExtractedKernel {
  /** uname -r, e.g. 6.1.0-56-cloud-amd64 */
  release: string;
  vmlinuz: string;
  /** .../lib/modules/<release> */
  modulesDir: string;
}

/** `dpkg-deb -x` into `dir` and run depmod there, so modules.dep gives us dependencies. */
export function extractKernel(pkg: KernelPackage, dir: string): ExtractedKernel {
  run("dpkg-deb", ["-x", pkg.debPath, dir]);
  const release = fs.readdirSync(path.join(dir, "lib", "modules"))[0];
  run("depmod", ["-b", dir, release]);
  return {
    release,
    vmlinuz: path.join(dir, "boot", `vmlinuz-${release}`),
    modulesDir: path.join(dir, "lib", "modules", release),
  };
}

const modName = (p: string) => path.basename(p).replace(/\.ko(\.\w+)?$/, "").replace(/-/g, "_");

/** Relative .ko paths of `wanted` and everything they depend on (hard and soft deps). */
export function moduleClosure(modulesDir: string, wanted: string[]): string[] {
  const byName = new Map<string, { rel: string; deps: string[] }>();
  for (const line of fs.readFileSync(path.join(modulesDir, "modules.dep"), "utf8").split("\n")) {
    const [rel, rest] = line.split(":");
    if (!rest && rest !== "") continue;
    byName.set(modName(rel), { rel, deps: rest.trim().split(/\s+/).filter(Boolean).map(modName) });
  }
  for (const line of fs.readFileSync(path.join(modulesDir, "modules.softdep"), "utf8").split("\n")) {
    const t = line.trim().split(/\s+/);
    const entry = t[0] === "softdep" ? byName.get(modName(t[1] ?? "")) : undefined;
    if (entry) entry.deps.push(...t.slice(2).filter((x) => !x.endsWith(":")).map(modName));
  }
  const out = new Set<string>();
  const visit = (name: string, required: boolean) => {
    const e = byName.get(name);
    if (!e) {
      if (required) throw new Error(`kernel module ${name} not found in ${modulesDir}`);
      return; // a soft dependency that is built in or absent
    }
    if (out.has(e.rel)) return;
    out.add(e.rel);
    for (const d of e.deps) visit(d, false);
  };
  for (const w of wanted) visit(modName(w), true);
  return [...out].sort();
}

export const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
