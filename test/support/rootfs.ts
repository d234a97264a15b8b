// Stages the test VM's root file system (busybox, sshd, sudo + PAM, kmod, kernel
// modules, users, configs) in a directory that build-image.ts packs into a cpio.
import * as fs from "node:fs";
import * as path from "node:path";
import { BOOT_MODULES, EXTRA_MODULES, ExtractedKernel, moduleClosure } from "./kernel";
import { SuiteKeys } from "./keys";
import { run } from "./preflight";
import * as F from "./rootfs-files";

const KMOD_TOOLS = ["usr/sbin/modprobe", "usr/sbin/insmod", "usr/sbin/rmmod", "usr/sbin/depmod", "usr/sbin/modinfo",
  "usr/bin/lsmod"];

/** Host files (besides ldd results) the VM needs, copied with their shared libraries. */
// dmsetup: tests stack device-mapper devices on VM disks (the "holders" refusal).
const HOST_BINARIES = ["/usr/sbin/sshd", "/usr/bin/sudo", "/usr/bin/kmod", "/usr/sbin/dmsetup"];
const SUDO_PLUGIN_DIR = "/usr/libexec/sudo";
const PAM_DIR = "/etc/pam.d";

export interface StagedRootfs {
  modules: string[];
}

/** Debian 12 is merged-/usr: keep that shape so ldd's /lib/... paths resolve via symlinks. */
function usrPath(p: string): string {
  return p.replace(/^\/(bin|sbin|lib|lib64)\//, "/usr/$1/").replace(/^\//, "");
}

export function stageRootfs(stage: string, kernel: ExtractedKernel, keys: SuiteKeys, kvmtHash: string): StagedRootfs {
  const at = (rel: string) => path.join(stage, rel);
  const write = (rel: string, text: string, mode = 0o644) => {
    fs.mkdirSync(path.dirname(at(rel)), { recursive: true });
    fs.writeFileSync(at(rel), text, { mode });
    fs.chmodSync(at(rel), mode); // umask must not weaken setuid/0440 and friends
  };
  const mkdir = (rel: string, mode = 0o755) => {
    fs.mkdirSync(at(rel), { recursive: true });
    fs.chmodSync(at(rel), mode);
  };

  for (const d of ["usr/bin", "usr/sbin", "usr/lib", "usr/lib64", "usr/local/bin", "etc/ssh/authorized_keys",
    "etc/init.d", "etc/security", "dev", "proc", "sys", "run", "mnt", "home/kvmt", "var/log", "var/empty",
    ...F.PERSISTENCE_DIRS]) mkdir(d);
  mkdir("root", 0o700);
  mkdir("tmp", 0o1777);
  mkdir("var/tmp", 0o1777);
  for (const l of ["bin", "sbin", "lib", "lib64"]) fs.symlinkSync(`usr/${l}`, at(l));

  // busybox and its applets; kmod's real tools replace busybox's module applets
  fs.copyFileSync("/bin/busybox", at("usr/bin/busybox"));
  fs.chmodSync(at("usr/bin/busybox"), 0o755);
  for (const applet of run("/bin/busybox", ["--list-full"]).split("\n").filter(Boolean)) {
    const rel = usrPath("/" + applet);
    if (rel === "usr/bin/busybox" || fs.existsSync(at(rel))) continue;
    fs.mkdirSync(path.dirname(at(rel)), { recursive: true });
    fs.symlinkSync("/usr/bin/busybox", at(rel));
  }
  for (const rel of KMOD_TOOLS) {
    for (const dir of ["usr/bin", "usr/sbin"]) fs.rmSync(at(path.join(dir, path.basename(rel))), { force: true });
    fs.symlinkSync("/usr/bin/kmod", at(rel));
  }
  fs.symlinkSync("/usr/bin/busybox", at("init"));

  // sshd, sudo (+ plugins and PAM modules), kmod, and every library they load
  const pamModules = pamClosure().modules.map((m) => `/usr/lib/x86_64-linux-gnu/security/${m}`);
  const sudoFiles = fs.readdirSync(SUDO_PLUGIN_DIR).map((f) => path.join(SUDO_PLUGIN_DIR, f));
  const files = [...HOST_BINARIES, ...sudoFiles, ...pamModules];
  const libs = new Set<string>();
  for (const f of files) for (const l of lddPaths(f)) libs.add(l);
  for (const f of [...files, ...libs]) {
    const rel = usrPath(f);
    if (fs.existsSync(at(rel))) continue;
    fs.mkdirSync(path.dirname(at(rel)), { recursive: true });
    fs.copyFileSync(f, at(rel)); // follows symlinks: the soname gets the real content
    fs.chmodSync(at(rel), fs.statSync(f).mode & 0o7777);
  }
  fs.chmodSync(at("usr/bin/sudo"), 0o4755);

  // PAM config for sudo as the host has it (with its @includes)
  for (const name of pamClosure().files) write(`etc/pam.d/${name}`, fs.readFileSync(path.join(PAM_DIR, name), "utf8"));
  for (const f of ["limits.conf", "capability.conf"]) {
    const src = path.join("/etc/security", f);
    if (fs.existsSync(src)) write(`etc/security/${f}`, fs.readFileSync(src, "utf8"));
  }

  // kernel modules: the boot set plus what tests load, with dependencies, indexed by depmod
  const rel = moduleClosure(kernel.modulesDir, [...BOOT_MODULES, ...EXTRA_MODULES]);
  const modDir = `usr/lib/modules/${kernel.release}`;
  for (const r of rel) {
    fs.mkdirSync(path.dirname(at(path.join(modDir, r))), { recursive: true });
    fs.copyFileSync(path.join(kernel.modulesDir, r), at(path.join(modDir, r)));
  }
  for (const f of ["modules.builtin", "modules.builtin.modinfo", "modules.order"]) {
    fs.copyFileSync(path.join(kernel.modulesDir, f), at(path.join(modDir, f)));
  }
  run("depmod", ["-b", stage, kernel.release]);

  // users, logins, services
  write("etc/passwd", F.passwd());
  write("etc/group", F.group());
  write("etc/shadow", F.shadow(kvmtHash), 0o600);
  write("etc/nsswitch.conf", F.nsswitch());
  write("etc/shells", "/bin/sh\n/usr/local/bin/noisy-shell\n");
  write("etc/sudoers", F.sudoers(), 0o440);
  write("etc/hostname", "kvmt-vm\n");
  write("etc/ssh/sshd_config", F.sshdConfig());
  write("etc/ssh/ssh_host_ed25519_key", fs.readFileSync(keys.hostKeyPath, "utf8"), 0o600);
  write("etc/ssh/ssh_host_ed25519_key.pub", keys.hostPublicKey + "\n");
  for (const u of ["root", "kvmt", "noisy"]) write(`etc/ssh/authorized_keys/${u}`, keys.clientPublicKey + "\n");
  write("usr/local/bin/noisy-shell", F.noisyShell(), 0o755);
  write("etc/inittab", F.inittab());
  write("etc/init.d/rcS", F.rcS(BOOT_MODULES), 0o755);
  // No boot loader: a stand-in update-grub and the grub.cfg it would write (see F.updateGrub).
  write("usr/sbin/update-grub", F.updateGrub(), 0o755);
  write("boot/grub/grub.cfg", F.grubCfg());
  return { modules: rel.map((r) => path.basename(r)) };
}

/** The PAM files sudo reads (sudo + @includes + `other`) and the modules they name. */
export function pamClosure(): { files: string[]; modules: string[] } {
  const files = new Set<string>();
  const modules = new Set<string>();
  const visit = (name: string) => {
    if (files.has(name)) return;
    const text = fs.readFileSync(path.join(PAM_DIR, name), "utf8");
    files.add(name);
    for (const line of text.split("\n")) {
      const inc = /^\s*@include\s+(\S+)/.exec(line);
      if (inc) visit(inc[1]);
      else if (!/^\s*#/.test(line)) for (const m of line.match(/pam_[\w-]+\.so/g) ?? []) modules.add(m);
    }
  };
  visit("sudo");
  visit("other");
  return { files: [...files].sort(), modules: [...modules].sort() };
}

/** Absolute paths of the shared libraries (and loader) `ldd` reports for a file. */
function lddPaths(file: string): string[] {
  const out: string[] = [];
  for (const line of run("ldd", [file]).split("\n")) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) out.push(m[1]);
  }
  return out;
}
