// The opt-in reboot, through the SDK's dynamic-provider server, on a real kernel
// that really reboots (qemu without -no-reboot).
import { strict as assert } from "node:assert";
import { hostRebootProvider } from "../../provider/resources/host-reboot";
import { dynamicUrn, serializeDynamicProvider, startDynamicProviderServer, withProvider, type DynamicProviderClient } from "../support/provider-server";
import { startTestVm, type TestVm } from "../support/vm";

describe("HostReboot (one-shot, opt-in) on a real kernel", function () {
  this.timeout(600_000);
  let vm: TestVm;
  let server: DynamicProviderClient;
  let text: string;
  before(async () => {
    [vm, server, text] = await Promise.all([startTestVm({ name: "hv-reboot", allowReboot: true }), startDynamicProviderServer(), serializeDynamicProvider(hostRebootProvider)]);
  });
  after(async () => {
    await server?.stop();
    await vm?.stop();
  });

  it("does nothing while nothing is pending, reboots once when keys are pending, and waits for the new boot", async () => {
    const urn = dynamicUrn("hv-reboot");
    const connection = { host: vm.host, port: vm.port, privateKey: vm.privateKey, hostKey: vm.hostKey };
    const bootBefore = (await vm.ssh("cat /proc/sys/kernel/random/boot_id")).stdout.trim();
    const idle = await server.create(urn, withProvider({ connection, pending: [], timeoutSeconds: 300 }, text));
    assert.equal(idle.outs.rebooted, false);
    assert.equal((await vm.ssh("cat /proc/sys/kernel/random/boot_id")).stdout.trim(), bootBefore);

    const news = withProvider({ connection, pending: ["cmdline:isolcpus=1"], timeoutSeconds: 300 }, text);
    assert.equal((await server.diff(idle.id, urn, idle.outs, news)).changes, "some");
    const done = await server.update(idle.id, urn, idle.outs, news);
    assert.equal(done.outs.rebooted, true);
    const bootAfter = (await vm.ssh("cat /proc/sys/kernel/random/boot_id")).stdout.trim();
    assert.notEqual(bootAfter, bootBefore);
    assert.equal(done.outs.bootId, bootAfter);
    assert.match(String(done.outs.cmdline), /kvmtune\.name=hv-reboot/);
    // Same pending keys again: no diff, so no reboot loop when the boot loader could not apply them.
    assert.equal((await server.diff(idle.id, urn, done.outs, news)).changes, "none");
    // Applied by the reboot, the list reads back empty: not a change, so a refresh-preview stays clean.
    assert.equal((await server.diff(idle.id, urn, done.outs, withProvider({ connection, pending: [], timeoutSeconds: 300 }, text))).changes, "none");
    // Still pending after the reboot (a subset): no second reboot.
    const two = await server.update(idle.id, urn, idle.outs, withProvider({ connection, pending: ["cmdline:isolcpus=1", "cmdline:nohz_full=1"], timeoutSeconds: 300 }, text));
    assert.equal((await server.diff(idle.id, urn, two.outs, withProvider({ connection, pending: ["cmdline:nohz_full=1"], timeoutSeconds: 300 }, text))).changes, "none");
    // A timeout change alone never reboots.
    assert.equal((await server.diff(idle.id, urn, done.outs, withProvider({ connection, pending: ["cmdline:isolcpus=1"], timeoutSeconds: 900 }, text))).changes, "none");
    // A new value for the same key is a new reboot.
    assert.equal((await server.diff(idle.id, urn, done.outs, withProvider({ connection, pending: ["cmdline:isolcpus=2"], timeoutSeconds: 300 }, text))).changes, "some");
  });
});
