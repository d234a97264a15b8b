// virsh.ts against a real libvirtd (test/support/libvirtd.ts) over kvmtune's own
// SSH transport, checked independently with the bed's virsh and qemu's threads;
// and LibvirtDomain's CRUD in-process, counting connections and commands per
// operation (the transport rules: one connection, one read, one write).
import { strict as assert } from "node:assert";
import { buildMinimalDomain } from "../../provider/libvirt/domain-builder";
import { defineDomain, destroyAndUndefine, pinLive, readDomainState, setAutostart, startDomain, VirshStepError, writeDomain } from "../../provider/libvirt/virsh";
import * as impl from "../../provider/resources/libvirt-domain-impl";
import { resetTransportCounts, transportCounts, withSession } from "../../provider/transport";
import { startLibvirtd, type Libvirtd } from "../support/libvirtd";
import { createDiskImage, mustVirsh, qemuThreads, vcpuAffinity } from "../support/libvirtd-domain";

describe("virsh operations and LibvirtDomain CRUD on a real libvirtd", function () {
  this.timeout(120_000);
  let lv: Libvirtd;
  let connection: Record<string, unknown>;
  let target: string;
  // The bed's qemu-thread helpers take [A-Za-z0-9_.-] only; '+' is proven in its own test below.
  const name = "kvmt.v1_a-b";

  before(async () => {
    lv = await startLibvirtd();
    connection = { host: lv.host, port: lv.port, user: "root", privateKey: lv.privateKey, hostKey: lv.hostKey };
    target = `127.0.0.1:${lv.port}`;
  });
  after(async () => {
    await lv?.stop();
  });

  it("reads a missing domain in one command: not there, with the host's CPUs", async () => {
    resetTransportCounts();
    const st = await withSession(connection, (s) => readDomainState(s, name));
    assert.deepEqual(st, { exists: false, state: null, active: false, autostart: null, hostCpus: "0-1", inactiveXml: null, liveXml: null, livePins: null, journal: undefined, cpusetCgroup: false, observed: null });
    assert.deepEqual(transportCounts(target), { connections: 1, commands: 1 });
  });

  it("refuses a hostile name before anything reaches the host", async () => {
    resetTransportCounts();
    await withSession(connection, async (s) => {
      await assert.rejects(readDomainState(s, "x';reboot;'"), { message: `name: "x';reboot;'" is not accepted as a domain name; expected 1 to 64 characters: a letter or digit, then letters, digits, '_', '.', '+' or '-' (no spaces, '/', '<', '&' or quotes)` });
      await assert.rejects(writeDomain(s, "a/../b", { remove: true }), /name: "a\/\.\.\/b" is not accepted as a domain name/);
    });
    assert.deepEqual(transportCounts(target), { connections: 1, commands: 0 });
  });

  it("defines (validated), starts, pins live, sets autostart and reads it all back", async () => {
    await createDiskImage(lv, "kvmt-v1.raw", 8);
    const xml = buildMinimalDomain({ name, memoryMiB: 64, vcpus: 2, type: "qemu", disks: [{ path: "/var/lib/libvirt/images/kvmt-v1.raw" }] }, { iothreads: { count: 1 } });
    await withSession(connection, async (s) => {
      assert.deepEqual(await defineDomain(s, name, xml), ["define"]);
      assert.deepEqual(await startDomain(s, name), ["start"]);
      assert.doesNotMatch(await mustVirsh(lv, ["dumpxml", "--inactive", name]), /<iothreadids>/);
      assert.deepEqual(await pinLive(s, name, { vcpupin: [{ vcpu: 0, cpuset: "1" }, { vcpu: 1, cpuset: "0" }], emulatorpin: { cpuset: "1" }, iothreadpin: [{ iothread: 1, cpuset: "0" }] }),
        ["vcpupin 0", "vcpupin 1", "emulatorpin", "iothreadpin 1"]);
      assert.deepEqual(await setAutostart(s, name, true), ["autostart"]);
    });
    assert.deepEqual(await vcpuAffinity(lv, name), { 0: "1", 1: "0" });
    assert.equal((await qemuThreads(lv, name))[0].cpus, "1");
    const st = await withSession(connection, (s) => readDomainState(s, name, { placement: true }));
    assert.equal(st.state, "running");
    // Device reads skip the measurement: same command, no placement step.
    assert.equal((await withSession(connection, (s) => readDomainState(s, name))).observed, null);
    // The same read measured the threads: the bed has no cgroups, so only affinities.
    assert.deepEqual({ vcpus: st.observed?.vcpus.map((v) => [v.vcpu, v.allowedCpus]), iothreads: st.observed?.iothreads.map((v) => [v.iothread, v.allowedCpus]), emulator: st.observed?.emulator.allowedCpus, cpuset: st.cpusetCgroup },
      { vcpus: [[0, "1"], [1, "0"]], iothreads: [[1, "0"]], emulator: "1", cpuset: false });
    assert.equal(st.active, true);
    assert.equal(st.autostart, true);
    assert.equal(st.inactiveXml, await mustVirsh(lv, ["-q", "dumpxml", "--inactive", name]));
    assert.match(st.inactiveXml!, /<vcpupin vcpu='0' cpuset='1'\/>\n {4}<vcpupin vcpu='1' cpuset='0'\/>\n {4}<emulatorpin cpuset='1'\/>\n {4}<iothreadpin iothread='1' cpuset='0'\/>/);
    // Why LibvirtDomain pins with --live only after its own define: --config also makes libvirt write <iothreadids>.
    assert.match(st.inactiveXml!, /<iothreads>1<\/iothreads>\n {2}<iothreadids>\n {4}<iothread id='1'\/>\n {2}<\/iothreadids>/);
    assert.match(st.liveXml!, new RegExp(`^<domain type='qemu' id='\\d+'>\\n  <name>${name.replace(/[.+]/g, "\\$&")}</name>`));
    assert.deepEqual(st.livePins, { vcpupin: [{ vcpu: 0, cpuset: "1" }, { vcpu: 1, cpuset: "0" }], emulatorpin: "1", iothreadpin: [{ iothread: 1, cpuset: "0" }] });
    assert.equal((await qemuThreads(lv, name)).find((t) => t.name === "IO iothread1")!.cpus, "0");
  });

  it("stops at the first failed step, naming it, libvirt's message and what was done before", async () => {
    await withSession(connection, async (s) => {
      await assert.rejects(writeDomain(s, name, { autostart: false, pins: [{ kind: "vcpupin", id: 5, cpuset: "0", config: true }, { kind: "emulatorpin", cpuset: "0", config: true }] }), (e: VirshStepError) => {
        assert.ok(e instanceof VirshStepError);
        assert.equal(e.message, `virsh vcpupin 5 of '${name}' on ${target} failed: invalid argument: vcpu 5 is out of range of persistent cpu count 2`);
        assert.deepEqual([e.step, e.done], ["vcpupin 5", ["autostart"]]);
        return true;
      });
      await assert.rejects(defineDomain(s, name, "<domain type='qemu'><name>kvmt.v1_a-b</name><bogus/></domain>"),
        { message: `virsh define of '${name}' on ${target} failed: Failed to define domain from /dev/stdin: XML document failed to validate against schema: Unable to validate doc against /usr/share/libvirt/schemas/domain.rng: Element domain has extra content: bogus` });
    });
    // the emulatorpin after the failed step never ran
    assert.equal((await qemuThreads(lv, name))[0].cpus, "1");
    assert.equal(await mustVirsh(lv, ["dominfo", name]).then((o) => /Autostart:\s+(\S+)/.exec(o)![1]), "disable");
  });

  it("passes every accepted name character as data: define, read and undefine 'kvmt+x.y_z-0'", async () => {
    const odd = "kvmt+x.y_z-0";
    await withSession(connection, async (s) => {
      await defineDomain(s, odd, buildMinimalDomain({ name: odd, memoryMiB: 64, vcpus: 1, type: "qemu" }));
      const st = await readDomainState(s, odd);
      assert.deepEqual([st.exists, st.state, st.active], [true, "shut off", false]);
      assert.match(st.inactiveXml!, /<name>kvmt\+x\.y_z-0<\/name>/);
      assert.deepEqual(await destroyAndUndefine(s, odd), ["undefine"]);
    });
    assert.equal(await mustVirsh(lv, ["list", "--all", "--name"]), `${name}\n\n`);
  });

  it("destroys and undefines, keeping the disk image; a second time is a no-op", async () => {
    await withSession(connection, async (s) => {
      assert.deepEqual(await destroyAndUndefine(s, name), ["destroy", "undefine"]);
      assert.deepEqual(await destroyAndUndefine(s, name), []);
    });
    assert.equal(await mustVirsh(lv, ["list", "--all", "--name"]), "\n");
    assert.equal((await lv.ssh("ls /var/lib/libvirt/images")).stdout, "kvmt-v1.raw\n");
  });

  it("uses one connection per operation: create 3 commands (read, write, read-back), read 1, no-op update 1, delete 2", async () => {
    const inputs = {
      connection, name: "kvmt-count", mode: "define" as const, start: true,
      domain: { memoryMiB: 64, vcpus: 2, type: "qemu" as const },
      parts: { cputune: { vcpupin: [{ vcpu: 0, cpuset: "0" }, { vcpu: 1, cpuset: "1" }] } },
    };
    const counts: Record<string, unknown> = {};
    const timed = async <T>(op: string, fn: () => Promise<T>): Promise<T> => {
      resetTransportCounts();
      const t0 = Date.now();
      const r = await fn();
      counts[op] = { ...transportCounts(target), ms: Date.now() - t0 };
      return r;
    };
    const created = await timed("create", () => impl.create(inputs));
    const read = await timed("read", () => impl.read(created.id!, created.outs));
    assert.deepEqual(read.props!.drift, []);
    const updated = await timed("update", () => impl.update(created.id!, read.props as impl.LibvirtDomainOutputs, inputs));
    await timed("delete", () => impl.remove(created.id!, updated.outs as impl.LibvirtDomainOutputs));
    const strip = (c: unknown) => ({ connections: (c as { connections: number }).connections, commands: (c as { commands: number }).commands });
    assert.deepEqual(Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, strip(v)])), {
      create: { connections: 1, commands: 3 },
      read: { connections: 1, commands: 1 },
      update: { connections: 1, commands: 1 },
      delete: { connections: 1, commands: 2 },
    });
    console.log(`      timings (ms): ${Object.entries(counts).map(([k, v]) => `${k} ${(v as { ms: number }).ms}`).join(", ")}`);
  });
});
