// Fails loudly, naming the Debian package, when a tool the test bed needs is missing.
// The provider tests never skip: a missing tool is a broken machine, not a pass.
import * as fs from "node:fs";
import { spawnSync } from "node:child_process";

interface Need {
  what: string;
  path: string;
  pkg: string;
}

const VM_NEEDS: Need[] = [
  { what: "qemu-system-x86_64", path: "/usr/bin/qemu-system-x86_64", pkg: "qemu-system-x86" },
  { what: "sshd", path: "/usr/sbin/sshd", pkg: "openssh-server" },
];
const CLIENT_NEEDS: Need[] = [
  // children run under `setpriv --pdeathsig KILL` so they die with the test run
  { what: "setpriv", path: "/usr/bin/setpriv", pkg: "util-linux" },
  { what: "ssh", path: "/usr/bin/ssh", pkg: "openssh-client" },
  { what: "ssh-keygen", path: "/usr/bin/ssh-keygen", pkg: "openssh-client" },
];
const BUILD_NEEDS: Need[] = [
  { what: "cpio", path: "/usr/bin/cpio", pkg: "cpio" },
  { what: "static busybox", path: "/bin/busybox", pkg: "busybox-static" },
  { what: "kmod (depmod, modprobe)", path: "/usr/bin/kmod", pkg: "kmod" },
  { what: "sudo", path: "/usr/bin/sudo", pkg: "sudo" },
  { what: "ldd", path: "/usr/bin/ldd", pkg: "libc-bin" },
  { what: "dpkg-deb", path: "/usr/bin/dpkg-deb", pkg: "dpkg" },
  { what: "apt-get", path: "/usr/bin/apt-get", pkg: "apt" },
  { what: "gzip", path: "/usr/bin/gzip", pkg: "gzip" },
];

function check(needs: Need[]): void {
  const missing = needs.filter((n) => !isExecutable(n.path));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((m) => m.pkg))].join(" ");
  throw new Error(
    `kvmtune test bed: missing ${missing.map((m) => `${m.what} (${m.path})`).join(", ")}. ` +
      `Install with: apt-get install -y ${pkgs}   (or run .ci/install-testbed.sh)`,
  );
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Tools needed to build the boot image. */
export function preflightBuild(): void {
  check([...VM_NEEDS, ...CLIENT_NEEDS, ...BUILD_NEEDS]);
}

/** Tools needed to boot a VM and talk to it. */
export function preflightVm(): void {
  check([...VM_NEEDS, ...CLIENT_NEEDS]);
}

/** Tools needed for a local sshd. */
export function preflightSshd(): void {
  check([VM_NEEDS[1], ...CLIENT_NEEDS]);
}

/** Message for a kernel package apt cannot resolve (no `apt-get update` yet, or not Debian 12). */
export function kernelMissingError(detail: string): Error {
  return new Error(
    `kvmtune test bed: cannot resolve the Debian cloud kernel package linux-image-cloud-amd64 (${detail}). ` +
      `Run 'apt-get update' (this needs Debian 12 package lists), or run .ci/install-testbed.sh.`,
  );
}

/** Runs a command synchronously and returns stdout; throws with its stderr on failure. */
export function run(cmd: string, args: string[], opts: { cwd?: string; input?: string } = {}): string {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, input: opts.input, encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`${cmd} ${args.join(" ")}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} exited ${r.status ?? r.signal}: ${(r.stderr || r.stdout).trim()}`);
  }
  return r.stdout;
}
