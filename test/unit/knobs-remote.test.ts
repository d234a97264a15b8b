// The remote side of knob reads and writes: fixed scripts fed with data on
// stdin. Parsed by sh/dash, busybox sh and bash; run here for real, but only
// with ops that touch files under a temp dir (never sysfs, modules or mounts).
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApplyError, applyOps, readFiles } from "../../provider/host/knobs/execute";
import { APPLY_SCRIPT, describeOp, encodeOps, NO_GENERATOR, parseApplyOutput, parseReadOutput, READ_SCRIPT } from "../../provider/host/knobs/remote";
import type { RemoteOp } from "../../provider/host/knobs/types";
import type { RemoteSession, RunOptions, RunResult } from "../../provider/transport/types";
import { SHELL_ARGV, type Shell } from "../fixtures/facts/run-script";

const SHELLS: Shell[] = ["sh", "busybox", "bash"];

function sh(shell: Shell, script: string, stdin: string, env: Record<string, string> = {}): RunResult {
  const argv = SHELL_ARGV[shell];
  const r = spawnSync(argv[0], [...argv.slice(1), "-c", script], { input: stdin, encoding: "utf8", timeout: 30_000, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env } });
  if (r.error) throw r.error;
  return { stdout: r.stdout, stderr: r.stderr, code: r.status ?? -1 };
}

/** A RemoteSession that runs scripts here, under one shell. */
class LocalSession implements RemoteSession {
  readonly target = "local-test:0";
  commands = 0;
  constructor(private readonly shell: Shell, private readonly dir: string) {}
  async run(script: string, opts: RunOptions = {}): Promise<RunResult> {
    this.commands++;
    if (script === APPLY_SCRIPT) assertOnlyTempFiles(String(opts.stdin ?? ""), this.dir);
    return sh(this.shell, script, String(opts.stdin ?? ""));
  }
  close(): void {}
}

/** Guard: APPLY_SCRIPT only ever runs here with file / managed-block ops under the test's temp dir. */
function assertOnlyTempFiles(stdin: string, dir: string): void {
  const lines = stdin.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const [op, path] = lines[i].split("\t");
    if (op === "") continue;
    assert.ok(op === "file" || op === "managed-block", `refusing to run op ${op} on this machine`);
    assert.ok(path.startsWith(`${dir}/`) && !path.includes(".."), `refusing to touch ${path}`);
    if (op === "managed-block") i++; // its content line
  }
}

function runApply(shell: Shell, ops: RemoteOp[], dir: string): RunResult {
  const stdin = encodeOps(ops);
  assertOnlyTempFiles(stdin, dir);
  return sh(shell, APPLY_SCRIPT, stdin);
}

const listing = (dir: string) => readdirSync(dir).sort();

describe("host knobs: remote scripts", function () {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "kvmtune-knobs-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  describe("syntax", function () {
    for (const [name, script] of [["READ_SCRIPT", READ_SCRIPT], ["APPLY_SCRIPT", APPLY_SCRIPT]] as const) {
      for (const [shell, argv] of [["sh", ["sh", "-n"]], ["dash", ["dash", "-n"]], ["busybox sh", ["busybox", "sh", "-n"]], ["bash --posix", ["bash", "--posix", "-n"]]] as const) {
        it(`${name} passes ${shell} -n`, function () {
          const r = spawnSync(argv[0], [...argv.slice(1)], { input: script, encoding: "utf8" });
          assert.equal(r.status, 0, r.stderr);
          assert.equal(r.stderr, "");
        });
      }
    }
  });

  describe("encoding ops and parsing output", function () {
    it("encodes one tab-separated line per op, file contents in base64", function () {
      const ops: RemoteOp[] = [
        { op: "write", path: "/proc/sys/vm/swappiness", value: "10" },
        { op: "write", path: "/proc/sys/net/ipv4/tcp_rmem", value: "4096 87380 6291456" },
        { op: "modprobe", module: "bfq" },
        { op: "rmmod", module: "vhost_net" },
        { op: "mount-hugetlbfs", dir: "/dev/hugepages1G", pageSize: "1G" },
        { op: "umount", dir: "/dev/hugepages1G" },
        { op: "file", path: "/etc/sysctl.d/90-kvmtune-x.conf", content: "vm.swappiness = 10\n$(reboot)\t\n" },
        { op: "file", path: "/etc/sysctl.d/90-kvmtune-x.conf", content: "" },
        { op: "managed-block", path: "/etc/fstab", tag: "x", content: "none /d hugetlbfs pagesize=1G 0 0\n" },
        { op: "managed-block", path: "/etc/fstab", tag: "x", content: "" },
        { op: "update-bootloader", tool: "update-grub" },
        { op: "update-bootloader", tool: "grub-mkconfig" },
        { op: "update-bootloader", tool: "grub2-mkconfig" },
        { op: "update-bootloader", tool: "none" },
      ];
      const b64 = (t: string) => Buffer.from(t).toString("base64");
      assert.equal(
        encodeOps(ops),
        [
          "write\t/proc/sys/vm/swappiness\t10",
          "write\t/proc/sys/net/ipv4/tcp_rmem\t4096 87380 6291456",
          "modprobe\tbfq\t",
          "rmmod\tvhost_net\t",
          "mount-hugetlbfs\t/dev/hugepages1G\t1G",
          "umount\t/dev/hugepages1G\t",
          `file\t/etc/sysctl.d/90-kvmtune-x.conf\t${b64("vm.swappiness = 10\n$(reboot)\t\n")}`,
          "file\t/etc/sysctl.d/90-kvmtune-x.conf\t",
          "managed-block\t/etc/fstab\tx",
          b64("none /d hugetlbfs pagesize=1G 0 0\n"),
          "managed-block\t/etc/fstab\tx",
          "",
          "update-bootloader\tupdate-grub\t",
          "update-bootloader\tgrub-mkconfig\t",
          "update-bootloader\tgrub2-mkconfig\t",
          "update-bootloader\tnone\t",
          "",
        ].join("\n"),
      );
      assert.deepEqual(ops.map(describeOp), [
        'write "10" to /proc/sys/vm/swappiness',
        'write "4096 87380 6291456" to /proc/sys/net/ipv4/tcp_rmem',
        "load module bfq",
        "unload module vhost_net",
        "mount hugetlbfs (1G) at /dev/hugepages1G",
        "unmount /dev/hugepages1G",
        "write /etc/sysctl.d/90-kvmtune-x.conf",
        "remove /etc/sysctl.d/90-kvmtune-x.conf",
        "write kvmtune's block in /etc/fstab",
        "remove kvmtune's block in /etc/fstab",
        "regenerate the boot loader configuration (update-grub)",
        "regenerate the boot loader configuration (grub-mkconfig -o /boot/grub/grub.cfg)",
        "regenerate the boot loader configuration (grub2-mkconfig -o /boot/grub2/grub.cfg)",
        "regenerate the boot loader configuration (no tool)",
      ]);
    });

    it("sends only an allowlisted boot loader tool", function () {
      for (const tool of ["grubby", "update-grub; reboot", "../../tmp/x", ""]) {
        assert.throws(() => encodeOps([{ op: "update-bootloader", tool } as unknown as RemoteOp]), { message: `internal: boot loader tool ${JSON.stringify(tool)} is not one kvmtune drives` });
      }
    });

    it("refuses a tab or newline in a field instead of shifting the fields", function () {
      assert.throws(() => encodeOps([{ op: "write", path: "/proc/sys/vm/swappiness", value: "10\nwrite\t/x\t1" }]), { message: 'internal: value contains a tab or newline: "10\\nwrite\\t/x\\t1"' });
      assert.throws(() => encodeOps([{ op: "write", path: "/a\tb", value: "1" }]), { message: 'internal: path contains a tab or newline: "/a\\tb"' });
      assert.throws(() => encodeOps([{ op: "managed-block", path: "/etc/fstab", tag: "a\nb", content: "" }]), { message: 'internal: tag contains a tab or newline: "a\\nb"' });
    });

    it("parses apply output: steps done, the failed step, notes, and whether it ended", function () {
      assert.deepEqual(parseApplyOutput("@@kvmtune:ok 0\n@@kvmtune:ok 1\n@@kvmtune:note no grub\n@@kvmtune:ok 2\n@@kvmtune:end\n"), { done: 3, failed: undefined, notes: ["no grub"], complete: true });
      assert.deepEqual(parseApplyOutput("@@kvmtune:ok 0\n@@kvmtune:fail 1 write /x: Invalid argument \n"), { done: 1, failed: { index: 1, message: "write /x: Invalid argument" }, notes: [], complete: true });
      assert.deepEqual(parseApplyOutput("@@kvmtune:ok 0\n@@kvmtune:o"), { done: 1, failed: undefined, notes: [], complete: false });
      assert.deepEqual(parseApplyOutput(""), { done: 0, failed: undefined, notes: [], complete: false });
    });

    it("parses read output: contents, empty and missing files; a cut-off output is an error", function () {
      const out = "@@kvmtune:read /a\nx\ny\n@@kvmtune:eof\n@@kvmtune:read /b\n@@kvmtune:eof\n@@kvmtune:missing /c\n@@kvmtune:end\n";
      assert.deepEqual([...parseReadOutput(out)], [["/a", "x\ny"], ["/b", ""], ["/c", undefined]]);
      assert.throws(() => parseReadOutput("@@kvmtune:read /a\nx\n"), { message: "knob read output was truncated (no end marker)" });
    });

    for (const shell of SHELLS) {
      it(`round-trips real files through READ_SCRIPT and the parser (${shell})`, function () {
        writeFileSync(join(dir, "plain"), "60\n");
        writeFileSync(join(dir, "tabs"), "4096\t131072\t6291456\n");
        writeFileSync(join(dir, "no-newline"), "[none] mq-deadline");
        writeFileSync(join(dir, "empty"), "");
        writeFileSync(join(dir, "lines"), "# header\nvm.swappiness = 10\n\nlast\n");
        mkdirSync(join(dir, "cpu0"));
        mkdirSync(join(dir, "cpu1"));
        writeFileSync(join(dir, "cpu0", "gov"), "performance\n");
        writeFileSync(join(dir, "cpu1", "gov"), "powersave\n");
        const paths = ["plain", "tabs", "no-newline", "empty", "lines", "missing", "cpu[0-9]*/gov", "nomatch[0-9]*/gov"].map((p) => join(dir, p));
        const r = sh(shell, READ_SCRIPT, paths.map((p) => `${p}\n`).join("") + "\n");
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(Object.fromEntries(parseReadOutput(r.stdout)), {
          [join(dir, "plain")]: "60",
          [join(dir, "tabs")]: "4096\t131072\t6291456",
          [join(dir, "no-newline")]: "[none] mq-deadline",
          [join(dir, "empty")]: "",
          [join(dir, "lines")]: "# header\nvm.swappiness = 10\n\nlast",
          [join(dir, "missing")]: undefined,
          [join(dir, "cpu0", "gov")]: "performance",
          [join(dir, "cpu1", "gov")]: "powersave",
          [join(dir, "nomatch[0-9]*/gov")]: undefined,
        });
      });
    }
  });

  for (const shell of SHELLS) {
    describe(`APPLY_SCRIPT on real files (${shell})`, function () {
      it("replaces a file atomically with exact content and mode 644, and removes it for empty content", function () {
        const target = join(dir, "etc", "sysctl.d", "90-kvmtune-t.conf");
        const content = "# Managed by kvmtune (t).\nvm.swappiness = 10\n$(touch /tmp/kvmtune-pwned)\t`id`\n";
        let r = runApply(shell, [{ op: "file", path: target, content }], dir);
        assert.equal(r.stdout, "@@kvmtune:ok 0\n@@kvmtune:end\n", r.stderr);
        assert.equal(readFileSync(target, "utf8"), content);
        assert.equal(statSync(target).mode & 0o777, 0o644);
        assert.equal(existsSync("/tmp/kvmtune-pwned"), false);
        const inode = statSync(target).ino;
        r = runApply(shell, [{ op: "file", path: target, content: "vm.swappiness = 20\n" }], dir);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(readFileSync(target, "utf8"), "vm.swappiness = 20\n");
        assert.notEqual(statSync(target).ino, inode, "replaced by rename, not rewritten in place");
        assert.deepEqual(listing(join(dir, "etc", "sysctl.d")), ["90-kvmtune-t.conf"], "no temp file left");
        r = runApply(shell, [{ op: "file", path: target, content: "" }, { op: "file", path: target, content: "" }], dir);
        assert.equal(r.stdout, "@@kvmtune:ok 0\n@@kvmtune:ok 1\n@@kvmtune:end\n");
        assert.deepEqual(listing(join(dir, "etc", "sysctl.d")), []);
      });

      it("edits only its own block of a shared file, keeping every other line and other blocks", function () {
        const fstab = join(dir, "fstab");
        const others = "UUID=1 / ext4 defaults 0 1\n# BEGIN kvmtune other\nnone /mnt/o hugetlbfs pagesize=2M 0 0\n# END kvmtune other\ntmpfs /tmp tmpfs defaults 0 0\n";
        writeFileSync(fstab, others);
        let r = runApply(shell, [{ op: "managed-block", path: fstab, tag: "hv01", content: "none /dev/hugepages1G hugetlbfs pagesize=1G 0 0\n" }], dir);
        assert.equal(r.stdout, "@@kvmtune:ok 0\n@@kvmtune:end\n", r.stderr);
        assert.equal(readFileSync(fstab, "utf8"), `${others}# BEGIN kvmtune hv01\nnone /dev/hugepages1G hugetlbfs pagesize=1G 0 0\n# END kvmtune hv01\n`);
        r = runApply(shell, [{ op: "managed-block", path: fstab, tag: "hv01", content: "none /a hugetlbfs pagesize=1G 0 0\nnone /b hugetlbfs pagesize=2M 0 0\n" }], dir);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(readFileSync(fstab, "utf8"), `${others}# BEGIN kvmtune hv01\nnone /a hugetlbfs pagesize=1G 0 0\nnone /b hugetlbfs pagesize=2M 0 0\n# END kvmtune hv01\n`);
        r = runApply(shell, [{ op: "managed-block", path: fstab, tag: "hv01", content: "" }], dir);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(readFileSync(fstab, "utf8"), others);
        assert.deepEqual(listing(dir), ["fstab"]);
      });

      it("creates the shared file when it is missing", function () {
        const fstab = join(dir, "fstab");
        const r = runApply(shell, [{ op: "managed-block", path: fstab, tag: "t", content: "none /d hugetlbfs pagesize=2M 0 0\n" }], dir);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(readFileSync(fstab, "utf8"), "# BEGIN kvmtune t\nnone /d hugetlbfs pagesize=2M 0 0\n# END kvmtune t\n");
      });

      it("stops at the first failed step, names it, and leaves no partial or temp file (parent is a regular file)", function () {
        writeFileSync(join(dir, "notadir"), "x");
        const after = join(dir, "after.conf");
        const r = runApply(shell, [{ op: "file", path: join(dir, "first.conf"), content: "a\n" }, { op: "file", path: join(dir, "notadir", "x.conf"), content: "b\n" }, { op: "file", path: after, content: "c\n" }], dir);
        assert.equal(r.code, 3);
        assert.match(r.stdout, new RegExp(`^@@kvmtune:ok 0\\n@@kvmtune:fail 1 write ${dir}/notadir/x.conf: .+\\n$`));
        assert.deepEqual(listing(dir), ["first.conf", "notadir"]);
        assert.equal(readFileSync(join(dir, "notadir"), "utf8"), "x");
      });

      it("runs the op's boot loader generator with its fixed arguments (stand-ins first on PATH), and fails the step without one", function () {
        const bin = join(dir, "bin");
        const log = join(dir, "generators.log");
        mkdirSync(bin);
        for (const tool of ["update-grub", "grub-mkconfig", "grub2-mkconfig", "grubby"]) {
          writeFileSync(join(bin, tool), `#!/bin/sh\necho "${tool} $*" >> '${log}'\n`);
          chmodSync(join(bin, tool), 0o755);
        }
        const env = { PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}` };
        const tools = ["update-grub", "grub-mkconfig", "grub2-mkconfig"] as const;
        const ok = sh(shell, APPLY_SCRIPT, encodeOps(tools.map((tool) => ({ op: "update-bootloader", tool }))), env);
        assert.equal(ok.stdout, "@@kvmtune:ok 0\n@@kvmtune:ok 1\n@@kvmtune:ok 2\n@@kvmtune:end\n", ok.stderr);
        assert.equal(readFileSync(log, "utf8"), "update-grub \ngrub-mkconfig -o /boot/grub/grub.cfg\ngrub2-mkconfig -o /boot/grub2/grub.cfg\n");
        const none = sh(shell, APPLY_SCRIPT, encodeOps([{ op: "update-bootloader", tool: "none" }]), env);
        assert.equal(none.code, 3);
        assert.equal(none.stdout, `@@kvmtune:fail 0 ${NO_GENERATOR}\n`);
        // A line encodeOps would never write runs nothing either: the tool is matched, never executed as text.
        const forged = sh(shell, APPLY_SCRIPT, "update-bootloader\tgrubby --update-kernel=ALL\t\nupdate-bootloader\t$(grubby)\t\n", env);
        assert.equal(forged.stdout, `@@kvmtune:fail 0 ${NO_GENERATOR}\n`);
        assert.equal(readFileSync(log, "utf8").split("\n").length, 4, "no generator ran for the refused lines");
        writeFileSync(join(bin, "update-grub"), "#!/bin/sh\necho 'Generating grub configuration file ...'\necho 'grub-probe: error: failed to get canonical path of overlay.' >&2\nexit 1\n");
        const failed = sh(shell, APPLY_SCRIPT, encodeOps([{ op: "update-bootloader", tool: "update-grub" }]), env);
        assert.equal(failed.stdout, "@@kvmtune:fail 0 update-grub: Generating grub configuration file ... grub-probe: error: failed to get canonical path of overlay.\n");
      });

      it("refuses an unknown op", function () {
        const r = sh(shell, APPLY_SCRIPT, "reboot\tnow\t\n");
        assert.equal(r.code, 3);
        assert.equal(r.stdout, "@@kvmtune:fail 0 unknown op reboot\n");
      });
    });
  }

  describe("a read-only directory (read-only tmpfs in a private mount namespace)", function () {
    before(function () {
      // Root and util-linux's unshare are part of the test bed: their absence is a failure, not a skip.
      const r = spawnSync("unshare", ["-m", "--propagation", "private", "true"]);
      assert.equal(r.status, 0, `unshare -m failed: ${r.stderr}`);
    });

    for (const shell of SHELLS) {
      it(`leaves the old file intact and no temp file behind (${shell})`, function () {
        const ro = join(dir, "sysctl.d");
        mkdirSync(ro);
        const fstab = join(ro, "fstab");
        const file = join(ro, "90-kvmtune-t.conf");
        const ops = encodeOps([
          { op: "file", path: file, content: "vm.swappiness = 20\n" },
          { op: "managed-block", path: fstab, tag: "t", content: "none /d hugetlbfs pagesize=2M 0 0\n" },
        ]);
        assertOnlyTempFiles(ops, dir);
        const argv = SHELL_ARGV[shell];
        // In a private mount namespace: a tmpfs over the temp dir holding the old files, made read-only.
        const inner = [
          `mount -t tmpfs -o size=1m tmpfs "$D"`,
          `printf 'vm.swappiness = 10\\n' > "$D/90-kvmtune-t.conf"`,
          `printf 'UUID=1 / ext4 defaults 0 1\\n' > "$D/fstab"`,
          `mount -o remount,ro "$D"`,
          `for op in 1 2; do`,
          `  if [ $op = 1 ]; then head -n 1 "$OPS"; else tail -n 2 "$OPS"; fi | "$@" -c "$APPLY"; echo "exit=$?"`,
          `done`,
          `cat "$D/90-kvmtune-t.conf" "$D/fstab"; ls -A "$D"`,
        ].join("\n");
        const opsFile = join(dir, "ops");
        writeFileSync(opsFile, ops);
        chmodSync(opsFile, 0o644);
        const r = spawnSync("unshare", ["-m", "--propagation", "private", "sh", "-c", inner, "inner", ...argv], {
          encoding: "utf8",
          env: { PATH: process.env.PATH ?? "/usr/bin:/bin", D: ro, OPS: opsFile, APPLY: APPLY_SCRIPT },
        });
        assert.equal(r.status, 0, r.stderr);
        const lines = r.stdout.split("\n");
        assert.match(lines[0], new RegExp(`^@@kvmtune:fail 0 write ${ro}/90-kvmtune-t.conf: .*Read-only file system`, "i"));
        assert.equal(lines[1], "exit=3");
        assert.match(lines[2], new RegExp(`^@@kvmtune:fail 0 update ${ro}/fstab: .*Read-only file system`, "i"));
        assert.equal(lines[3], "exit=3");
        assert.deepEqual(lines.slice(4), ["vm.swappiness = 10", "UUID=1 / ext4 defaults 0 1", "90-kvmtune-t.conf", "fstab", ""]);
        assert.deepEqual(listing(ro), [], "the tmpfs is gone with the namespace");
      });
    }
  });

  describe("applyOps / readFiles over a session", function () {
    for (const shell of SHELLS) {
      it(`names the host, the step and the cause of a failure (${shell})`, async function () {
        writeFileSync(join(dir, "notadir"), "x");
        const s = new LocalSession(shell, dir);
        const ops: RemoteOp[] = [
          { op: "file", path: join(dir, "a.conf"), content: "a\n" },
          { op: "file", path: join(dir, "notadir", "b.conf"), content: "b\n" },
        ];
        await assert.rejects(applyOps(s, ops, "apply settings"), (err: ApplyError) => {
          assert.equal(err.name, "ApplyError");
          assert.equal(err.done, 1);
          assert.match(err.message, new RegExp(`^on local-test:0, step 2 of 2 \\(write ${dir}/notadir/b.conf\\) failed: write ${dir}/notadir/b.conf: .+`));
          return true;
        });
        assert.deepEqual(await applyOps(s, [], "nothing"), []);
        assert.equal(s.commands, 1, "no command for no ops");
        const files = await readFiles(s, [join(dir, "a.conf"), join(dir, "b.conf")]);
        assert.deepEqual([...files], [[join(dir, "a.conf"), "a"], [join(dir, "b.conf"), undefined]]);
      });
    }
  });
});
