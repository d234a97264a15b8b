// Boot loader facts, the choice of generator (or the refusal), and how the
// refusal reaches knob validation, the apply plan and HostTuning's check.
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { planBootloader, type BootloaderFacts } from "../../provider/host/bootloader";
import { parseHostFacts, type HostFacts } from "../../provider/host/facts";
import { resolveKnob } from "../../provider/host/knobs/catalogue";
import { persistenceOps, persistencePaths, renderPersistence } from "../../provider/host/knobs/persistence";
import { normaliseSettings, planApply, planRollback } from "../../provider/host/knobs/plan";
import { check } from "../../provider/resources/host-tuning-impl";
import { planBootloaderProblems, planTuningSettings } from "../../provider/spec/tuned-host";
import { FakeTree } from "../fixtures/facts/fake-tree";
import { FIXTURE_DIR, buildFakeRoot, runFactsScript, type Shell } from "../fixtures/facts/run-script";

const BLS =
  "this host boots Boot Loader Specification entries (/boot/loader/entries, managed by grubby); kvmtune can only change the kernel command line " +
  "through GRUB's /etc/default/grub.d with update-grub or grub-mkconfig. Set it outside kvmtune (grubby --update-kernel=ALL --args=...) or remove this setting";
const NONE = "no boot loader tool kvmtune can drive on this host (looked for update-grub, grub-mkconfig and grub2-mkconfig with an existing grub.cfg)";

const fixture = (name: string) => parseHostFacts(readFileSync(join(FIXTURE_DIR, `${name}.txt`), "utf8"));
const HV01 = fixture("hv01-2socket");
const withBootloader = (bootloader: BootloaderFacts | null): HostFacts => ({ ...HV01, bootloader });
const dump = (...sections: string[]) => ["@@kvmtune:facts 1", ...sections, "@@kvmtune:end", ""].join("\n");

const DEBIAN: BootloaderFacts = { tools: ["update-grub", "grub-mkconfig"], grubConfigs: ["/boot/grub/grub.cfg"], blsEntries: [] };
const FEDORA: BootloaderFacts = { tools: ["grub2-mkconfig", "grubby"], grubConfigs: ["/boot/grub2/grub.cfg"], blsEntries: ["0f1e2d-6.8.5-301.fc40.x86_64.conf"] };

describe("boot loader facts", function () {
  this.timeout(60_000);

  it("parses the sections: tools and configs in a fixed order, BLS entries sorted, unknown names dropped", function () {
    const f = parseHostFacts(
      dump(
        "@@kvmtune:var boot-tools",
        "grub2-mkconfig grubby lilo",
        "@@kvmtune:var boot-configs",
        "/boot/grub2/grub.cfg /boot/efi/EFI/fedora/grub.cfg",
        "@@kvmtune:list /boot/loader/entries/*.conf",
        "b-6.9.conf",
        "a-6.8.conf",
      ),
    );
    assert.deepStrictEqual(f.bootloader, { tools: ["grub2-mkconfig", "grubby"], grubConfigs: ["/boot/grub2/grub.cfg"], blsEntries: ["a-6.8.conf", "b-6.9.conf"] });
  });

  it("busybox-style output (empty values, no entries directory) is a host with nothing, not an unread one", function () {
    const f = parseHostFacts(dump("@@kvmtune:var boot-tools", "", "@@kvmtune:var boot-configs", ""));
    assert.deepStrictEqual(f.bootloader, { tools: [], grubConfigs: [], blsEntries: [] });
  });

  it("output without the sections (an older kvmtune's facts) is not read: null", function () {
    assert.equal(parseHostFacts(dump()).bootloader, null);
    assert.equal(fixture("local-sh").bootloader, null);
  });

  it("committed fixtures: hv01 is Debian GRUB, tiny (busybox) has no boot loader", function () {
    assert.deepStrictEqual(HV01.bootloader, DEBIAN);
    assert.deepStrictEqual(fixture("tiny-no-numa").bootloader, { tools: [], grubConfigs: [], blsEntries: [] });
  });

  // A Fedora-like tree: grub2-mkconfig and grubby in /usr/sbin, BLS entries, a non-executable update-grub
  // (looked for by mode, not name), and a directory called grub-mkconfig (not a file).
  for (const shell of ["sh", "busybox", "bash"] as Shell[]) {
    it(`the script finds tools, configs and BLS entries in a fake root (${shell})`, function () {
      const { root, remove } = buildFakeRoot({
        name: "bls",
        shell: "sh",
        env: {},
        build(t: FakeTree) {
          t.exe("/usr/sbin/grub2-mkconfig", "#!/bin/sh\n");
          t.exe("/usr/bin/grubby", "#!/bin/sh\n");
          t.raw("/usr/sbin/update-grub", "#!/bin/sh\n", 0o644);
          t.dir("/sbin/grub-mkconfig");
          t.raw("/boot/grub2/grub.cfg", "set default=0\n");
          t.raw("/boot/loader/entries/0f1e2d-6.8.5-301.fc40.x86_64.conf", "title Fedora\noptions root=/dev/vda2 ro\n");
          t.raw("/boot/loader/entries/0f1e2d-0-rescue.conf", "title Rescue\n");
          t.raw("/boot/loader/entries/README", "not an entry\n");
        },
      });
      try {
        const r = runFactsScript({ shell, root });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stderr, "");
        assert.deepStrictEqual(parseHostFacts(r.stdout).bootloader, {
          tools: ["grub2-mkconfig", "grubby"],
          grubConfigs: ["/boot/grub2/grub.cfg"],
          blsEntries: ["0f1e2d-0-rescue.conf", "0f1e2d-6.8.5-301.fc40.x86_64.conf"],
        });
      } finally {
        remove();
      }
    });
  }
});

describe("planBootloader", function () {
  const plan = (tools: BootloaderFacts["tools"], grubConfigs: string[] = [], blsEntries: string[] = []) => planBootloader({ tools, grubConfigs, blsEntries });

  it("drives update-grub (Debian/Ubuntu), whatever configs exist", function () {
    assert.deepEqual(plan(["update-grub"]), { tool: "update-grub" });
    assert.deepEqual(planBootloader(DEBIAN), { tool: "update-grub" });
  });

  it("drives grub-mkconfig and grub2-mkconfig only when their own grub.cfg exists", function () {
    assert.deepEqual(plan(["grub-mkconfig"], ["/boot/grub/grub.cfg"]), { tool: "grub-mkconfig" });
    assert.deepEqual(plan(["grub2-mkconfig"], ["/boot/grub2/grub.cfg"]), { tool: "grub2-mkconfig" });
    assert.deepEqual(plan(["grub2-mkconfig"]), { refused: NONE });
    assert.deepEqual(plan(["grub2-mkconfig"], ["/boot/grub/grub.cfg"]), { refused: NONE });
    assert.deepEqual(plan(["grub-mkconfig"], ["/boot/grub2/grub.cfg"]), { refused: NONE });
  });

  it("refuses a host that boots BLS entries, even with update-grub", function () {
    assert.deepEqual(plan(["update-grub", "grub-mkconfig"], ["/boot/grub/grub.cfg"], ["x.conf"]), { refused: BLS });
    assert.deepEqual(planBootloader(FEDORA), { refused: BLS });
  });

  it("refuses grubby alone, and a host with nothing", function () {
    assert.deepEqual(plan(["grubby"]), { refused: NONE });
    assert.deepEqual(plan([]), { refused: NONE });
  });

  it("does not refuse facts that were not read (older facts): update-grub", function () {
    assert.deepEqual(planBootloader(null), { tool: "update-grub" });
  });
});

describe("boot loader refusal in knobs, the apply plan and HostTuning's check", function () {
  const validate = (key: string, value: string, facts: HostFacts) => {
    const k = resolveKnob(key);
    if ("problem" in k) throw new Error(k.problem);
    return k.validate(value, { facts, desired: new Map([[key, value]]), allowManagementInterface: false });
  };

  it("every boot loader setting's validation names the value and the reason", function () {
    const fedora = withBootloader(FEDORA);
    assert.deepEqual(validate("cmdline:intel_iommu", "on", fedora), [`"on" is not accepted: ${BLS}`]);
    assert.deepEqual(validate("hugepages:1G:node0", "2", fedora), [`"2" is not accepted: ${BLS}`]);
    assert.deepEqual(validate("hugepages:1G", "4", withBootloader({ tools: ["grubby"], grubConfigs: [], blsEntries: [] })), [`"4" is not accepted: ${NONE}`]);
    for (const [key, value] of [["cmdline:isolcpus", "2-3"], ["cmdline:nohz_full", "2-3"], ["cmdline:rcu_nocbs", "2-3"], ["cmdline:irqaffinity", "0-1"], ["cmdline:iommu", "pt"], ["hugepages:1G", "1"]]) {
      const k = resolveKnob(key);
      assert.ok(!("problem" in k) && k.persistence === "bootloader", key);
      assert.deepEqual(validate(key, value, fedora), [`"${value}" is not accepted: ${BLS}`], key);
    }
    assert.deepEqual(validate("hugepages:2M", "16", fedora), [], "2M pools are not on the command line");
    assert.deepEqual(validate("cmdline:intel_iommu", "on", withBootloader(null)), [], "not read: not refused");
    assert.deepEqual(validate("cmdline:intel_iommu", "on", HV01), []);
  });

  it("planApply refuses before any write and plans the chosen generator otherwise", function () {
    const n = normaliseSettings({ "cmdline:intel_iommu": "on", "sysctl:vm.swappiness": "10" });
    const input = { desired: n.desired, knobs: n.knobs, files: new Map([["/proc/sys/vm/swappiness", "60"]]), tag: "hv01", allowManagementInterface: false, originals: {}, dropped: new Map() };
    assert.deepEqual(planApply({ ...input, facts: withBootloader(FEDORA) }).problems, [`cmdline:intel_iommu: "on" is not accepted: ${BLS}`]);
    const suse = planApply({ ...input, facts: withBootloader({ tools: ["grub2-mkconfig"], grubConfigs: ["/boot/grub2/grub.cfg"], blsEntries: [] }) });
    assert.deepEqual(suse.problems, []);
    assert.deepEqual(suse.ops.filter((o) => o.op === "update-bootloader"), [{ op: "update-bootloader", tool: "grub2-mkconfig" }]);
  });

  it("without a generator, writing the drop-in fails at the generator step, but removing or putting it back only touches the file", function () {
    const n = normaliseSettings({ "cmdline:intel_iommu": "on" });
    const path = persistencePaths("hv01").bootloader;
    const wanted = renderPersistence("hv01", [...n.knobs].map(([key, knob]) => ({ knob, value: n.desired.get(key)! })));
    const written = wanted.get(path)!;
    const only = (m: Map<string, string>) => new Map([[path, m.get(path)!]]);
    assert.deepEqual(persistenceOps("hv01", only(wanted), new Map(), "none").map((o) => o.op), ["file", "update-bootloader", "file"]);
    assert.deepEqual(persistenceOps("hv01", only(wanted), new Map(), "none")[1], { op: "update-bootloader", tool: "none" });
    const dropped = only(renderPersistence("hv01", []));
    const before = new Map([[path, written.replace(/\n$/, "")]]);
    assert.deepEqual(persistenceOps("hv01", dropped, before, "none"), [{ op: "file", path, content: "" }]);
    assert.deepEqual(persistenceOps("hv01", dropped, before, "grub-mkconfig"), [{ op: "file", path, content: "" }, { op: "update-bootloader", tool: "grub-mkconfig" }]);
    assert.deepEqual(planRollback(new Map(), "hv01", before, new Map(), "none"), [{ op: "file", path, content: written }]);
    assert.deepEqual(planRollback(new Map(), "hv01", before, new Map(), "update-grub"), [{ op: "file", path, content: written }, { op: "update-bootloader", tool: "update-grub" }]);
  });

  it("names the TunedHost field once, with its value, for TunedHost's check input", function () {
    const plan = planTuningSettings({
      isolateCpus: "2-3",
      kernelArgs: { intel_iommu: "on" },
      hugepages: { "1G": [1, 1], "2M": 64 },
      sysctl: { "vm.swappiness": 10 },
      settings: { "cmdline:iommu": "pt" },
    });
    const fedora = { ...withBootloader(FEDORA), hostname: "rhel9" };
    assert.deepEqual(planBootloaderProblems(plan, fedora), [
      `hugepages.1G: [1,1] is not accepted on rhel9 (from its facts): ${BLS}`,
      `isolateCpus: "2-3" is not accepted on rhel9 (from its facts): ${BLS}`,
      `kernelArgs.intel_iommu: "on" is not accepted on rhel9 (from its facts): ${BLS}`,
      `settings["cmdline:iommu"]: "pt" is not accepted on rhel9 (from its facts): ${BLS}`,
    ]);
    // Raw settings override the friendly field, and name themselves.
    const raw = planTuningSettings({ isolateCpus: "2-3", settings: { "cmdline:isolcpus": "4-5" } });
    assert.deepEqual(planBootloaderProblems(raw, { ...fedora, bootloader: { tools: [], grubConfigs: [], blsEntries: [] } }), [
      `settings["cmdline:isolcpus"]: "4-5" is not accepted on rhel9 (from its facts): ${NONE}`,
      `isolateCpus: "2-3" is not accepted on rhel9 (from its facts): ${NONE}`,
    ]);
    assert.deepEqual(planBootloaderProblems(plan, HV01), []);
    assert.deepEqual(planBootloaderProblems(plan, withBootloader(null)), []);
    assert.deepEqual(planBootloaderProblems(planTuningSettings({ hugepages: { "2M": 64 } }), fedora), [], "no boot loader setting");
  });

  it("HostTuning's check reports the program's host problems against settings", async function () {
    const { grouped } = planTuningSettings({ kernelArgs: { intel_iommu: "on" } });
    const news = { connection: { host: "10.0.0.1", password: "pw12", insecureIgnoreHostKey: true }, tag: "hv01", settings: grouped };
    const reason = `kernelArgs.intel_iommu: "on" is not accepted on rhel9 (from its facts): ${BLS}`;
    assert.deepEqual((await check({}, { ...news, hostProblems: [reason] })).failures, [{ property: "settings", reason }]);
    assert.deepEqual((await check({}, news)).failures, []);
  });
});
