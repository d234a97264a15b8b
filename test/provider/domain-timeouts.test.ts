// customTimeouts of LibvirtDomain and GuestDevice against a real libvirtd (test/support/libvirtd.ts),
// over kvmtune's own SSH transport: a tiny bound really stops a command made slow on the host.
// The read is made slow by turning kvmtune's journal into a FIFO no one writes (the read's
// `cat` of it blocks); the write by the bed's slow virsh (a `define` sleeps 4 s).
import { strict as assert } from "node:assert";
import * as domain from "../../provider/resources/libvirt-domain-impl";
import * as device from "../../provider/resources/guest-device-impl";
import { mustVirsh } from "../support/libvirtd-domain";
import { startLibvirtd, type Libvirtd } from "../support/libvirtd";

describe("customTimeouts bound LibvirtDomain's and GuestDevice's commands on a real libvirtd", function () {
  this.timeout(180_000);
  let lv: Libvirtd;
  let connection: Record<string, unknown>;
  let target: string;
  const name = "kvmt-slow";
  const JOURNAL = "/var/lib/kvmtune/journal";

  before(async () => {
    lv = await startLibvirtd({ slowVirsh: true });
    connection = { host: lv.host, port: lv.port, user: "root", privateKey: lv.privateKey, hostKey: lv.hostKey };
    target = `127.0.0.1:${lv.port}`;
  });
  after(async () => {
    await lv?.stop();
  });

  it("a 1 s read bound stops a read that hangs on the host, naming the step, the host and the bound (LibvirtDomain and GuestDevice)", async () => {
    // Nothing ever writes to the FIFO: `cat` of it blocks in open, so the read command never ends by itself.
    await lv.ssh(`mkdir -p /var/lib/kvmtune && rm -f ${JOURNAL} && mkfifo -m 600 ${JOURNAL}`);
    try {
      const t0 = Date.now();
      await assert.rejects(domain.read("id", { connection, name, mode: "define", timeouts: { read: "1s" } } as never), { name: "TransportError", message: `command on ${target} (read domain) did not finish within 1 s` });
      await assert.rejects(device.read("id", { connection, domain: name, timeouts: { read: "1s" } } as never), { name: "TransportError", message: `command on ${target} (read domain) did not finish within 1 s` });
      // Two connections and two 1 s bounds, not the transport's 10 minutes.
      assert.ok(Date.now() - t0 < 30_000, `${Date.now() - t0} ms`);
    } finally {
      // Open it for writing once: the blocked readers get EOF and exit; then it goes.
      await lv.ssh(`timeout 5 sh -c ': > ${JOURNAL}'; rm -f ${JOURNAL}`);
    }
  });

  it("a 3 s update bound stops a write whose define takes 4 s, saying the domain may be partly changed; a second update converges", async () => {
    const inputs = { connection, name, mode: "define" as const, domain: { memoryMiB: 64, vcpus: 2, type: "qemu" as const }, parts: { cputune: { vcpupin: [{ vcpu: 0, cpuset: "0" }, { vcpu: 1, cpuset: "1" }] } } };
    const created = await domain.create(inputs as never);
    const news = { ...inputs, parts: { cputune: { vcpupin: [{ vcpu: 0, cpuset: "1" }, { vcpu: 1, cpuset: "0" }] } }, timeouts: { update: "3s" } };
    await lv.ssh("rm -f /run/kvmt-virsh-started; touch /run/kvmt-slow-virsh");
    try {
      const t0 = Date.now();
      await assert.rejects(domain.update(created.id, created.outs, news as never), {
        name: "WriteTimeoutError",
        message: `command on ${target} (write domain (define)) did not finish within 3 s; domain '${name}' may be partly changed (run again to converge)`,
      });
      const ms = Date.now() - t0;
      assert.ok(ms < 20_000, `${ms} ms`);
      // The slow define really was running when the bound cut it.
      assert.equal((await lv.ssh("ls /run/kvmt-virsh-started")).stdout, "/run/kvmt-virsh-started\n");
    } finally {
      await lv.ssh("rm -f /run/kvmt-slow-virsh");
    }
    // The cut command finishes on the host by itself (nothing kills it): wait for it, then converge.
    await new Promise((r) => setTimeout(r, 5000));
    const again = await domain.update(created.id, created.outs, { ...news, timeouts: { update: "2m" } } as never);
    assert.deepEqual(again.outs.parts, news.parts);
    assert.match(await mustVirsh(lv, ["dumpxml", "--inactive", name]), /<vcpupin vcpu='0' cpuset='1'\/>\n {4}<vcpupin vcpu='1' cpuset='0'\/>/);
    await domain.remove(created.id, again.outs as never);
    assert.equal(await mustVirsh(lv, ["list", "--all", "--name"]), "\n");
  });
});
