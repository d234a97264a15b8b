// VhostNetwork's host side on a real kernel (the shared test VM): without
// vhost_net the preflight refuses a vhost NIC for a KVM domain; the module key
// VhostNetwork's TunedHost sets loads it, persists it in modules-load.d and
// makes /dev/vhost-net appear, after which the same preflight passes; restore
// unloads it and removes the file. Read back through an independent ssh.
import { strict as assert } from "node:assert";
import { readHostFacts } from "../../provider/host/read-facts";
import { applyHostTuning, restoreHostTuning } from "../../provider/host/tuning";
import { planVhostInterface } from "../../provider/plan/vhost-net";
import { sharedTestVm } from "../support/shared-vm";
import type { TestVm } from "../support/vm";

const conn = (vm: TestVm) => ({ host: vm.host, port: vm.port, user: "root", privateKey: vm.privateKey, hostKey: vm.hostKey });
const TAG = "vm-vhost";

describe("VhostNetwork host side on a real kernel: vhost_net and /dev/vhost-net", function () {
  this.timeout(300_000);
  let vm: TestVm;
  let wasLoaded: boolean;
  const sh = async (cmd: string) => (await vm.ssh(cmd)).stdout;
  const plan = async () => planVhostInterface(await readHostFacts(conn(vm)), { name: "db1-net", guestVcpus: 2, type: "direct", source: "eth0" });

  before(async () => {
    vm = await sharedTestVm();
    wasLoaded = (await sh("grep -c '^vhost_net ' /proc/modules; true")).trim() === "1";
    // Start from a host without vhost_net; the shared VM is put back as found in after().
    if (wasLoaded) assert.equal((await vm.ssh("rmmod vhost_net")).code, 0);
  });
  after(async () => {
    if (wasLoaded) await vm.ssh("modprobe vhost_net");
  });

  it("refuses a vhost NIC while /dev/vhost-net is missing, naming the fix", async () => {
    assert.equal(await sh("test -e /dev/vhost-net && echo present || echo missing"), "missing\n");
    const r = await plan();
    assert.ok(!r.ok);
    assert.match(r.reasons[0], /^\/dev\/vhost-net is missing on \S+; load vhost_net \(TunedHost modules: \["vhost_net"\]\)\. kvmtune never falls back to userspace virtio$/);
  });

  it("loads vhost_net, persists it, and the preflight passes; restore unloads it and removes the file", async () => {
    const applied = await applyHostTuning(conn(vm), { settings: { "module:vhost_net": "loaded" }, tag: TAG, allowManagementInterface: false, originals: {}, previousKeys: [] });
    assert.deepEqual(applied.changes.map((c) => `${c.key}: ${c.from} -> ${c.to} (${c.disruption})`), ["module:vhost_net: unloaded -> loaded (live)"]);
    assert.equal(await sh("test -c /dev/vhost-net && grep -c '^vhost_net ' /proc/modules"), "1\n");
    assert.equal(await sh(`cat /etc/modules-load.d/kvmtune-${TAG}.conf`), `# Managed by kvmtune (${TAG}). Changes here are overwritten; change the Pulumi program instead.\nvhost_net\n`);
    const r = await plan();
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.plan.part.driver, { name: "vhost", queues: 2 });
    await restoreHostTuning(conn(vm), applied.originals, TAG);
    assert.equal(await sh("test -e /dev/vhost-net; echo $?; grep -c '^vhost_net ' /proc/modules; ls /etc/modules-load.d"), "1\n0\n");
  });
});
