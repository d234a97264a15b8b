// LibvirtDomain's pure planning: what a running domain takes live and what
// needs a restart, the pins in force, saving and restoring originals (byte for
// byte on real libvirt dumps), the observed parts refresh reports, virsh output
// parsing and the provider's diff.
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { applyOwnedParts, parseDomainXml, readOwnedParts, renderDomainXml, type OwnedParts, type PartDiff } from "../../provider/libvirt";
import { parseAutostart, parseEmulatorPin, parseLivePins, parseNodeCpuMap, parsePinRows, parseSteps, virshError, type LivePins } from "../../provider/libvirt/virsh-output";
import { readDomainFacts } from "../../provider/libvirt/domain-fit";
import { inputProblems } from "../../provider/libvirt/virsh-inputs";
import { classifyLiveDiffs, domainProblems, effectiveLiveParts, observedParts, planLiveNumatune, planLivePins, projectParts, reconcileOwnership } from "../../provider/libvirt/virsh-plan";
import { diff } from "../../provider/resources/libvirt-domain-impl";

const CORPUS = join(__dirname, "../fixtures/domains");
const fixture = (name: string) => readFileSync(join(CORPUS, `${name}.xml`), "utf8");
const partsOf = (xml: string) => readOwnedParts(parseDomainXml(xml));
const b64 = (s: string) => Buffer.from(s).toString("base64");

/** pinned.inactive: vcpupin 0->0 1->1, emulatorpin 0-1, numatune strict 0. */
const pinned = partsOf(fixture("pinned.inactive"));
const livePins = (v: string[], e = "0-1", io: string[] = []): LivePins => ({
  vcpupin: v.map((cpuset, vcpu) => ({ vcpu, cpuset })),
  emulatorpin: e,
  iothreadpin: io.map((cpuset, i) => ({ iothread: i + 1, cpuset })),
});

describe("live vs restart-required plan", () => {
  it("pins what differs and resets pins no longer wanted, live only; skips vCPUs the running guest lacks", () => {
    const desired: Partial<OwnedParts> = { cputune: { vcpupin: [{ vcpu: 0, cpuset: "1" }, { vcpu: 3, cpuset: "0" }], emulatorpin: { cpuset: "1" } } };
    const pins = livePins(["0", "1"]);
    const eff = effectiveLiveParts(pinned, pins, desired, "0-1");
    assert.deepEqual(eff.cputune, { vcpupin: [{ vcpu: 0, cpuset: "0" }, { vcpu: 1, cpuset: "1" }], emulatorpin: { cpuset: "0-1" }, iothreadpin: [] });
    assert.deepEqual(planLivePins(desired, eff, pins, "0-1"), [
      { kind: "vcpupin", id: 0, cpuset: "1", config: false },
      { kind: "vcpupin", id: 1, cpuset: "0-1", config: false },
      { kind: "emulatorpin", cpuset: "1", config: false },
    ]);
  });

  it("treats a pin equal to the default (what a reset leaves behind) as no pin, unless it is owned", () => {
    const live = { ...pinned, cputune: { vcpupin: [{ vcpu: 0, cpuset: "0" }, { vcpu: 1, cpuset: "0-1" }], emulatorpin: { cpuset: "0-1" }, iothreadpin: [] } };
    const desired = { cputune: { vcpupin: [{ vcpu: 0, cpuset: "0" }], emulatorpin: null } };
    const eff = effectiveLiveParts(live, livePins(["0", "0-1"]), desired, "0-1");
    assert.deepEqual(eff.cputune, { vcpupin: [{ vcpu: 0, cpuset: "0" }], emulatorpin: null, iothreadpin: [] });
    assert.deepEqual(planLivePins(desired, eff, livePins(["0", "0-1"]), "0-1"), []);
    // Owned and equal to the default: compared with what libvirt reports, not dropped.
    const all = { cputune: { vcpupin: [{ vcpu: 1, cpuset: "0,1" }] } };
    assert.deepEqual(effectiveLiveParts(live, livePins(["0", "0-1"]), all, "0-1").cputune?.vcpupin, [{ vcpu: 0, cpuset: "0" }, { vcpu: 1, cpuset: "0-1" }]);
    assert.deepEqual(planLivePins(all, effectiveLiveParts(live, livePins(["0", "0-1"]), all, "0-1"), livePins(["0", "0-1"]), "0-1"), [
      { kind: "vcpupin", id: 0, cpuset: "0-1", config: false },
    ]);
  });

  it("the default is <vcpu cpuset> when set, else every host CPU", () => {
    const live: OwnedParts = { ...pinned, vcpu: { count: 2, placement: "static", cpuset: "1" }, cputune: null };
    const desired = { cputune: { vcpupin: [], emulatorpin: null, iothreadpin: [] } };
    const pins = livePins(["1", "0"], "1");
    const eff = effectiveLiveParts({ ...live, cputune: { vcpupin: [{ vcpu: 1, cpuset: "0" }], emulatorpin: null, iothreadpin: [] } }, pins, desired, "0-3");
    assert.deepEqual(planLivePins(desired, eff, pins, "0-3"), [{ kind: "vcpupin", id: 1, cpuset: "1", config: false }]);
  });

  it("splits live differences: pins of running vCPUs are drift, the rest needs a restart, metadata and balloon are neither", () => {
    const d = (path: string): PartDiff => ({ path, from: "a", to: "b" });
    const r = classifyLiveDiffs(
      [d("cputune.vcpupin[1]"), d("cputune.vcpupin[5]"), d("cputune.emulatorpin"), d("cputune.iothreadpin[1]"), d("numatune.memory.mode"), d("osinfo"), d("currentMemory"), d("vcpu.count")],
      livePins(["0", "1"], "0-1", ["0"]),
    );
    assert.deepEqual(r.pinning.map((x) => x.path), ["cputune.vcpupin[1]", "cputune.emulatorpin", "cputune.iothreadpin[1]"]);
    assert.deepEqual(r.restart.map((x) => x.path), ["cputune.vcpupin[5]", "numatune.memory.mode", "vcpu.count"]);
  });
});

describe("live numatune (libvirt 9.0: only a restrictive nodeset moves live, and only with a cpuset cgroup)", () => {
  const at = (mode: "strict" | "restrictive" | "preferred", nodeset: string, memnode: { cellid: number; mode: "strict" | "restrictive"; nodeset: string }[] = []): OwnedParts =>
    ({ ...pinned, numatune: { memory: { mode, nodeset }, memnode } }) as OwnedParts;
  const want = (mode: "strict" | "restrictive" | "preferred", nodeset: string): Partial<OwnedParts> => ({ numatune: { memory: { mode, nodeset }, memnode: [] } });

  it("moves a restrictive whole-guest nodeset live, normalised", () => {
    assert.equal(planLiveNumatune(want("restrictive", "1,0"), at("restrictive", "1"), true), "0-1");
  });
  it("leaves strict, preferred, a mode change, per-cell memnodes, a missing cgroup and an equal nodeset to a restart or to nothing", () => {
    assert.equal(planLiveNumatune(want("strict", "0"), at("strict", "1"), true), undefined);
    assert.equal(planLiveNumatune(want("preferred", "0"), at("preferred", "1"), true), undefined);
    assert.equal(planLiveNumatune(want("restrictive", "0"), at("strict", "1"), true), undefined);
    assert.equal(planLiveNumatune(want("restrictive", "0"), at("restrictive", "1", [{ cellid: 0, mode: "restrictive", nodeset: "1" }]), true), undefined);
    assert.equal(planLiveNumatune(want("restrictive", "0"), at("restrictive", "1"), false), undefined);
    assert.equal(planLiveNumatune(want("restrictive", "0-1"), at("restrictive", "0,1"), true), undefined);
  });
  it("classifies the nodeset as live drift only when it moves live", () => {
    const d: PartDiff = { path: "numatune.memory.nodeset", from: "1", to: "0" };
    assert.deepEqual(classifyLiveDiffs([d], livePins(["0"], "0"), true), { pinning: [d], restart: [] });
    assert.deepEqual(classifyLiveDiffs([d], livePins(["0"], "0"), false), { pinning: [], restart: [d] });
  });
});

describe("originals and observed parts", () => {
  const parts: Partial<OwnedParts> = {
    vcpu: { count: 2, cpuset: "0-1" },
    cputune: { vcpupin: [{ vcpu: 0, cpuset: "1" }, { vcpu: 1, cpuset: "0" }], iothreadpin: [] },
    numatune: { memory: { mode: "preferred", nodeset: "0" } },
    memoryBacking: { nosharepages: true },
    cpu: { topology: { sockets: 1, cores: 2, threads: 1 } },
    osinfo: "http://debian.org/debian/12",
    disks: { vda: { driver: { cache: "directsync", io: "native" } } },
    interfaces: { "52:54:00:6b:76:ff": { type: "bridge", source: { attributes: { bridge: "br0" } }, model: "virtio" } },
  };

  for (const name of ["pinned.inactive", "tuned-guest.inactive", "iothreads.inactive"]) {
    it(`${name}: applying the projected originals after the parts gives back libvirt's XML byte for byte`, () => {
      const xml = fixture(name);
      const p: Partial<OwnedParts> = name === "pinned.inactive" ? parts : { ...parts, disks: {} };
      const originals = projectParts(p, partsOf(xml));
      const doc = parseDomainXml(xml);
      applyOwnedParts(doc, p);
      const tuned = renderDomainXml(doc);
      assert.notEqual(tuned, xml);
      const back = parseDomainXml(tuned);
      applyOwnedParts(back, originals);
      assert.equal(renderDomainXml(back), xml);
    });
  }

  it("projects absent parts as null / [] / false in the desired shape", () => {
    assert.deepEqual(projectParts(parts, partsOf(fixture("minimal.inactive"))), {
      vcpu: { count: 1, cpuset: null },
      cputune: { vcpupin: [], iothreadpin: [] },
      numatune: { memory: null },
      memoryBacking: { nosharepages: false },
      cpu: { topology: null },
      osinfo: null,
      disks: { vda: { driver: null } },
      interfaces: { "52:54:00:6b:76:ff": null },
    });
  });

  it("observed parts equal the desired ones, spelling included, when in sync", () => {
    const desired: Partial<OwnedParts> = { cputune: { vcpupin: [{ vcpu: 1, cpuset: "1" }, { vcpu: 0, cpuset: "0" }], emulatorpin: { cpuset: "0,1" } }, numatune: { memory: { mode: "strict", nodeset: "0" } } };
    assert.deepEqual(observedParts(desired, pinned), desired);
  });

  it("observed parts show the drifted item only, keeping the rest as desired", () => {
    const desired: Partial<OwnedParts> = { cputune: { vcpupin: [{ vcpu: 0, cpuset: "0" }, { vcpu: 1, cpuset: "0" }], emulatorpin: { cpuset: "0,1" } }, numatune: { memory: { mode: "preferred", nodeset: "0" } } };
    assert.deepEqual(observedParts(desired, pinned), {
      cputune: { vcpupin: [{ vcpu: 0, cpuset: "0" }, { vcpu: 1, cpuset: "1" }], emulatorpin: { cpuset: "0,1" } },
      numatune: { memory: { mode: "strict", nodeset: "0" } },
    });
  });

  it("reconciles ownership across updates: new parts get originals, dropped ones are put back", () => {
    const originals = { cputune: { vcpupin: [{ vcpu: 0, cpuset: "0" }, { vcpu: 1, cpuset: "1" }] }, osinfo: null };
    const now = { ...pinned, cputune: { vcpupin: [{ vcpu: 0, cpuset: "1" }], emulatorpin: { cpuset: "0-1" }, iothreadpin: [] } };
    const r = reconcileOwnership(originals, { cputune: { vcpupin: [{ vcpu: 0, cpuset: "1" }], emulatorpin: { cpuset: "1" } }, numatune: { memory: { mode: "interleave" } } }, now);
    assert.deepEqual(r.originals, {
      cputune: { vcpupin: [{ vcpu: 0, cpuset: "0" }, { vcpu: 1, cpuset: "1" }], emulatorpin: { cpuset: "0-1" } },
      // The whole <memory>: applying a mode alone could still drop placement='auto'.
      numatune: { memory: { mode: "strict", nodeset: "0", placement: null } },
    });
    assert.deepEqual(r.desired, { cputune: { vcpupin: [{ vcpu: 0, cpuset: "1" }], emulatorpin: { cpuset: "1" } }, numatune: { memory: { mode: "interleave" } }, osinfo: null });
    const dropped = reconcileOwnership(r.originals, { numatune: { memory: { mode: "interleave" } } }, now);
    assert.deepEqual(dropped.desired.cputune, { vcpupin: [{ vcpu: 0, cpuset: "0" }, { vcpu: 1, cpuset: "1" }], emulatorpin: { cpuset: "0-1" } });
    assert.deepEqual(Object.keys(dropped.originals), ["numatune"]);
  });
});

describe("virsh output parsing", () => {
  it("reads step records and refuses anything else", () => {
    const out = `state 0 ${b64("running\n")} \ninfo 1  ${b64("error: failed to get domain 'x'\n")}\n`;
    const steps = parseSteps(out, true);
    assert.deepEqual([...steps], [
      ["state", { code: 0, stdout: "running\n", stderr: "" }],
      ["info", { code: 1, stdout: "", stderr: "error: failed to get domain 'x'\n" }],
    ]);
    assert.deepEqual([...parseSteps(`vcpupin:1 0 \n`, false)], [["vcpupin:1", { code: 0, stdout: "", stderr: "" }]]);
    assert.throws(() => parseSteps("Welcome to host\n", true), /unexpected virsh script output: "Welcome to host"/);
    assert.throws(() => parseSteps("state 0 $$$ x\n", true), /unexpected virsh script output/);
  });

  it("parses virsh -q tables as libvirt 9 prints them", () => {
    assert.deepEqual(parsePinRows(" 0   0\n 1   0-1\n", "vcpupin"), [{ id: 0, cpuset: "0" }, { id: 1, cpuset: "0-1" }]);
    assert.deepEqual(parsePinRows("", "iothreadinfo"), []);
    assert.equal(parseEmulatorPin("0-1"), "0-1");
    assert.equal(parseEmulatorPin("       *: 2,4"), "2,4");
    assert.equal(parseNodeCpuMap("CPUs present:   2\nCPUs online:    2\nCPU map:        0-1\n"), "0-1");
    assert.equal(parseAutostart("Persistent:     yes\nAutostart:      enable\n"), true);
    assert.equal(parseAutostart("Autostart:      disable\n"), false);
    assert.deepEqual(parseLivePins(" 0   1\n", "0", " 1   0-1\n"), { vcpupin: [{ vcpu: 0, cpuset: "1" }], emulatorpin: "0", iothreadpin: [{ iothread: 1, cpuset: "0-1" }] });
    assert.throws(() => parsePinRows(" 0   y\n", "vcpupin"), /unexpected vcpupin output: "y"/);
    assert.equal(virshError("error: Failed to start domain 'x'\nerror: internal error: boom\n"), "Failed to start domain 'x': internal error: boom");
  });
});

describe("iothread pins: check judges ids it knows, apply the domain's own", () => {
  const connection = { host: "hv1", password: "pw", insecureIgnoreHostKey: true };
  const parts: Partial<OwnedParts> = { iothreads: { count: 2 }, cputune: { iothreadpin: [{ iothread: 2, cpuset: "0" }, { iothread: 4, cpuset: "1" }] } };
  const reasons = (input: Record<string, unknown>) => inputProblems(input).map((f) => f.reason);
  const atApply = (xml: string) => {
    const doc = parseDomainXml(xml);
    applyOwnedParts(doc, parts);
    return domainProblems(parts, readOwnedParts(doc), "0-1", "parts", readDomainFacts(doc));
  };
  const withIds = (ids: string) => fixture("pinned.inactive").replace(/(<vcpu[^\n]*\n)/, `$1${ids}`);

  it("adopt mode: iothread 4 of a count of 2 passes check (an adopted domain's <iothreadids> may be 2 and 4)", () => {
    assert.deepEqual(reasons({ connection, name: "db1", mode: "adopt", parts }), []);
    // vCPUs are still judged from the count the parts give.
    assert.deepEqual(reasons({ connection, name: "db1", mode: "adopt", parts: { vcpu: { count: 2 }, cputune: { vcpupin: [{ vcpu: 2, cpuset: "0" }] } } }), [
      "parts.cputune.vcpupin[0]: vCPU 2 does not exist; the domain has 2 vCPUs (0-1)",
    ]);
  });

  it("define mode: ids are 1..count, so check refuses iothread 4", () => {
    assert.deepEqual(reasons({ connection, name: "db1", mode: "define", domain: { memoryMiB: 64, vcpus: 2 }, parts }), [
      "parts.cputune.iothreadpin[1]: iothread 4 does not exist; the domain has iothreads 1-2",
    ]);
  });

  it("apply judges the adopted domain's ids: <iothreadids> 2 and 4 take the pins, ids 1..2 do not", () => {
    assert.deepEqual(atApply(withIds("  <iothreadids>\n    <iothread id='2'/>\n    <iothread id='4'/>\n  </iothreadids>\n")), []);
    assert.deepEqual(atApply(withIds("")), ["parts.cputune.iothreadpin[1]: iothread 4 does not exist; the domain has iothreads 1-2"]);
  });
});

describe("LibvirtDomain diff", () => {
  const base = { connection: { host: "hv1", port: 22 }, name: "db1", mode: "define" as const, domain: { memoryMiB: 64, vcpus: 2, disks: [{ path: "/img/a.raw" }] }, parts: { cputune: { vcpupin: [{ vcpu: 0, cpuset: "0" }] } } };
  const olds = { ...base, uuid: "u", xml: "", state: "running", drift: [], restartRequired: false, restartReasons: [], originals: null, originalAutostart: null, observed: null, placementDrift: [] as string[] };

  it("sees no change for the same inputs, key order aside", async () => {
    assert.deepEqual(await diff("id", olds, { ...base, domain: { vcpus: 2, memoryMiB: 64, disks: [{ path: "/img/a.raw" }] } }), { changes: false, replaces: [], deleteBeforeReplace: true });
  });

  it("updates in place for parts, memory, vCPUs, autostart; replaces for host, name, mode, type and disk layout", async () => {
    assert.deepEqual(await diff("id", olds, { ...base, parts: {} }), { changes: true, replaces: [], deleteBeforeReplace: true });
    assert.deepEqual(await diff("id", olds, { ...base, domain: { ...base.domain, memoryMiB: 128, disks: [{ path: "/img/a.raw", cache: "directsync" as const }] } }), { changes: true, replaces: [], deleteBeforeReplace: true });
    assert.deepEqual(await diff("id", olds, { ...base, autostart: true }), { changes: true, replaces: [], deleteBeforeReplace: true });
    assert.deepEqual((await diff("id", olds, { ...base, name: "db2", connection: { host: "hv2", port: 22 } })).replaces, ["connection", "name"]);
    assert.deepEqual((await diff("id", olds, { ...base, domain: { ...base.domain, type: "qemu" as const } })).replaces, ["domain"]);
    assert.deepEqual((await diff("id", olds, { ...base, domain: { ...base.domain, disks: [{ path: "/img/b.raw" }] } })).replaces, ["domain"]);
    assert.deepEqual((await diff("id", olds, { ...base, mode: "adopt" as const, domain: undefined })).replaces, ["mode"]);
    assert.deepEqual(await diff("id", olds, { ...base, start: "paused" }), { changes: true, replaces: [], deleteBeforeReplace: true });
    assert.deepEqual(await diff("id", olds, { ...base, restart: "when-required" }), { changes: true, replaces: [], deleteBeforeReplace: true });
  });

  it("updates for measured placement drift a refresh found, not for drift the last apply left waiting for a restart", async () => {
    const line = "placement.memory: 64 MiB on node0, outside strict nodeset 1";
    assert.equal((await diff("id", { ...olds, placementDrift: [line] }, base)).changes, true);
    assert.equal((await diff("id", { ...olds, placementDrift: [line], restartRequired: true, restartReasons: [line] }, base)).changes, false);
  });
});
