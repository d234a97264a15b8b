import { strict as assert } from "node:assert";
import { mountPoints, planCreatedKeys, pruneOps } from "../../provider/host/created-paths";

const files = (entries: [string, string | undefined][], dirs: string[] = []) => Object.assign(new Map(entries), { dirs });
const desired = new Map([
  ["hugetlbfs:2M", "/dev/hugepages2M"],
  ["hugetlbfs:1G", "/mnt/huge1G"],
  ["sysctl:vm.swappiness", "10"],
]);

describe("what kvmtune creates besides settings", function () {
  it("lists the desired mount points for the read", function () {
    assert.deepEqual(mountPoints(desired), ["/dev/hugepages2M", "/mnt/huge1G"]);
  });

  it("records only what does not exist now, or what this owner recorded before", function () {
    const none = () => false;
    assert.deepEqual(planCreatedKeys({ desired, fstab: "/etc/fstab", files: files([["/etc/fstab", undefined]]), recorded: none }), ["created:/dev/hugepages2M", "created:/mnt/huge1G", "created:/etc/fstab"]);
    assert.deepEqual(planCreatedKeys({ desired, fstab: "/etc/fstab", files: files([["/etc/fstab", "proc /proc proc defaults 0 0"]], ["/mnt/huge1G"]), recorded: none }), ["created:/dev/hugepages2M"]);
    // Mounted by kvmtune's earlier run: the directory exists now, the journal says kvmtune made it.
    assert.deepEqual(planCreatedKeys({ desired, fstab: "/etc/fstab", files: files([["/etc/fstab", ""]], ["/dev/hugepages2M", "/mnt/huge1G"]), recorded: (k) => k === "created:/dev/hugepages2M" }), ["created:/dev/hugepages2M"]);
    assert.deepEqual(planCreatedKeys({ desired: new Map([["sysctl:vm.swappiness", "10"]]), files: files([]), recorded: none }), []);
  });

  it("removes released ones only when empty, after the restores", function () {
    assert.deepEqual(pruneOps(["sysctl:vm.swappiness", "created:/dev/hugepages2M", "created:/etc/fstab"]), [
      { op: "prune", path: "/dev/hugepages2M" },
      { op: "prune", path: "/etc/fstab" },
    ]);
  });
});
