// Block settings by glob (`nvme*`, `vd?`): one key owns every matching device.
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseHostFacts } from "../../provider/host/facts";
import { matchDevices } from "../../provider/host/knobs/block";
import { resolveKnob } from "../../provider/host/knobs/catalogue";
import type { Knob } from "../../provider/host/knobs/types";
import { FIXTURE_DIR } from "../fixtures/facts/run-script";

const hv01 = parseHostFacts(readFileSync(join(FIXTURE_DIR, "hv01-2socket.txt"), "utf8"));
const knob = (key: string) => resolveKnob(key) as Knob;

describe("block knobs by glob", () => {
  it("matches kernel names like the shell does", () => {
    assert.deepEqual(matchDevices("nvme*", ["nvme0n1", "nvme1n1", "sda"]), ["nvme0n1", "nvme1n1"]);
    assert.deepEqual(matchDevices("sd?", ["sda", "sdb", "sda1", "nvme0n1"]), ["sda", "sdb"]);
    assert.deepEqual(matchDevices("vd*", ["sda"]), []);
  });

  it("refuses bracket globs and paths", () => {
    assert.deepEqual(resolveKnob("block:sd[ab]:scheduler"), { problem: `"sd[ab]" is not a block device name; expected a kernel name such as sda, vda or nvme0n1 (no '/' or '..')` });
    assert.deepEqual(resolveKnob("block:*/..:scheduler"), { problem: `"*/.." is not a block device name; expected a kernel name such as sda, vda or nvme0n1 (no '/' or '..')` });
  });

  it("validates every matching device, and a glob that matches nothing", () => {
    const ctx = { facts: hv01, desired: new Map<string, string>(), allowManagementInterface: false };
    const names = hv01.blockDevices.map((d) => d.name);
    const nvme = matchDevices("nvme*", names);
    assert.ok(nvme.length > 0);
    assert.deepEqual(knob("block:nvme*:scheduler").validate("none", ctx), []);
    assert.deepEqual(knob("block:xvd*:read_ahead_kb").validate("4096", ctx), [`"xvd*" matches no block device on this host; it has ${names.join(", ")}`]);
  });

  it("reads one value when all agree, mixed(...) otherwise, and restores per device", () => {
    const k = knob("block:vd*:scheduler");
    assert.deepEqual(k.reads, ["/sys/block/vd*/queue/scheduler"]);
    const same = new Map([["/sys/block/vda/queue/scheduler", "[mq-deadline] none"], ["/sys/block/vdb/queue/scheduler", "[mq-deadline] none"]]);
    assert.equal(k.current(same), "mq-deadline");
    const mixed = new Map([["/sys/block/vda/queue/scheduler", "[none] mq-deadline"], ["/sys/block/vdb/queue/scheduler", "[mq-deadline] none"], ["/sys/block/sda/queue/scheduler", "[bfq] none"]]);
    assert.equal(k.current(mixed), "mixed(vda=none,vdb=mq-deadline)");
    assert.deepEqual(k.restore("mixed(vda=none,vdb=mq-deadline)", "bfq"), [
      { op: "write", path: "/sys/block/vda/queue/scheduler", value: "none" },
      { op: "write", path: "/sys/block/vdb/queue/scheduler", value: "mq-deadline" },
    ]);
    assert.deepEqual(k.apply("bfq"), [{ op: "write", path: "/sys/block/vd*/queue/scheduler", value: "bfq" }]);
  });
});
