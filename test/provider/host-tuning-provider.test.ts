// HostTuning's serialised provider, driven through @pulumi/pulumi's own
// dynamic-provider server (plain node, no ts-node: it loads kvmtune from the
// built dist/ by package name, as in a user's program) against a real kernel.
import { strict as assert } from "node:assert";
import { hostTuningProvider } from "../../provider/resources/host-tuning";
import { dynamicUrn, PROVIDER_KEY, UNKNOWN, serializeDynamicProvider, startDynamicProviderServer, withProvider, withoutProvider, type DynamicProviderClient, type DynamicProviderError } from "../support/provider-server";
import { startTestVm, type TestVm } from "../support/vm";

describe("HostTuning through the SDK's dynamic-provider server (real-kernel VM)", function () {
  this.timeout(300_000);
  let vm: TestVm;
  let server: DynamicProviderClient;
  let text: string;
  const urn = dynamicUrn("hv-test");
  let connection: Record<string, unknown>;

  before(async () => {
    [vm, server, text] = await Promise.all([startTestVm({ name: "hv-provider" }), startDynamicProviderServer(), serializeDynamicProvider(hostTuningProvider)]);
    connection = { host: vm.host, port: vm.port, user: "root", privateKey: vm.privateKey, hostKey: vm.hostKey };
  });
  after(async () => {
    await server?.stop();
    await vm?.stop();
  });

  it("serialises to a bare require of kvmtune: no repo paths, no copied code, no secrets", () => {
    assert.ok(text.includes('require("kvmtune/dist/provider/resources/host-tuning-impl")'));
    assert.ok(!text.includes("/work/"), "no absolute repo paths");
    assert.ok(!text.includes("PRIVATE KEY"));
  });

  it("checks, creates, reads drift, converges, and restores originals on delete", async () => {
    const news = withProvider({ connection, tag: "hv-test", settings: { live: { "sysctl:vm.swappiness": "10", "thp:enabled": "madvise", "block:vdb:scheduler": "deadline" }, "guest-restart": {}, "host-reboot": {} } }, text);
    const checked = await server.check(urn, {}, news);
    assert.deepEqual(checked.failures, []);
    // cfq/deadline names are normalised in check, so state holds the canonical value.
    assert.deepEqual((checked.inputs.settings as { live: Record<string, string> }).live, { "block:vdb:scheduler": "mq-deadline", "sysctl:vm.swappiness": "10", "thp:enabled": "madvise" });

    const created = await server.create(urn, checked.inputs);
    assert.equal(created.id, `127.0.0.1:${vm.port}/hv-test`);
    assert.deepEqual(created.outs.originals, { "block:vdb:scheduler": "none", "sysctl:vm.swappiness": "60", "thp:enabled": "never" });
    assert.equal(created.outs[PROVIDER_KEY], text);
    assert.equal((await vm.ssh("cat /proc/sys/vm/swappiness /sys/block/vdb/queue/scheduler")).stdout, "10\n[mq-deadline] none\n");

    // Nothing drifted: read returns the desired values as inputs.
    let read = await server.read(created.id, urn, created.outs);
    assert.deepEqual((read.inputs!.settings as { live: Record<string, string> }).live, { "block:vdb:scheduler": "mq-deadline", "sysctl:vm.swappiness": "10", "thp:enabled": "madvise" });
    assert.equal((await server.diff(created.id, urn, read.props, checked.inputs)).changes, "none");

    // Someone changes swappiness by hand: read names exactly that key.
    await vm.ssh("echo 33 > /proc/sys/vm/swappiness");
    read = await server.read(created.id, urn, created.outs);
    assert.deepEqual((read.inputs!.settings as { live: Record<string, string> }).live, { "block:vdb:scheduler": "mq-deadline", "sysctl:vm.swappiness": "33", "thp:enabled": "madvise" });
    const drift = await server.diff(created.id, urn, { ...read.props, settings: read.inputs!.settings }, checked.inputs);
    assert.equal(drift.changes, "some");

    // Update converges and keeps the first originals (60, not 33).
    const updated = await server.update(created.id, urn, { ...read.props, settings: read.inputs!.settings }, checked.inputs);
    assert.deepEqual(updated.outs.originals, created.outs.originals);
    assert.equal((await vm.ssh("cat /proc/sys/vm/swappiness")).stdout, "10\n");

    await server.delete(created.id, urn, updated.outs);
    assert.equal((await vm.ssh("cat /proc/sys/vm/swappiness /sys/block/vdb/queue/scheduler /sys/kernel/mm/transparent_hugepage/enabled; ls /etc/sysctl.d /etc/tmpfiles.d /etc/udev/rules.d")).stdout, "60\n[none] mq-deadline \nalways madvise [never]\n/etc/sysctl.d:\n\n/etc/tmpfiles.d:\n\n/etc/udev/rules.d:\n");
  });

  it("accepts a connection still unknown at preview, and still checks the settings", async () => {
    const news = withProvider({ connection: { host: UNKNOWN, port: 22, privateKey: UNKNOWN, hostKey: UNKNOWN }, tag: "hv-test", settings: { live: { "sysctl:vm.swappiness": "10", "sysctl:kernel.modprobe": "/tmp/x" }, "guest-restart": {}, "host-reboot": {} } }, text);
    const checked = await server.check(urn, {}, news);
    assert.deepEqual(checked.failures.map((f) => f.property), ["settings"]);
  });

  it("reports every bad setting in check, with field, value and what is accepted", async () => {
    const news = withProvider({ connection: { ...connection, port: 70000 }, tag: "hv-test", settings: { live: { "sysctl:kernel.core_pattern": "|/tmp/x", "block:../sda:scheduler": "none", "thp:enabled": "always\n", "sysctl:vm.swappiness": "$(reboot)x\n" }, "guest-restart": {}, "host-reboot": { "cmdline:isolcpus": "1 init=/bin/sh" } } }, text);
    const checked = await server.check(urn, {}, news);
    assert.deepEqual(checked.failures, [
      { property: "connection", reason: "connection.port: 70000 is not accepted; expected an integer from 1 to 65535" },
      { property: "settings", reason: `settings["thp:enabled"]: "always\\n" is not accepted; expected a THP mode such as always, madvise or never (one line of printable text)` },
      { property: "settings", reason: `settings["sysctl:kernel.core_pattern"]: "kernel.core_pattern" is not on kvmtune's sysctl allowlist; accepted: vm.*, net.{core,ipv4,ipv6,bridge,netfilter,unix}.*, kernel.numa_balancing/sched_*/watchdog/... and fs.aio-max-nr/file-max/...` },
      { property: "settings", reason: `settings["sysctl:vm.swappiness"]: "$(reboot)x\\n" is not accepted; expected a sysctl value (one line of printable text)` },
      { property: "settings", reason: `settings["block:../sda:scheduler"]: "../sda" is not a block device name; expected a kernel name such as sda, vda or nvme0n1 (no '/' or '..')` },
      { property: "settings", reason: `settings["cmdline:isolcpus"]: "1 init=/bin/sh" is not accepted; expected one kernel argument value (letters, digits, ',', '-', '.', ':'; no spaces, quotes or '=')` },
    ]);
  });

  it("refuses a bad owner, takeOver or timeout in check, naming the field and what is accepted", async () => {
    const news = withProvider({ connection, tag: "hv-test", settings: { live: { "sysctl:vm.swappiness": "10" }, "guest-restart": {}, "host-reboot": {} }, owner: { stack: "", resource: "hv" }, takeOver: "some", timeouts: { update: "5x" } }, text);
    const checked = await server.check(urn, {}, news);
    assert.deepEqual(checked.failures, [
      { property: "owner", reason: '{"resource":"hv","stack":""} is not accepted; expected { stack, resource } (non-empty names without control characters)' },
      { property: "takeOver", reason: '"some" is not accepted; expected a list of setting keys (as the ownership error names them) or "all"' },
      { property: "timeouts", reason: 'timeouts.update: "5x" is not accepted; expected a duration of at least 1s such as "90s", "5m" or "1h30m"' },
    ]);
  });

  it("refuses host-specific bad values at create with nothing written, and keeps the secret out of the error", async () => {
    const before = (await vm.ssh("cat /proc/sys/vm/swappiness; ls /etc/sysctl.d")).stdout;
    const news = withProvider({ connection, tag: "hv-bad", settings: { live: { "sysctl:vm.swappiness": "5", "thp:enabled": "sometimes", "hugepages:2M:node7": "4" }, "guest-restart": {}, "host-reboot": {} } }, text);
    await assert.rejects(server.create(urn, news), (err: DynamicProviderError) => {
      assert.equal(
        err.message,
        `invalid settings for 127.0.0.1:${vm.port} (nothing was changed):\n  - thp:enabled: "sometimes" is not offered by this host; it offers always, madvise, never\n  - hugepages:2M:node7: NUMA node 7 does not exist on this host; it has node(s) 0, 1`,
      );
      assert.ok(!err.message.includes("PRIVATE KEY") && !server.output().includes("PRIVATE KEY"));
      return true;
    });
    assert.equal((await vm.ssh("cat /proc/sys/vm/swappiness; ls /etc/sysctl.d")).stdout, before);
    assert.deepEqual(withoutProvider({}), {});
  });
});
