// NumaPinnedGuest wiring under Pulumi mocks, planning from a fixture host's facts.
import { strict as assert } from "node:assert";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parseHostFacts } from "../../provider/host/facts";
import { inputProblems } from "../../provider/libvirt/virsh-inputs";
import { FIXTURE_DIR } from "../fixtures/facts/run-script";
import { withoutIsolation } from "../fixtures/topologies/named";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC4R9z/TIOObTKEO64Ptvl8pVbxNHFg9yEu4dEiJJdIx";
// Before its isolcpus (2-3,10-11), which would leave guests 4 CPUs: isolation has its own tests.
const facts = withoutIsolation(parseHostFacts(readFileSync(join(FIXTURE_DIR, "hv01-2socket.txt"), "utf8")));
/** Another resource of the user's program; under the mocks its output is the value it was given. */
class Made extends pulumi.CustomResource {
  declare readonly value: pulumi.Output<string>;
  constructor(name: string, value: unknown) {
    super("test:index:Made", name, { value });
  }
}
const registered: { type: string; name: string; inputs: Record<string, any> }[] = [];
const unwrap = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply((v) => resolve(v)));

describe("NumaPinnedGuest component (mocks)", function () {
  let kvmtune: typeof import("../../index");
  before(async () => {
    await pulumi.runtime.setMocks(
      {
        newResource: (a) => {
          registered.push({ type: a.type, name: a.name, inputs: a.inputs });
          return { id: `${a.name}-id`, state: { ...a.inputs, xml: "<domain/>", restartRequired: false, restartReasons: [], drift: [] } };
        },
        call: () => ({}),
      },
      "proj",
      "stack",
      false,
    );
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    kvmtune = require("../../index");
  });
  after(() => {
    (require("@pulumi/pulumi/runtime/debuggable") as { leakedPromises: () => unknown }).leakedPromises();
  });

  it("plans two guests on one host without sharing CPUs, and wires the plan into LibvirtDomain children", async () => {
    const svgPath = join(tmpdir(), `kvmt-placement-${process.pid}.svg`);
    const connection = { host: "10.1.0.1", privateKey: pulumi.secret("k"), hostKey: HOST_KEY };
    const db = new kvmtune.NumaPinnedGuest("db1", { host: connection, facts, vcpus: 4, memoryMiB: 2048, hugepages: "2M", emulatorPolicy: "isolate", iothreads: 1, osVariant: "debian12", disks: [{ path: "/var/lib/libvirt/images/db1.qcow2" }] });
    const web = new kvmtune.NumaPinnedGuest("web1", { host: connection, facts, vcpus: 2, memoryMiB: 1024, threadPolicy: "isolate", placementSvgPath: svgPath });
    const [p1, p2] = await Promise.all([unwrap(db.plan), unwrap(web.plan)]);
    const taken = new Set(p1.reservedCpus);
    assert.deepEqual(p2.reservedCpus.filter((c) => taken.has(c)), []);
    await new Promise((r) => setTimeout(r, 100));
    const child = registered.find((r) => r.name === "db1-domain")!;
    assert.equal(child.type, "pulumi-nodejs:dynamic/kvmtune:LibvirtDomain");
    assert.equal(child.inputs.name, "db1");
    assert.equal(child.inputs.mode, "define");
    assert.equal(p1.cells.length, 1);
    assert.deepEqual(child.inputs.domain, { memoryMiB: 2048, vcpus: 4, osVariant: "debian12", disks: [{ path: "/var/lib/libvirt/images/db1.qcow2" }] });
    assert.deepEqual(child.inputs.parts.cputune.vcpupin, p1.vcpuPins.map((cpu, vcpu) => ({ vcpu, cpuset: String(cpu) })));
    assert.deepEqual(child.inputs.parts.memoryBacking.hugepages, [{ size: 2048, unit: "KiB" }]);
    assert.equal(child.inputs.start, false);
    assert.deepEqual(await unwrap(db.hugepagesNeeded), p1.hugepages.map((h) => ({ node: h.node, size: "2M", pages: h.pages })));
    assert.ok(existsSync(svgPath));
    const svg = readFileSync(svgPath, "utf8");
    assert.ok(svg.includes("db1 v0") && svg.includes("web1 v0"), "the map shows every guest planned on the host");
    rmSync(svgPath);
  });

  it("hands its customTimeouts to LibvirtDomain, which bounds each remote command with them; none without", async () => {
    const connection = { host: "10.1.0.4", privateKey: pulumi.secret("k"), hostKey: HOST_KEY };
    new kvmtune.NumaPinnedGuest("to1", { host: connection, facts, vcpus: 2, memoryMiB: 512 }, { customTimeouts: { create: "5m", update: "4m", delete: "90s" } });
    new kvmtune.NumaPinnedGuest("to2", { host: connection, facts, vcpus: 2, memoryMiB: 512 });
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(registered.find((r) => r.name === "to1-domain")!.inputs.timeouts, { create: "5m", update: "4m", delete: "90s" });
    assert.equal("timeouts" in registered.find((r) => r.name === "to2-domain")!.inputs, false);
  });

  it("hands a placement that cannot fit to the domain's check (so preview fails there) instead of throwing from an output", async () => {
    new kvmtune.NumaPinnedGuest("huge1", { host: { host: "10.1.0.3", password: pulumi.secret("pw12"), hostKey: HOST_KEY }, facts, vcpus: 512, memoryMiB: 1024 });
    await new Promise((r) => setTimeout(r, 100));
    const child = registered.find((r) => r.name === "huge1-domain")!;
    assert.deepEqual(child.inputs.parts, {});
    assert.ok(child.inputs.planProblems.length > 0);
    for (const p of child.inputs.planProblems) assert.match(p, /^placement of NumaPinnedGuest "huge1" on 10\.1\.0\.3:22: /);
    assert.deepEqual(inputProblems({ name: "huge1", mode: "define", domain: { memoryMiB: 1024, vcpus: 512 }, parts: {}, planProblems: child.inputs.planProblems }).map((f) => f.reason), child.inputs.planProblems);
  });

  it("refuses unknown fields and contradictory args before planning", () => {
    assert.throws(
      () => new kvmtune.NumaPinnedGuest("bad", { host: { host: "10.1.0.2", password: "pw12" }, facts, vcpus: 2, memoryMiB: 512, cpus: 4, cpuMode: "custom", adopt: true, disks: [] } as never),
      (err: Error) => {
        assert.equal(
          err.message,
          `invalid NumaPinnedGuest "bad" args:\n  - args: unknown field "cpus"; accepted fields: host, domainName, vcpus, memoryMiB, hugepages, threadPolicy, emulatorPolicy, emulatorCpus, iothreads, numaMode, guestNumaCells, housekeepingCpus, nodes, cpuMode, osVariant, disks, adopt, domainType, start, autostart, placementSvgPath, facts, lockedMemory, restart, shutdownTimeoutSeconds, numaDevices, deviceAffinity\n  - args.cpuMode: "custom" is not accepted; expected "host-passthrough", "host-model" or "maximum"\n  - args.adopt: an adopted domain keeps its own disks and type; drop disks/domainType`,
        );
        return true;
      },
    );
  });

  describe("one host, whatever it is called", () => {
    const same = { ...facts, machineId: "0a0b0c0d0e0f4a4b8c8d9e9f00112233" };
    const domainOf = async (name: string) => {
      await new Promise((r) => setTimeout(r, 100));
      return registered.find((r) => r.name === `${name}-domain`)!.inputs;
    };

    it("a host reached by name and by address shares one ledger (keyed by its machine-id): no CPU twice", async () => {
      const byName = new kvmtune.NumaPinnedGuest("m-a", { host: { host: "hv01.example.net", privateKey: pulumi.secret("k"), hostKey: HOST_KEY }, facts: same, vcpus: 4, memoryMiB: 1024 });
      const byIp = new kvmtune.NumaPinnedGuest("m-b", { host: { host: "10.3.0.1", privateKey: pulumi.secret("k"), hostKey: HOST_KEY }, facts: same, vcpus: 4, memoryMiB: 1024 });
      const [a, b] = await Promise.all([unwrap(byName.plan), unwrap(byIp.plan)]);
      assert.deepEqual(a.reservedCpus.filter((c: number) => b.reservedCpus.includes(c)), []);
    });

    it("warns once when two differently named hosts share a machine-id (cloned images), and about domains the facts could not read", async () => {
      const warned: string[] = [];
      const warn = console.warn;
      // Under mocks pulumi.log.warn prints through console.warn.
      console.warn = (m: unknown) => void warned.push(String(m));
      try {
        const clone = { ...facts, machineId: "clone-1", hostname: "hv09", libvirtDomains: { listed: true, domains: [], problems: ["domain big1 of virsh list: timed out"] } };
        const a = new kvmtune.NumaPinnedGuest("cl-a", { host: { host: "10.5.0.1", privateKey: pulumi.secret("k"), hostKey: HOST_KEY }, facts: clone, vcpus: 2, memoryMiB: 512 });
        await unwrap(a.plan);
        const b = new kvmtune.NumaPinnedGuest("cl-b", { host: { host: "10.5.0.2", privateKey: pulumi.secret("k"), hostKey: HOST_KEY }, facts: { ...clone, hostname: "hv10" }, vcpus: 2, memoryMiB: 512 });
        const c = new kvmtune.NumaPinnedGuest("cl-c", { host: { host: "10.5.0.2", privateKey: pulumi.secret("k"), hostKey: HOST_KEY }, facts: { ...clone, hostname: "hv10" }, vcpus: 2, memoryMiB: 512 });
        await Promise.all([unwrap(b.plan), unwrap(c.plan)]);
        await new Promise((r) => setTimeout(r, 100));
      } finally {
        console.warn = warn;
      }
      assert.deepEqual(warned.filter((w) => w.includes("10.5.0.")).map((w) => w.replace(/^warning: \[runtime\] /, "")), [
        "placement on 10.5.0.1:22: domain big1 of virsh list: timed out; what it holds is not counted",
        "placement on 10.5.0.2:22: 10.5.0.2:22 (hostname hv10) and 10.5.0.1:22 (hostname hv09) report the same /etc/machine-id clone-1, so their guests are planned as one host's; give each cloned host its own (rm /etc/machine-id && systemd-machine-id-setup)",
      ]);
    });

    it("refuses one domainName for two guests of the program, naming both", async () => {
      new kvmtune.NumaPinnedGuest("n-a", { host: { host: "10.3.0.1", privateKey: pulumi.secret("k"), hostKey: HOST_KEY }, facts: same, domainName: "dup", vcpus: 2, memoryMiB: 512 });
      new kvmtune.NumaPinnedGuest("n-b", { host: { host: "10.3.0.1", privateKey: pulumi.secret("k"), hostKey: HOST_KEY }, facts: same, domainName: "dup", vcpus: 2, memoryMiB: 512 });
      assert.deepEqual((await domainOf("n-a")).planProblems, []);
      assert.deepEqual((await domainOf("n-b")).planProblems, [
        `placement of NumaPinnedGuest "n-b" on 10.3.0.1:22: domain name "dup" is already used on this host by NumaPinnedGuest "n-a"; NumaPinnedGuest "n-b" asks for it too (give one a different domainName)`,
      ]);
    });
  });

  describe("on a TunedHost of the same program (its pools count as the host's future state)", () => {
    // hv01 before its first tuning: no hugepages in any pool.
    const fresh = JSON.parse(JSON.stringify(facts)) as typeof facts;
    for (const pool of [...fresh.memory.hugepages, ...fresh.numaNodes.flatMap((n) => n.hugepages)]) Object.assign(pool, { total: 0, free: 0 });
    // One machine per address: the ledger is keyed by the host's machine-id.
    const factsOf = (host: string) => ({ ...fresh, machineId: `fresh-${host}` });
    const tuned = (host: string, hugepages: Record<string, unknown>, reboot?: "never" | "when-pending") =>
      new kvmtune.TunedHost(`tuned-${host}`, { connection: { host, privateKey: pulumi.secret("k"), hostKey: HOST_KEY }, hugepages, reboot, facts: factsOf(host) });
    const domainOf = async (name: string) => {
      await new Promise((r) => setTimeout(r, 100));
      return registered.find((r) => r.name === `${name}-domain`)!.inputs;
    };

    it("plans 2M guests against the pools the TunedHost creates, sharing one ledger: the second guest takes the other node", async () => {
      const hv = tuned("10.2.0.1", { "2M": [64, 64] });
      assert.deepEqual(await unwrap(hv.plannedHost), { tunedHost: "tuned-10.2.0.1", reboot: "never", pools: [{ size: "2M", node: 0, pages: 64 }, { size: "2M", node: 1, pages: 64 }], isolatedCpus: null });
      const a = new kvmtune.NumaPinnedGuest("fut-a", { host: hv, facts: factsOf("10.2.0.1"), vcpus: 2, memoryMiB: 128, hugepages: "2M" });
      const b = new kvmtune.NumaPinnedGuest("fut-b", { host: hv, facts: factsOf("10.2.0.1"), vcpus: 2, memoryMiB: 128, hugepages: "2M" });
      const [pa, pb] = await Promise.all([unwrap(a.plan), unwrap(b.plan)]);
      assert.deepEqual([...pa.hugepages, ...pb.hugepages].map((h) => h.node).sort(), [0, 1]);
      assert.deepEqual(pa.hugepages.map((h) => h.pages), [64]);
      assert.deepEqual((await domainOf("fut-a")).planProblems, []);
      // Both nodes' future pools are taken now; the same guest on the bare host has no pool at all.
      new kvmtune.NumaPinnedGuest("fut-c", { host: hv, facts: factsOf("10.2.0.1"), vcpus: 2, memoryMiB: 128, hugepages: "2M", guestNumaCells: 1 });
      assert.deepEqual((await domainOf("fut-c")).planProblems, [
        `placement of NumaPinnedGuest "fut-c" on 10.2.0.1:22: needs 64 free 2M hugepages within one NUMA node; nodes 0-1 have 0 of 64 free`,
      ]);
      new kvmtune.NumaPinnedGuest("bare-a", { host: { host: "10.2.0.2", privateKey: pulumi.secret("k"), hostKey: HOST_KEY }, facts: factsOf("10.2.0.2"), vcpus: 2, memoryMiB: 128, hugepages: "2M", guestNumaCells: 1 });
      assert.deepEqual((await domainOf("bare-a")).planProblems, [
        `placement of NumaPinnedGuest "bare-a" on 10.2.0.2:22: needs 64 free 2M hugepages within one NUMA node; nodes 0-1 have 0 of 0 free`,
      ]);
    });

    it("refuses a 1G guest when the TunedHost's 1G pools wait for a reboot it will not do, and says so", async () => {
      const hv = tuned("10.2.0.3", { "1G": [16, 16] });
      new kvmtune.NumaPinnedGuest("fut-1g", { host: hv, facts: factsOf("10.2.0.3"), vcpus: 4, memoryMiB: 16384, hugepages: "1G" });
      const why = `TunedHost "tuned-10.2.0.3" asks for 16 x 1G on nodes 0-1, but 1G pools are reserved at boot and it has reboot: "never" (set reboot: "when-pending", or reboot the host and run again)`;
      const domain = await domainOf("fut-1g");
      assert.deepEqual(domain.parts, {});
      assert.deepEqual(domain.planProblems, [
        `placement of NumaPinnedGuest "fut-1g" on 10.2.0.3:22: needs 16 free 1G hugepages within one NUMA node; nodes 0-1 have 0 of 0 free; ${why}`,
        `placement of NumaPinnedGuest "fut-1g" on 10.2.0.3:22: needs 8 free 1G hugepages on each of 2 NUMA nodes; nodes 0-1 have 0 of 0 free; ${why}`,
      ]);
      // With reboot: "when-pending" the host is rebooted before the domain is defined: the pools count.
      const rebooting = tuned("10.2.0.4", { "1G": [16, 16] }, "when-pending");
      const ok = new kvmtune.NumaPinnedGuest("fut-1g-ok", { host: rebooting, facts: factsOf("10.2.0.4"), vcpus: 4, memoryMiB: 16384, hugepages: "1G" });
      assert.deepEqual((await unwrap(ok.plan)).hugepages.map((h) => h.pages), [16]);
    });

    it("keeps vCPUs on the CPUs the TunedHost isolates (isolateCpus), before the reboot that isolates them", async () => {
      // hv01: node0 is CPUs 0-3,8-11, node1 4-7,12-14 (15 offline).
      const hv = new kvmtune.TunedHost("tuned-10.2.0.6", { connection: { host: "10.2.0.6", privateKey: pulumi.secret("k"), hostKey: HOST_KEY }, isolateCpus: "4-7,12-14", facts: factsOf("10.2.0.6") });
      assert.deepEqual((await unwrap(hv.plannedHost)).isolatedCpus, [4, 5, 6, 7, 12, 13, 14]);
      const g = new kvmtune.NumaPinnedGuest("iso-a", { host: hv, facts: factsOf("10.2.0.6"), vcpus: 4, memoryMiB: 512 });
      assert.deepEqual((await unwrap(g.plan)).vcpuPins, [4, 12, 5, 13]);
      new kvmtune.NumaPinnedGuest("iso-b", { host: hv, facts: factsOf("10.2.0.6"), vcpus: 4, memoryMiB: 512 });
      assert.deepEqual((await domainOf("iso-b")).planProblems, [
        `placement of NumaPinnedGuest "iso-b" on 10.2.0.6:22: needs 4 CPUs within one NUMA node; node0 has 0 free, node1 has 3 free`,
        `placement of NumaPinnedGuest "iso-b" on 10.2.0.6:22: needs 2 CPUs on each of 2 NUMA nodes; node0 has 0 free`,
        `placement of NumaPinnedGuest "iso-b" on 10.2.0.6:22: housekeepingCpus "auto": host hv01 isolates CPUs 4-7,12-14, so guests get only those; CPUs 0-3,8-11 stay for housekeeping (give housekeepingCpus to change that)`,
      ]);
    });

    it("lockedMemory: true puts <locked/> in the LibvirtDomain's memoryBacking part", async () => {
      const hv = tuned("10.2.0.5", { "2M": [64, 64] });
      new kvmtune.NumaPinnedGuest("locked1", { host: hv, facts: factsOf("10.2.0.5"), vcpus: 2, memoryMiB: 128, hugepages: "2M", lockedMemory: true });
      new kvmtune.NumaPinnedGuest("locked2", { host: hv, facts: factsOf("10.2.0.5"), vcpus: 2, memoryMiB: 128, lockedMemory: true });
      assert.deepEqual((await domainOf("locked1")).parts.memoryBacking, { hugepages: [{ size: 2048, unit: "KiB" }], locked: true });
      assert.deepEqual((await domainOf("locked2")).parts.memoryBacking, { hugepages: null, locked: true });
    });
  });

  describe("numaDevices pull the guest to their nodes (deviceAffinity)", () => {
    const on = (host: string) => ({ host, privateKey: pulumi.secret("k"), hostKey: HOST_KEY });
    const domainOf = async (name: string) => {
      await new Promise((r) => setTimeout(r, 100));
      return registered.find((r) => r.name === `${name}-domain`)!.inputs;
    };

    it("an NVMe disk on node1 takes a 2-vCPU guest there (best fit alone is node0); the map shows the disk and housekeeping", async () => {
      const plain = new kvmtune.NumaPinnedGuest("nd-plain", { host: on("10.4.0.1"), facts: { ...facts, machineId: "nd-1" }, vcpus: 2, memoryMiB: 512 });
      assert.deepEqual((await unwrap(plain.plan)).nodeset, [0]);
      const g = new kvmtune.NumaPinnedGuest("nd-disk", { host: on("10.4.0.2"), facts: { ...facts, machineId: "nd-2" }, vcpus: 2, memoryMiB: 512, numaDevices: ["/dev/nvme0n1"], deviceAffinity: "required" });
      assert.deepEqual((await unwrap(g.plan)).nodeset, [1]);
      const svg = await unwrap(g.placementSvg);
      assert.match(svg, /dev: \/dev\/nvme0n1 \(nd-disk\)/);
      assert.match(svg, /Housekeeping CPUs 0,8\./);
    });

    it("takes device names and disk paths that are other resources' outputs: the plan waits for them, a bad one fails the preview", async () => {
      // A resource whose output is the value it was given (the mocks echo inputs as state).
      const out = (name: string, value: unknown) => new Made(name, value).value;
      const g = new kvmtune.NumaPinnedGuest("nd-out", {
        host: on("10.4.0.5"), facts: { ...facts, machineId: "nd-5" }, vcpus: 2, memoryMiB: 512,
        numaDevices: [out("nvme", "/dev/nvme0n1")], deviceAffinity: "required", disks: [{ path: out("img", "/var/lib/libvirt/images/nd-out.qcow2") }],
      });
      assert.deepEqual((await unwrap(g.plan)).nodeset, [1]);
      assert.deepEqual((await domainOf("nd-out")).domain.disks, [{ path: "/var/lib/libvirt/images/nd-out.qcow2" }]);
      new kvmtune.NumaPinnedGuest("nd-out-bad", { host: on("10.4.0.6"), facts: { ...facts, machineId: "nd-6" }, vcpus: 2, memoryMiB: 512, numaDevices: ["eno1", out("num", 7)] });
      assert.deepEqual((await domainOf("nd-out-bad")).planProblems, [
        `placement of NumaPinnedGuest "nd-out-bad" on 10.4.0.6:22: numaDevices[1]: 7 is not a PCI function, network interface or block device of host hv01; expected e.g. "0000:41:00.0", "enp65s0f0" or "/dev/nvme0n1"`,
      ]);
    });

    it("a device the host does not have fails the preview, naming the field and what is accepted", async () => {
      new kvmtune.NumaPinnedGuest("nd-bad", { host: on("10.4.0.3"), facts: { ...facts, machineId: "nd-3" }, vcpus: 2, memoryMiB: 512, numaDevices: ["eno1", "nvme9n9"] });
      assert.deepEqual((await domainOf("nd-bad")).planProblems, [
        `placement of NumaPinnedGuest "nd-bad" on 10.4.0.3:22: numaDevices[1]: "nvme9n9" is not a PCI function, network interface or block device of host hv01; expected e.g. "0000:41:00.0", "enp65s0f0" or "/dev/nvme0n1"`,
      ]);
      assert.throws(() => new kvmtune.NumaPinnedGuest("nd-worse", { host: on("10.4.0.4"), vcpus: 2, memoryMiB: 512, numaDevices: "eno1" as unknown as string[] }), {
        message: /args\.numaDevices: "eno1" is not accepted; expected a list of at most 64 device names such as \["0000:41:00\.0", "enp65s0f0", "\/dev\/nvme0n1"\]/,
      });
    });
  });

  it("hands bad placement args to the domain's check in the user's own field names (nothing thrown inside an output)", async () => {
    const g = new kvmtune.NumaPinnedGuest("bad-args", { host: { host: "10.6.0.1", privateKey: pulumi.secret("k"), hostKey: HOST_KEY }, facts, domainName: "web 1", vcpus: 0, memoryMiB: 1024, numaMode: "bind" as never });
    assert.equal(await unwrap(g.plan), null);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(registered.find((r) => r.name === "bad-args-domain")!.inputs.planProblems, [
      `NumaPinnedGuest "bad-args" args: domainName: "web 1" is not accepted; expected a domain name: letters, digits, '.', '_', '+', '-' (at most 64)`,
      `NumaPinnedGuest "bad-args" args: vcpus: 0 is not accepted; expected a whole number of vCPUs from 1 to 4096`,
      `NumaPinnedGuest "bad-args" args: numaMode: "bind" is not accepted; expected "strict", "restrictive", "preferred" or "interleave"`,
    ]);
  });

  it("a domain this stack defined (the host's journal says so) and is replacing does not hold its CPUs against the new guest", async () => {
    const { stackIdentity } = require("../../components/host-ownership") as typeof import("../../components/host-ownership");
    const { parseJournal } = require("../../provider/host/journal") as typeof import("../../provider/host/journal");
    const hv02 = withoutIsolation(parseHostFacts(readFileSync(join(FIXTURE_DIR, "hv02-domains.txt"), "utf8")));
    const line = (stack: string) => JSON.stringify({ key: "domain:web7", stack, resource: "web7-domain", tag: "-", original: null, since: "2026-12-01T00:00:00Z" });
    const on = (host: string) => ({ host, privateKey: pulumi.secret("k"), hostKey: HOST_KEY });
    // Another stack's web7 holds CPUs 2-3; this stack's own web7 (leaving in this up) does not.
    const theirs = new kvmtune.NumaPinnedGuest("ss-a", { host: on("10.7.0.1"), facts: { ...hv02, machineId: "ss-1", journal: parseJournal(line("someone/else/prod") + "\n") }, vcpus: 4, memoryMiB: 512, nodes: [0], guestNumaCells: 1 });
    const ours = new kvmtune.NumaPinnedGuest("ss-b", { host: on("10.7.0.2"), facts: { ...hv02, machineId: "ss-2", journal: parseJournal(line(stackIdentity()) + "\n") }, vcpus: 4, memoryMiB: 512, nodes: [0], guestNumaCells: 1 });
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(registered.find((r) => r.name === "ss-a-domain")!.inputs.planProblems, [
      `placement of NumaPinnedGuest "ss-a" on 10.7.0.1:22: needs 4 CPUs within one NUMA node; node0 has 3 free (CPUs 0-3 held by domain web7, not in this program)`,
    ]);
    void theirs;
    assert.deepEqual((await unwrap(ours.plan)).vcpuPins, [1, 9, 2, 10]);
  });

  it("fails with every reason when a guest cannot fit", async () => {
    const { HostLedger } = require("../../provider/plan/ledger") as typeof import("../../provider/plan/ledger");
    const r = new HostLedger(facts).place({ name: "huge", vcpus: 64, memoryMiB: 1024 });
    assert.deepEqual(r, {
      ok: false,
      name: "huge",
      reasons: ["needs 64 CPUs within one NUMA node; node0 has 6 free, node1 has 7 free", "needs 32 CPUs on each of 2 NUMA nodes; node0 has 6 free, node1 has 7 free"],
    });
  });
});
