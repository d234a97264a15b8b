import { strict as assert } from "node:assert";
import { resolveKnob } from "../../provider/host/knobs/catalogue";
import { renderPersistence } from "../../provider/host/knobs/persistence";
import { diffPersistence } from "../../provider/host/knobs/persistence-drift";
import type { Knob } from "../../provider/host/knobs/types";

const entry = (key: string, value: string) => ({ knob: resolveKnob(key) as Knob, value });
const ENTRIES = [entry("sysctl:vm.swappiness", "10"), entry("sysctl:vm.dirty_ratio", "5"), entry("hugetlbfs:2M", "/dev/hugepages2M")];
const SYSCTL = "/etc/sysctl.d/90-kvmtune-hv01.conf";
const HEADER = "# Managed by kvmtune (hv01). Changes here are overwritten; change the Pulumi program instead.";

/** The files as kvmtune wrote them, as READ_SCRIPT returns them (no final newline; absent ones missing). */
function written(): Map<string, string | undefined> {
  const files = new Map<string, string | undefined>();
  for (const [path, content] of renderPersistence("hv01", ENTRIES)) files.set(path, content === "" ? undefined : content.replace(/\n$/, ""));
  files.set("/etc/fstab", "proc /proc proc defaults 0 0\n# BEGIN kvmtune hv01\nnone /dev/hugepages2M hugetlbfs pagesize=2M 0 0\n# END kvmtune hv01");
  return files;
}

describe("persistence files as drift", function () {
  it("finds nothing in the files kvmtune wrote, nor in lines of fstab that are not its block", function () {
    const files = written();
    files.set("/etc/fstab", `UUID=1 / ext4 defaults 0 1\n${files.get("/etc/fstab")}`);
    assert.deepEqual(diffPersistence("hv01", ENTRIES, files), []);
  });

  it("names the file and line of each hand edit, with what kvmtune expects there", function () {
    const files = written();
    files.set(SYSCTL, `${HEADER}\nvm.dirty_ratio = 5\nvm.swappiness = 30\nkernel.foo = 1`);
    assert.deepEqual(diffPersistence("hv01", ENTRIES, files), [
      `${SYSCTL} line 3: "vm.swappiness = 30", expected "vm.swappiness = 10"`,
      `${SYSCTL} line 4: "kernel.foo = 1", expected nothing`,
    ]);
  });

  it("names a removed line, a missing file, a file that should not exist, and an fstab without its block", function () {
    const files = written();
    files.set(SYSCTL, `${HEADER}\nvm.dirty_ratio = 5`);
    files.set("/etc/modprobe.d/kvmtune-hv01.conf", "options kvm halt_poll_ns=0");
    files.set("/etc/fstab", "proc /proc proc defaults 0 0");
    assert.deepEqual(diffPersistence("hv01", ENTRIES, files), [
      `${SYSCTL} line 3: nothing, expected "vm.swappiness = 10"`,
      "/etc/modprobe.d/kvmtune-hv01.conf exists, but kvmtune's settings put nothing there",
      `/etc/fstab has no kvmtune block "hv01"; kvmtune wrote it with 1 line(s)`,
    ]);
    files.delete(SYSCTL);
    assert.equal(diffPersistence("hv01", ENTRIES, files)[0], `${SYSCTL} is missing; kvmtune wrote it with 3 line(s)`);
  });

  it("names at most three lines of one file", function () {
    const files = written();
    files.set(SYSCTL, "a\nb\nc\nd\ne");
    assert.equal(diffPersistence("hv01", ENTRIES, files).filter((m) => m.startsWith(SYSCTL)).length, 3);
  });
});
