// A real libvirtd (Debian's libvirt 9.0 + QEMU 7.2, TCG) of the test's own, reachable
// the way kvmtune reaches every host: through a real sshd, running `virsh` there.
//
// Process and namespace layout (one libvirtd per call):
//
//   test process (host netns)
//   ├─ setpriv --pdeathsig KILL -- unshare --mount --net --pid --propagation private -- sh holder.sh
//   │    "holder": tracked; in the new mount+net namespaces but the host's PID
//   │    namespace, so SIGTERM works; its only child becomes PID 1 of a new PID ns.
//   │    └─ setpriv --pdeathsig KILL -- sh init.sh           PID 1 of the new PID ns
//   │         mounts (below), ip link set lo up, optional bridges, then
//   │         ├─ libvirtd (foreground, own /etc/libvirt, /run, /var/lib|cache|log/libvirt)
//   │         ├─ sshd -D on 127.0.0.1:22 of the namespace's own loopback
//   │         ├─ socat UNIX-LISTEN:<dir>/ssh.sock,fork TCP:127.0.0.1:22
//   │         └─ qemu-system-x86_64 per running domain (libvirtd daemonises them;
//   │            they are reparented to, and reaped by, init.sh)
//   ├─ setpriv --pdeathsig KILL -- socat TCP-LISTEN:<port>,bind=127.0.0.1 UNIX-CONNECT:<dir>/ssh.sock
//   │    "bridge": tracked; the host-loopback port tests (and kvmtune) connect to.
//   └─ setpriv --pdeathsig KILL -- ssh -M -N ... root@127.0.0.1 -p <port>
//        "mux": tracked OpenSSH ControlMaster that the bed's own ssh()/virsh() share
//        (~25 ms per call instead of ~300 ms on a loaded 2-CPU machine).
//
// Both socats set TCP_NODELAY (`nodelay`): without it every command's output
// waited ~40-90 ms for Nagle/delayed ACKs.
//
// The namespace's loopback is reached through a unix socket in our temp dir (unix
// sockets are not bound to a network namespace), so nothing is added to the host's
// network: no veth, no addresses, no routes. When the holder dies, PID 1 of the
// new PID namespace is SIGKILLed (pdeathsig), and the kernel then kills every
// process in it (libvirtd, sshd, socat, every qemu): nothing can outlive the bed.
//
// Inside the mount namespace: a new /proc (for the new PID ns) with /proc/sys
// read-only, a fresh read-only sysfs (shows the namespace's net devices), an empty
// read-only tmpfs over /sys/fs/cgroup (libvirt then runs without cgroups), a tmpfs
// over /run (so /run/libvirt is the namespace's own), a new devpts instance (the
// guests' pty consoles do not take host ptys), and our dirs bound over
// /etc/libvirt, /var/lib/libvirt, /var/cache/libvirt and /var/log/libvirt.
import { spawn, spawnSync, ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { testbedCacheDir } from "./cache";
import { fingerprint, suiteKeys } from "./keys";
import { makeRunDir, pdeathsigPrefix, rmTree, stopProcess, track } from "./processes";
import { startSocatBridge } from "./socat-bridge";
import { shQuote } from "../../provider/transport/framing";
import {
  runSsh, sshArgs, SshCallOptions, SshResult, SshTarget, waitForSshBanner, writeKnownHosts,
} from "./ssh-client";

export interface LibvirtdOptions {
  /**
   * Keep libvirt's QEMU capabilities cache between runs, in
   * `<testbed cache>/libvirt-qemu-capabilities` (default true). libvirt itself
   * checks that each cached entry still matches the qemu and libvirtd binaries
   * and the host CPU, and re-probes when it does not.
   */
  capsCache?: boolean;
  /** Linux bridges to create inside the namespace (e.g. for `<interface type='bridge'>`). */
  bridges?: { name: string; mtu?: number }[];
  /**
   * Mount hugetlbfs (2M and 1G) at /run/hugepages/{2M,1G} inside the namespace and
   * tell qemu.conf (default false). The host keeps 0 reserved pages (the bed never
   * changes that), so a hugepage-backed domain then fails in qemu's allocation,
   * as on a real host without reserved pages, instead of in libvirt's config check.
   */
  hugetlbfs?: boolean;
  /** Hide root's ~/.bashrc inside the namespace (default true): bash sources it for every SSH command. */
  hideRootBashrc?: boolean;
  /**
   * Inside the namespace, /usr/bin/virsh becomes a wrapper that, while /run/kvmt-slow-virsh exists, touches
   * /run/kvmt-virsh-started and sleeps 4 s before a `define` or `attach-device` (default false): the window
   * in which a test kills the Pulumi CLI mid-write.
   */
  slowVirsh?: boolean;
  /** More qemu.conf lines. */
  qemuConf?: string[];
  /** More libvirtd.conf lines. */
  libvirtdConf?: string[];
  /**
   * Share one SSH connection between `ssh()`/`virsh()` calls (OpenSSH
   * ControlMaster; the master is a tracked child): ~100 ms per call instead of
   * ~300 ms on a loaded 2-CPU machine. Default true. Calls fall back to a fresh
   * connection by themselves if the master is gone.
   */
  sshMux?: boolean;
  /** Until `virsh version` answers through the sshd; default 60 s. */
  startTimeoutMs?: number;
}

export interface LibvirtdTimings {
  /** spawn -> the sshd inside the namespace answers with its banner. */
  sshReadyMs: number;
  /** spawn -> the first `virsh version` through the sshd succeeded (libvirtd accepted a connection). */
  firstConnectionMs: number;
}

/** PIDs as seen from the test's (host) PID namespace. */
export interface LibvirtdPids {
  /** The tracked holder (`unshare` exec'd into `sh holder.sh`). */
  holder: number;
  /** PID 1 of the bed's PID namespace. */
  init: number;
  libvirtd: number;
  sshd: number;
  /** The tracked host-side socat on `port`. */
  bridge: number;
  /** The tracked OpenSSH ControlMaster, when `sshMux` is on. */
  sshMux?: number;
}

export interface NamespaceProcess {
  /** PID in the host's PID namespace. */
  pid: number;
  /** PID inside the bed's PID namespace (what libvirt reports, e.g. in /run/libvirt/qemu/NAME.pid). */
  nspid: number;
  comm: string;
  rssKiB: number;
}

export interface Libvirtd {
  host: "127.0.0.1";
  port: number;
  user: "root";
  /** OpenSSH private key text of the suite client key. */
  privateKey: string;
  /** "ssh-ed25519 AAAA..." of the sshd inside the namespace. */
  hostKey: string;
  hostKeyFingerprint: string;
  /** The tracked holder's PID (see `pids` for the rest). */
  pid: number;
  pids: LibvirtdPids;
  /** `net:[4026532...]` etc. of the bed, to tell its processes from the host's. */
  namespaces: { net: string; mnt: string; pid: string };
  /** The run dir (removed by stop()). */
  dir: string;
  /** Host path of the disk image dir (removed by stop()). */
  imagesDir: string;
  /** The same dir as libvirt and qemu see it inside the namespace: "/var/lib/libvirt/images". */
  imagesPath: "/var/lib/libvirt/images";
  uri: "qemu:///system";
  timings: LibvirtdTimings;
  /**
   * Runs `virsh -c qemu:///system ARGS` through the sshd (the system OpenSSH
   * client, host key pinned, over the shared connection unless `sshMux: false`). A string is used as
   * shell text verbatim; an array is quoted argument by argument. Pass XML as
   * `opts.input` with `/dev/stdin` as the file (e.g. `["define", "/dev/stdin"]`).
   */
  virsh(args: string | string[], opts?: SshCallOptions): Promise<SshResult>;
  /** Runs `cmd` as root through the sshd (inside the namespace). */
  ssh(cmd: string, opts?: SshCallOptions): Promise<SshResult>;
  /** Processes in the bed's PID namespace, read from the host's /proc. */
  processes(): NamespaceProcess[];
  /**
   * A loop device over a new raw image in the bed's image dir, for passthrough
   * tests: loop devices are the machine's, so stop() detaches it from the host
   * once the bed's qemu processes are gone.
   */
  loopDevice(file: string, sizeMiB: number): Promise<string>;
  /** Last lines of libvirtd's log (for failure messages). */
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

export const LIBVIRTD_NEEDS = [
  { what: "libvirtd", path: "/usr/sbin/libvirtd", pkg: "libvirt-daemon" },
  { what: "libvirt QEMU driver", path: "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so", pkg: "libvirt-daemon-driver-qemu" },
  { what: "virsh", path: "/usr/bin/virsh", pkg: "libvirt-clients" },
  { what: "virt-xml-validate", path: "/usr/bin/virt-xml-validate", pkg: "libvirt-clients" },
  { what: "xmllint", path: "/usr/bin/xmllint", pkg: "libxml2-utils" },
  { what: "qemu-system-x86_64", path: "/usr/bin/qemu-system-x86_64", pkg: "qemu-system-x86" },
  { what: "qemu-img", path: "/usr/bin/qemu-img", pkg: "qemu-utils" },
  { what: "sshd", path: "/usr/sbin/sshd", pkg: "openssh-server" },
  { what: "ssh", path: "/usr/bin/ssh", pkg: "openssh-client" },
  { what: "socat", path: "/usr/bin/socat", pkg: "socat" },
  { what: "unshare", path: "/usr/bin/unshare", pkg: "util-linux" },
  { what: "setpriv", path: "/usr/bin/setpriv", pkg: "util-linux" },
  { what: "ip", path: "/usr/sbin/ip", pkg: "iproute2" },
];

/** Fails naming the Debian packages when a tool is missing (the suite never skips). */
export function preflightLibvirtd(): void {
  const missing = LIBVIRTD_NEEDS.filter((n) => {
    try {
      fs.accessSync(n.path, n.path.endsWith(".so") ? fs.constants.R_OK : fs.constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
  // libvirt-daemon-system creates the libvirt-qemu user libvirtd insists on parsing
  let users = "";
  try {
    users = fs.readFileSync("/etc/passwd", "utf8");
  } catch {
    // reported below
  }
  const noUser = !/^libvirt-qemu:/m.test(users);
  if (missing.length === 0 && !noUser) return;
  const pkgs = [...new Set([...missing.map((m) => m.pkg), ...(noUser ? ["libvirt-daemon-system"] : [])])];
  const what = [...missing.map((m) => `${m.what} (${m.path})`), ...(noUser ? ["user libvirt-qemu"] : [])];
  throw new Error(
    `kvmtune libvirtd test bed: missing ${what.join(", ")}. ` +
      `Install with: apt-get install -y --no-install-recommends ${pkgs.join(" ")}   (or run .ci/install-libvirt.sh)`,
  );
}

const BRIDGE_NAME = /^[a-zA-Z][a-zA-Z0-9_-]{0,14}$/;

export async function startLibvirtd(opts: LibvirtdOptions = {}): Promise<Libvirtd> {
  preflightLibvirtd();
  for (const b of opts.bridges ?? []) {
    if (!BRIDGE_NAME.test(b.name)) throw new Error(`bridge name ${JSON.stringify(b.name)} is not a valid interface name`);
    if (b.mtu !== undefined && !(Number.isInteger(b.mtu) && b.mtu >= 68 && b.mtu <= 65535)) throw new Error(`bridge mtu ${b.mtu}`);
  }
  const keys = suiteKeys();
  const dir = makeRunDir("libvirtd");
  const t0 = Date.now();
  let holder: ChildProcess | undefined;
  let bridge: ChildProcess | undefined;
  let mux: ChildProcess | undefined;
  const cleanupAll = async () => {
    if (mux) await stopProcess(mux, 1000);
    if (bridge) await stopProcess(bridge, 1000);
    if (holder) await stopProcess(holder, 3000);
    rmTree(dir);
  };
  try {
    writeFiles(dir, keys.clientPublicKey, keys.hostKeyPath, opts);
    // The namespace side first: its socket path is fixed, the host port is not.
    const initLog = fs.openSync(path.join(dir, "init.log"), "a");
    holder = spawn(
      pdeathsigPrefix[0],
      [...pdeathsigPrefix.slice(1), "/usr/bin/unshare", "--mount", "--net", "--pid", "--propagation", "private",
        "--", "/bin/sh", path.join(dir, "holder.sh"), dir],
      { stdio: ["ignore", initLog, initLog] },
    );
    fs.closeSync(initLog);
    // stop (or the suite's exit handlers) also removes the run dir
    track(holder, `libvirtd namespace (${path.basename(dir)})`, () => rmTree(dir));

    const started = await startSocatBridge(path.join(dir, "ssh.sock"), "libvirtd test bed");
    bridge = started.child;
    const port = started.port;

    const timeoutMs = opts.startTimeoutMs ?? 60_000;
    const h = holder;
    const gone = () =>
      h.exitCode !== null || h.signalCode !== null ? `the namespace holder exited (${h.exitCode ?? h.signalCode})` : undefined;
    await waitForSshBanner("127.0.0.1", port, timeoutMs, gone);
    const sshReadyMs = Date.now() - t0;

    const knownHostsPath = path.join(dir, "known_hosts");
    writeKnownHosts(knownHostsPath, "127.0.0.1", port, keys.hostPublicKey);
    const target: SshTarget = { host: "127.0.0.1", port, clientKeyPath: keys.clientKeyPath, knownHostsPath };
    // One round trip: wait for libvirtd's socket inside, then connect to it.
    const waitSteps = Math.ceil(timeoutMs / 50);
    const first = await runSsh(
      target, "root",
      `i=0; while [ ! -S /run/libvirt/libvirt-sock ] && [ $i -lt ${waitSteps} ]; do sleep 0.05; i=$((i+1)); done; ` +
        "virsh -c qemu:///system version",
      { timeoutMs: timeoutMs + 10_000 },
    );
    if (first.code !== 0) throw new Error(`virsh version failed (${first.code}): ${first.stderr.trim()}`);
    const firstConnectionMs = Date.now() - t0;

    let run = (cmd: string, o?: SshCallOptions) => runSsh(target, "root", cmd, o);
    if (opts.sshMux ?? true) {
      const controlPath = path.join(dir, "ssh-mux");
      const args = sshArgs(target, "root");
      const dest = args.pop() as string;
      mux = spawn(
        pdeathsigPrefix[0],
        [...pdeathsigPrefix.slice(1), "ssh", ...args, "-o", `ControlPath=${controlPath}`, "-o", "ControlMaster=yes",
          "-o", "ControlPersist=no", "-o", "ServerAliveInterval=30", "-N", dest],
        { stdio: "ignore", env: noAgentEnv() },
      );
      track(mux, `libvirtd ssh mux :${port}`);
      const m = mux;
      await waitFor(() => fs.existsSync(controlPath), 10_000, () =>
        m.exitCode !== null || m.signalCode !== null ? `the ssh master exited (${m.exitCode ?? m.signalCode})` : undefined);
      const muxArgs = [...args, "-o", `ControlPath=${controlPath}`, "-o", "ControlMaster=no", dest];
      run = (cmd, o) => runSshArgs(muxArgs, cmd, o);
    }

    const pids = { ...findPids(holder.pid as number, bridge?.pid as number), ...(mux ? { sshMux: mux.pid as number } : {}) };
    const namespaces = {
      net: fs.readlinkSync(`/proc/${pids.init}/ns/net`),
      mnt: fs.readlinkSync(`/proc/${pids.init}/ns/mnt`),
      pid: fs.readlinkSync(`/proc/${pids.init}/ns/pid`),
    };
    const held = holder;
    const br = bridge as ChildProcess;
    const mx = mux;
    let stopping: Promise<void> | undefined;
    const loops: string[] = [];
    return {
      host: "127.0.0.1",
      port,
      user: "root",
      privateKey: keys.clientPrivateKey,
      hostKey: keys.hostPublicKey,
      hostKeyFingerprint: fingerprint(keys.hostPublicKey),
      pid: held.pid as number,
      pids,
      namespaces,
      dir,
      imagesDir: path.join(dir, "lib", "images"),
      imagesPath: "/var/lib/libvirt/images",
      uri: "qemu:///system",
      timings: { sshReadyMs, firstConnectionMs },
      virsh: (args, o) => run(virshCommand(args), o),
      ssh: (cmd, o) => run(cmd, o),
      processes: () => namespaceProcesses(namespaces.pid),
      loopDevice: async (file, sizeMiB) => {
        if (!/^[A-Za-z0-9_.-]+$/.test(file) || !(Number.isInteger(sizeMiB) && sizeMiB > 0 && sizeMiB <= 1024)) throw new Error(`loop image ${file} ${sizeMiB}M`);
        const img = `/var/lib/libvirt/images/${file}`;
        const r = await run(`qemu-img create -q -f raw ${shQuote(img)} ${sizeMiB}M && losetup -f --show ${shQuote(img)}`);
        const dev = r.stdout.trim();
        if (r.code !== 0 || !/^\/dev\/loop\d+$/.test(dev)) throw new Error(`loop device over ${img} failed: ${r.stderr.trim()}`);
        loops.push(dev);
        return dev;
      },
      logTail: (n = 30) => tail(path.join(dir, "log", "libvirtd.log"), n),
      stop: () =>
        (stopping ??= (async () => {
          if (mx) await stopProcess(mx, 1000);
          await stopProcess(br, 1000);
          await stopProcess(held, 3000);
          // qemu is gone with the namespace, so nothing holds them any more.
          for (const dev of loops) spawnSync("losetup", ["-d", dev], { stdio: "ignore" });
          rmTree(dir);
        })()),
    };
  } catch (e) {
    const diag = diagnostics(dir);
    await cleanupAll();
    throw new Error(`libvirtd test bed did not start: ${(e as Error).message}\n${diag}`);
  }
}

function noAgentEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.SSH_AUTH_SOCK;
  return env;
}

/** Like ssh-client's runSsh, for a ready-made ssh argument list (here: with the mux options). */
function runSshArgs(args: string[], cmd: string, opts: SshCallOptions = {}): Promise<SshResult> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    const child = spawn("ssh", [...args, "--", cmd], { env: noAgentEnv(), stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString("utf8");
      const stderr = Buffer.concat(err).toString("utf8");
      if (code === null) {
        reject(new Error(`ssh ${args[args.length - 1]} ${signal === "SIGKILL" ? `timed out after ${timeoutMs} ms` : `killed by ${signal}`}: ${cmd}\n${stderr}`));
      } else resolve({ stdout, stderr, code });
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(opts.input ?? "");
  });
}

function waitFor(ok: () => boolean, timeoutMs: number, gone: () => string | undefined): Promise<void> {
  const until = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (ok()) return resolve();
      const reason = gone();
      if (reason) return reject(new Error(reason));
      if (Date.now() > until) return reject(new Error(`not ready within ${timeoutMs} ms`));
      setTimeout(tick, 20);
    };
    tick();
  });
}

/** `virsh -c qemu:///system` + args (strings verbatim, arrays quoted). */
export function virshCommand(args: string | string[]): string {
  const rest = typeof args === "string" ? args : args.map(shQuote).join(" ");
  return `virsh -c qemu:///system ${rest}`;
}

// The product's own quoting (always single-quoted), re-exported for the tests that use it from here.
export { shQuote };

function writeFiles(dir: string, clientPublicKey: string, hostKeyPath: string, opts: LibvirtdOptions): void {
  for (const d of ["etc/qemu/networks/autostart", "etc/nwfilter", "etc/hooks", "lib/images", "cache", "log", "sshd"]) {
    fs.mkdirSync(path.join(dir, d), { recursive: true });
  }
  fs.writeFileSync(
    path.join(dir, "etc", "libvirtd.conf"),
    [
      "# kvmtune test bed: root-only unix sockets, no polkit, log to our own dir",
      'auth_unix_ro = "none"',
      'auth_unix_rw = "none"',
      'unix_sock_group = "root"',
      'unix_sock_ro_perms = "0700"',
      'unix_sock_rw_perms = "0700"',
      'log_outputs = "3:file:/var/log/libvirt/libvirtd.log"',
      ...(opts.libvirtdConf ?? []),
      "",
    ].join("\n"),
  );
  fs.writeFileSync(path.join(dir, "etc", "libvirt.conf"), 'uri_default = "qemu:///system"\n');
  fs.writeFileSync(
    path.join(dir, "etc", "qemu.conf"),
    [
      "# kvmtune test bed: no cgroups, no security driver, no private /dev, no virtlogd",
      'user = "root"',
      'group = "root"',
      'security_driver = "none"',
      "dynamic_ownership = 0",
      "remember_owner = 0",
      "cgroup_controllers = [ ]",
      "namespaces = [ ]",
      'stdio_handler = "file"',
      ...(opts.hugetlbfs ? ['hugetlbfs_mount = [ "/run/hugepages/2M", "/run/hugepages/1G" ]'] : []),
      ...(opts.qemuConf ?? []),
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  fs.writeFileSync(path.join(dir, "sshd", "authorized_keys"), clientPublicKey + "\n", { mode: 0o600 });
  fs.writeFileSync(
    path.join(dir, "sshd", "sshd_config"),
    [
      "ListenAddress 127.0.0.1",
      "Port 22",
      `HostKey ${hostKeyPath}`,
      `PidFile ${path.join(dir, "sshd", "sshd.pid")}`,
      `AuthorizedKeysFile ${path.join(dir, "sshd", "authorized_keys")}`,
      "PermitRootLogin prohibit-password",
      "UsePAM no",
      "StrictModes no",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PrintMotd no",
      "UseDNS no",
      "MaxStartups 200:30:300",
      "MaxSessions 100",
      "",
    ].join("\n"),
  );
  fs.writeFileSync(path.join(dir, "empty-bashrc"), "");

  let capsBind = "";
  if (opts.capsCache ?? true) {
    const caps = path.join(testbedCacheDir(), "libvirt-qemu-capabilities");
    fs.mkdirSync(caps, { recursive: true });
    fs.mkdirSync(path.join(dir, "cache", "qemu", "capabilities"), { recursive: true });
    capsBind = `mount --bind ${shQuote(caps)} /var/cache/libvirt/qemu/capabilities`;
  }
  const hugetlbfs = opts.hugetlbfs
    ? ["2M", "1G"].map((s) => `mkdir -p /run/hugepages/${s} && mount -t hugetlbfs -o pagesize=${s} hugetlbfs /run/hugepages/${s}`).join("\n")
    : "";
  const bridges = (opts.bridges ?? []).map(
    (b) => `ip link add ${b.name} type bridge && ip link set ${b.name}${b.mtu ? ` mtu ${b.mtu}` : ""} up`,
  );
  if (opts.slowVirsh) {
    fs.writeFileSync(
      path.join(dir, "slow-virsh"),
      `#!/bin/sh\nif [ -e /run/kvmt-slow-virsh ]; then\n  case " $* " in *" define "*|*" attach-device "*) touch /run/kvmt-virsh-started; sleep 4 ;; esac\nfi\nexec "${dir}/virsh-real" "$@"\n`,
      { mode: 0o755 },
    );
    fs.writeFileSync(path.join(dir, "virsh-real"), "");
  }
  const slowVirsh = opts.slowVirsh ? 'mount --bind /usr/bin/virsh "$D/virsh-real" && mount --bind "$D/slow-virsh" /usr/bin/virsh' : "";
  const hideBashrc = (opts.hideRootBashrc ?? true)
    ? 'if [ -f /root/.bashrc ]; then mount --bind "$D/empty-bashrc" /root/.bashrc; fi'
    : "";

  // The holder: host PID namespace (tracked, SIGTERM-able); its one child is PID 1 of the new one.
  fs.writeFileSync(
    path.join(dir, "holder.sh"),
    `#!/bin/sh
# kvmtune libvirtd test bed: namespace holder (see test/support/libvirtd.ts)
D="$1"
${pdeathsigPrefix.map(shQuote).join(" ")} /bin/sh "$D/init.sh" "$D" &
init=$!
echo "holder: init $init"
trap 'kill -KILL "$init" 2>/dev/null' TERM INT HUP
rc=0
while kill -0 "$init" 2>/dev/null; do wait "$init"; rc=$?; done
echo "holder: init exited ($rc)"
exit "$rc"
`,
  );
  fs.writeFileSync(
    path.join(dir, "init.sh"),
    `#!/bin/sh
# kvmtune libvirtd test bed: PID 1 of the bed's PID namespace (see test/support/libvirtd.ts)
set -eu
D="$1"
mount --make-rprivate /
mount -t proc -o nosuid,nodev,noexec proc /proc
mount --bind /proc/sys /proc/sys
mount -o remount,bind,ro /proc/sys
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs /sys
mount -t tmpfs -o ro,nosuid,nodev,noexec,mode=755,size=4k tmpfs /sys/fs/cgroup
mount -t tmpfs -o nosuid,nodev,mode=755,size=64m tmpfs /run
mkdir -p /run/libvirt /run/sshd /run/lock
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts /dev/pts
mount --bind /dev/pts/ptmx /dev/ptmx
# kvmtune's journal (/var/lib/kvmtune) must stay in the bed: a tmpfs over /var/lib, with every
# entry of this machine's /var/lib bound back, so nothing else the daemons see changes.
mkdir -p "$D/host-var-lib"
mount --bind /var/lib "$D/host-var-lib"
mount -t tmpfs -o nosuid,nodev,mode=755,size=4m tmpfs /var/lib
for e in "$D/host-var-lib"/* "$D/host-var-lib"/.[!.]*; do
  [ -e "$e" ] || [ -L "$e" ] || continue
  n=\${e##*/}
  if [ -L "$e" ]; then cp -P "$e" "/var/lib/$n"
  elif [ -d "$e" ]; then mkdir "/var/lib/$n" && mount --bind "$e" "/var/lib/$n"
  else : > "/var/lib/$n" && mount --bind "$e" "/var/lib/$n"; fi
done
mount --bind "$D/etc" /etc/libvirt
mount --bind "$D/lib" /var/lib/libvirt
mount --bind "$D/cache" /var/cache/libvirt
mount --bind "$D/log" /var/log/libvirt
${capsBind}
${hugetlbfs}
${slowVirsh}
${hideBashrc}
ip link set lo up
${bridges.join("\n")}
/usr/sbin/libvirtd &
echo "init: libvirtd $!"
/usr/sbin/sshd -D -f "$D/sshd/sshd_config" -E "$D/sshd/sshd.log" &
echo "init: sshd $!"
/usr/bin/socat "UNIX-LISTEN:$D/ssh.sock,fork,unlink-early,mode=600" TCP:127.0.0.1:22,nodelay &
echo "init: socat $!"
# PID 1 of the namespace: waiting here also reaps the qemu processes libvirtd
# daemonises (they are reparented to us), so a destroyed domain leaves no zombie.
set +e
wait
echo "init: all children exited"
`,
  );
}


function children(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function comm(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

function findPids(holder: number, bridge: number): LibvirtdPids {
  const init = children(holder)[0];
  if (!init) throw new Error("the namespace holder has no init child");
  const kids = children(init);
  const byComm = (c: string) => {
    const p = kids.find((k) => comm(k) === c);
    if (!p) throw new Error(`no ${c} under the namespace init (children: ${kids.map((k) => `${k}:${comm(k)}`).join(" ")})`);
    return p;
  };
  return { holder, init, libvirtd: byComm("libvirtd"), sshd: byComm("sshd"), bridge };
}

/** Every process whose PID namespace is `pidNs` (e.g. "pid:[4026532...]"), from the host's /proc. */
export function namespaceProcesses(pidNs: string): NamespaceProcess[] {
  const out: NamespaceProcess[] = [];
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (fs.readlinkSync(`/proc/${d}/ns/pid`) !== pidNs) continue;
      const status = fs.readFileSync(`/proc/${d}/status`, "utf8");
      const nspids = /^NSpid:\s*(.*)$/m.exec(status)?.[1].trim().split(/\s+/).map(Number) ?? [];
      const rss = Number(/^VmRSS:\s*(\d+)/m.exec(status)?.[1] ?? 0);
      out.push({ pid: Number(d), nspid: nspids[nspids.length - 1], comm: comm(Number(d)), rssKiB: rss });
    } catch {
      // exited meanwhile
    }
  }
  return out.sort((a, b) => a.nspid - b.nspid);
}

function tail(file: string, n: number): string {
  try {
    return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-n).join("\n");
  } catch {
    return `(no ${path.basename(file)})`;
  }
}

function diagnostics(dir: string): string {
  return [
    "--- init.log ---", tail(path.join(dir, "init.log"), 20),
    "--- libvirtd.log ---", tail(path.join(dir, "log", "libvirtd.log"), 20),
    "--- sshd.log ---", tail(path.join(dir, "sshd", "sshd.log"), 20),
  ].join("\n");
}

export interface HostLibvirtFootprint {
  /** Whether the host has /run/libvirt (it must not appear because of the bed). */
  runLibvirt: boolean;
  /** "path size mtimeMs" of every entry under the host's libvirt dirs. */
  files: string[];
  /** Network interfaces in the host's (the test process's) network namespace. */
  netIfaces: string[];
  /** libvirt cgroup dirs (machine, machine.slice) under the host's cgroup hierarchies. */
  cgroupDirs: string[];
}

const HOST_LIBVIRT_DIRS = ["/etc/libvirt", "/var/lib/libvirt", "/var/log/libvirt", "/var/cache/libvirt", "/run/libvirt"];

/** What the host has that a leaking bed would change (compare before/after). */
export function hostLibvirtFootprint(): HostLibvirtFootprint {
  const files: string[] = [];
  const walk = (p: string) => {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      return;
    }
    files.push(`${p} ${st.isDirectory() ? "dir" : st.size} ${Math.round(st.mtimeMs)}`);
    if (st.isDirectory()) for (const e of fs.readdirSync(p).sort()) walk(path.join(p, e));
  };
  for (const d of HOST_LIBVIRT_DIRS) walk(d);
  const cgroupDirs: string[] = [];
  try {
    for (const h of fs.readdirSync("/sys/fs/cgroup")) {
      for (const m of ["machine", "machine.slice"]) {
        const p = path.join("/sys/fs/cgroup", h, m);
        if (fs.existsSync(p)) cgroupDirs.push(p);
      }
    }
  } catch {
    // no cgroup fs: nothing to leak into
  }
  return {
    runLibvirt: fs.existsSync("/run/libvirt"),
    files,
    netIfaces: fs.readdirSync("/sys/class/net").sort(),
    cgroupDirs,
  };
}
