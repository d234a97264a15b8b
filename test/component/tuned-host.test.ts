// TunedHost wiring under Pulumi mocks: the child HostTuning's inputs.
import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import type * as command from "@pulumi/command";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseHostFacts, type HostFacts } from "../../provider/host/facts";
import { planTuningSettings } from "../../provider/spec/tuned-host";
import { parseJournal, renderJournalLine } from "../../provider/host/journal";
import { FIXTURE_DIR } from "../fixtures/facts/run-script";

interface Registered {
  type: string;
  name: string;
  inputs: Record<string, any>;
}

const registered: Registered[] = [];
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC4R9z/TIOObTKEO64Ptvl8pVbxNHFg9yEu4dEiJJdIx";
// Kernel command-line settings make TunedHost check the host's boot loader: given facts keep these tests offline.
const HV01_FACTS = parseHostFacts(readFileSync(join(FIXTURE_DIR, "hv01-2socket.txt"), "utf8"));

function unwrap<T>(o: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => o.apply((v) => resolve(v)));
}

describe("TunedHost component (mocks)", function () {
  let kvmtune: typeof import("../../index");

  before(async () => {
    await pulumi.runtime.setMocks(
      {
        newResource: (args) => {
          registered.push({ type: args.type, name: args.name, inputs: args.inputs });
          // A HostTuning reports its boot-time settings as pending, as after a first apply.
          const pendingRebootKeys = Object.keys((args.inputs.settings as Record<string, Record<string, string>> | undefined)?.["host-reboot"] ?? {});
          return { id: `${args.name}-id`, state: { ...args.inputs, pendingReboot: pendingRebootKeys.length > 0, pendingRebootKeys, originals: {} } };
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

  beforeEach(() => registered.splice(0));

  // The conflict test leaves outputs that never resolve by design; Pulumi's leak
  // detector would turn a green run's exit code into 1 at process exit.
  after(() => {
    (require("@pulumi/pulumi/runtime/debuggable") as { leakedPromises: () => unknown }).leakedPromises();
  });

  it("turns friendly args into grouped keys on one HostTuning child named <name>-tuning", async () => {
    const host = new kvmtune.TunedHost("hv01", {
      connection: { host: "10.0.0.1", privateKey: pulumi.secret("k"), hostKey: HOST_KEY },
      preset: "virtual-host",
      thp: { enabled: "madvise", defrag: "never" },
      hugepages: { "1G": [2, 2], "2M": 512 },
      sysctl: { "vm.swappiness": 5 },
      schedulers: { nvme0n1: "none" },
      readaheadKb: { sda: 4096 },
      modules: ["vfio-pci"],
      moduleOptions: { kvm_intel: { nested: true } },
      mtu: { eth1: 9000 },
      isolateCpus: "2-15",
      kernelArgs: { intel_iommu: "on", iommu: "pt" },
      ksm: "stop",
      facts: HV01_FACTS,
    });
    const settings = await unwrap(host.settings);
    const child = registered.find((r) => r.name === "hv01-tuning")!;
    assert.equal(child.type, "pulumi-nodejs:dynamic/kvmtune:HostTuning");
    assert.equal(child.inputs.tag, "hv01");
    assert.equal(child.inputs.allowManagementInterface, false);
    assert.deepEqual(settings, {
      live: {
        "block:nvme0n1:scheduler": "none",
        "block:sda:read_ahead_kb": "4096",
        "hugepages:2M": "512",
        "hugetlbfs:1G": "/dev/hugepages1G",
        "hugetlbfs:2M": "/dev/hugepages2M",
        "ksm:run": "0",
        "module:vfio-pci": "loaded",
        "module:vhost_net": "loaded",
        "mtu:eth1": "9000",
        "sysctl:net.ipv4.conf.all.arp_filter": "1",
        "sysctl:vm.dirty_background_ratio": "5",
        "sysctl:vm.dirty_ratio": "10",
        "sysctl:vm.swappiness": "5",
        "thp:defrag": "never",
        "thp:enabled": "madvise",
      },
      "guest-restart": {},
      "host-reboot": {
        "cmdline:intel_iommu": "on",
        "cmdline:iommu": "pt",
        "cmdline:isolcpus": "managed_irq,domain,2-15",
        "cmdline:nohz_full": "2-15",
        "cmdline:rcu_nocbs": "2-15",
        "hugepages:1G:node0": "2",
        "hugepages:1G:node1": "2",
        "modparam:kvm_intel.nested": "1",
      },
    });
  });

  it("takes the connection object of a @pulumi/command remote.Command program unchanged (type and value)", async () => {
    // Typed as @pulumi/command declares it: this file compiling is the type test.
    const conn: command.types.input.remote.ConnectionArgs = {
      host: "10.0.0.14", port: 22, user: "root", privateKey: pulumi.secret("k"), hostKey: HOST_KEY, dialErrorLimit: 3, perDialTimeout: 10,
      proxy: { host: "10.0.0.1", user: "jump", privateKey: pulumi.secret("k"), hostKey: HOST_KEY },
    };
    const hv = new kvmtune.TunedHost("cmd-conn", { connection: conn, sysctl: { "vm.swappiness": 10 }, facts: HV01_FACTS });
    await unwrap(hv.settings);
    const child = registered.find((r) => r.name === "cmd-conn-tuning")!;
    // A secret as a whole (its keys are), with every field as given.
    const given = child.inputs.connection.value;
    assert.deepEqual([given.host, given.dialErrorLimit, given.proxy.user, given.proxy.host, "hostProblems" in child.inputs], ["10.0.0.14", 3, "jump", "10.0.0.1", false]);
    // What @pulumi/command allows and kvmtune does not: an unlimited dial count (and no pinned host key, refused when connecting).
    const { parseConnection } = require("../../provider/spec/connection") as typeof import("../../provider/spec/connection");
    assert.throws(() => parseConnection({ host: "10.0.0.14", password: "pw12", dialErrorLimit: -1 }), (e: Error) => {
      assert.equal(e.message, "invalid connection:\n  - connection.dialErrorLimit: -1 is not accepted; expected an integer from 1 to 20 (unlimited retries are not offered: an unreachable host must fail in bounded time)");
      return true;
    });
  });

  it("passes the connection through as a secret", async () => {
    new kvmtune.TunedHost("hv02", { connection: { host: "10.0.0.2", privateKey: pulumi.secret("k"), hostKey: HOST_KEY }, sysctl: { "vm.swappiness": 10 }, facts: HV01_FACTS });
    await new Promise((r) => setTimeout(r, 100));
    const child = registered.find((r) => r.name === "hv02-tuning")!;
    assert.equal(child.inputs.tag, "hv02");
    assert.equal(JSON.stringify(child.inputs.connection).includes("10.0.0.2"), true);
  });

  it("rejects bad args naming the field, value and what is accepted (planner)", () => {
    assert.throws(
      () => planTuningSettings({ hugepages: { "2M": -1 }, ksm: "maybe", colour: "red" }, `TunedHost "hv03"`),
      (err: Error) => {
        assert.equal(
          err.message,
          `invalid TunedHost "hv03" args:\n  - args.hugepages.2M: -1 is not accepted; expected a whole number of pages (0 or more)\n  - args.ksm: "maybe" is not accepted; expected true/false or "run" | "stop" | "unmerge"\n  - args: unknown field "colour"; accepted fields: preset, thp, hugepages, hugetlbfs, sysctl, arpFilter, schedulers, readaheadKb, nrRequests, modules, moduleOptions, mtu, sriov, isolateCpus, kernelArgs, ksm, governor, settings`,
        );
        return true;
      },
    );
  });

  it("hands bad args (a value from another resource included) to HostTuning's check instead of throwing inside an output", async () => {
    const typo = new kvmtune.TunedHost("hv-typo", { connection: { host: "10.0.0.13", password: "pw12", hostKey: HOST_KEY }, ksm: pulumi.output("maybe") as never, ...({ colour: "red" } as object), facts: HV01_FACTS });
    // Its outputs resolve (nothing rejected), and preview fails in the child's check with the field named.
    await unwrap(typo.settings);
    assert.deepEqual(registered.find((r) => r.name === "hv-typo-tuning")!.inputs.hostProblems, [
      `TunedHost "hv-typo": ksm: "maybe" is not accepted; expected true/false or "run" | "stop" | "unmerge"`,
      `TunedHost "hv-typo": args: unknown field "colour"; accepted fields: preset, thp, hugepages, hugetlbfs, sysctl, arpFilter, schedulers, readaheadKb, nrRequests, modules, moduleOptions, mtu, sriov, isolateCpus, kernelArgs, ksm, governor, settings`,
    ]);
  });

  it("adds a one-shot HostReboot child only with reboot: when-pending", async () => {
    new kvmtune.TunedHost("hv-rb", { connection: { host: "10.0.0.5", password: "pw12", hostKey: HOST_KEY }, isolateCpus: "2-3", reboot: "when-pending", rebootTimeoutSeconds: 900, facts: HV01_FACTS });
    new kvmtune.TunedHost("hv-norb", { connection: { host: "10.0.0.6", password: "pw12", hostKey: HOST_KEY }, isolateCpus: "2-3", facts: HV01_FACTS });
    await new Promise((r) => setTimeout(r, 100));
    const reboot = registered.find((r) => r.name === "hv-rb-reboot")!;
    assert.equal(reboot.type, "pulumi-nodejs:dynamic/kvmtune:HostReboot");
    assert.equal(reboot.inputs.timeoutSeconds, 900);
    // Pending settings carry their values, so a new value of the same key is a new reboot.
    assert.deepEqual(reboot.inputs.pending, ["cmdline:isolcpus=managed_irq,domain,2-3", "cmdline:nohz_full=2-3", "cmdline:rcu_nocbs=2-3"]);
    assert.equal(registered.some((r) => r.name === "hv-norb-reboot"), false);
    // Each resource knows its own row (progress goes there), without waiting for its siblings: a URN Output would
    // depend on the component, i.e. on all its children, and deadlock HostTuning against the HostReboot waiting for it.
    const parent = "urn:pulumi:stack::proj::kvmtune:index:TunedHost$pulumi-nodejs:dynamic/kvmtune";
    assert.equal(registered.find((r) => r.name === "hv-rb-tuning")!.inputs.__kvmtuneUrn, `${parent}:HostTuning::hv-rb-tuning`);
    assert.equal(reboot.inputs.__kvmtuneUrn, `${parent}:HostReboot::hv-rb-reboot`);
    assert.throws(() => new kvmtune.TunedHost("hv-bad", { connection: { host: "10.0.0.7", password: "pw12" }, reboot: "always" as never }), /reboot "always" is not accepted; expected "never" or "when-pending"/);
  });

  it("hands the boot loader refusal to HostTuning's check, naming the field, on a host kvmtune cannot boot-configure", async () => {
    const fedora: HostFacts = { ...HV01_FACTS, hostname: "rhel9", bootloader: { tools: ["grub2-mkconfig", "grubby"], grubConfigs: ["/boot/grub2/grub.cfg"], blsEntries: ["a.conf"] } };
    const refused = new kvmtune.TunedHost("hv-bls", { connection: { host: "10.0.0.10", password: "pw12", hostKey: HOST_KEY }, isolateCpus: "2-3", sysctl: { "vm.swappiness": 10 }, facts: fedora });
    const fine = new kvmtune.TunedHost("hv-deb", { connection: { host: "10.0.0.11", password: "pw12", hostKey: HOST_KEY }, isolateCpus: "2-3", facts: HV01_FACTS });
    // No boot loader setting: no hostProblems.
    const none = new kvmtune.TunedHost("hv-none", { connection: { host: "10.0.0.12", password: "pw12", hostKey: HOST_KEY }, sysctl: { "vm.swappiness": 10 }, facts: HV01_FACTS });
    await Promise.all([unwrap(refused.settings), unwrap(fine.settings), unwrap(none.settings)]);
    const inputs = (n: string) => registered.find((r) => r.name === n)!.inputs;
    assert.deepEqual(inputs("hv-bls-tuning").hostProblems, [
      "isolateCpus: \"2-3\" is not accepted on rhel9 (from its facts): this host boots Boot Loader Specification entries (/boot/loader/entries, managed by grubby); " +
        "kvmtune can only change the kernel command line through GRUB's /etc/default/grub.d with update-grub or grub-mkconfig. " +
        "Set it outside kvmtune (grubby --update-kernel=ALL --args=...) or remove this setting",
    ]);
    assert.equal("hostProblems" in inputs("hv-deb-tuning"), false);
    assert.equal("hostProblems" in inputs("hv-none-tuning"), false);
  });

  it("refuses two TunedHosts owning the same key on one host, naming both, in the second one's check (nothing thrown)", async () => {
    new kvmtune.TunedHost("owner-a", { connection: { host: "10.0.0.9", password: "pw12", hostKey: HOST_KEY }, sysctl: { "vm.swappiness": 10 }, facts: HV01_FACTS });
    const b = new kvmtune.TunedHost("owner-b", { connection: { host: "10.0.0.9", password: "pw12", hostKey: HOST_KEY }, sysctl: { "vm.swappiness": 20, "vm.dirty_ratio": 5 }, facts: HV01_FACTS });
    // Its outputs still resolve: a thrown conflict used to leave them rejected, and inline programs hanging.
    await unwrap(b.settings);
    const inputs = (n: string) => registered.find((r) => r.name === n)!.inputs;
    assert.equal("hostProblems" in inputs("owner-a-tuning"), false);
    assert.deepEqual(inputs("owner-b-tuning").hostProblems, [`TunedHost "owner-b" and TunedHost "owner-a" both set sysctl:vm.swappiness on 10.0.0.9:22; each setting needs exactly one owner`]);
  });

  it("warns at preview about other actors that set its settings at boot, and lists them in bootOverrides", async () => {
    const facts = parseHostFacts(readFileSync(join(FIXTURE_DIR, "boot-actors.txt"), "utf8"));
    const warned: string[] = [];
    let host: InstanceType<typeof kvmtune.TunedHost>;
    const warn = console.warn;
    // Under mocks pulumi.log.warn prints through console.warn.
    console.warn = (m: unknown) => void warned.push(String(m));
    try {
      const conn = { host: "10.0.0.20", password: "pw12", hostKey: HOST_KEY };
      host = new kvmtune.TunedHost("hv-boot", { connection: conn, facts, sysctl: { "vm.swappiness": 10 }, schedulers: { vdb: "mq-deadline" }, readaheadKb: { vdb: 128, vda: 8192 }, mtu: { enp0s3: 9000 }, governor: "schedutil" });
      const quiet = new kvmtune.TunedHost("hv-quiet", { connection: { ...conn, host: "10.0.0.21" }, facts, sysctl: { "vm.dirty_ratio": 10 }, readaheadKb: { vda: 8192 } });
      const tp = "tuned profile throughput-performance (/usr/lib/tuned/throughput-performance/tuned.conf)";
      const expected = [
        "sysctl:vm.swappiness: /etc/sysctl.d/99-sysctl.conf sets 60 after kvmtune's 90-kvmtune-hv-boot.conf, so the host boots with 60, not 10",
        "block:vdb:scheduler: /etc/udev/rules.d/99-io-sched.rules sets bfq after kvmtune's 90-kvmtune-hv-boot-block.rules, so the host boots with bfq, not mq-deadline",
        `block:vdb:read_ahead_kb: ${tp} sets >4096 after kvmtune's 90-kvmtune-hv-boot-block.rules, so the host boots with 4096, not 128`,
        "mtu:enp0s3: /etc/systemd/network/10-mtu.link also sets 1400 when udev sets up enp0s3, so the host may boot with 1400, not 9000",
        `cpufreq:governor: ${tp} sets performance after kvmtune's tmpfiles.d/kvmtune-hv-boot.conf, so the host boots with performance, not schedutil`,
      ];
      assert.deepEqual(await unwrap(host.bootOverrides), expected);
      assert.deepEqual(await unwrap(quiet.bootOverrides), []);
      assert.deepEqual(warned.filter((w) => w.includes("hv-boot") || w.includes("mtu:")), expected.map((m) => `warning: [runtime] ${m}`));
    } finally {
      console.warn = warn;
    }
    // Warnings only: the settings go to HostTuning unchanged.
    assert.deepEqual(Object.keys((await unwrap(host.settings)).live).sort(), [
      "block:vda:read_ahead_kb", "block:vdb:read_ahead_kb", "block:vdb:scheduler", "cpufreq:governor", "mtu:enp0s3", "sysctl:vm.swappiness",
    ]);
  });
});

describe("TunedHost component and the host's journal (mocks)", function () {
  let kvmtune: typeof import("../../index");
  before(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    kvmtune = require("../../index");
  });
  beforeEach(() => registered.splice(0));

  const journalFacts = (): HostFacts => ({
    ...HV01_FACTS,
    journal: parseJournal(`${renderJournalLine({ key: "sysctl:vm.swappiness", stack: "acme/kvm/lab", resource: "other", tag: "other", original: "60", since: "2026-12-01T00:00:00.000Z" })}\n`),
  });

  it("names this stack and resource as the owner, and refuses at preview a key another stack recorded first", async () => {
    const conn = { host: "10.0.0.30", password: "pw12", hostKey: HOST_KEY };
    const refused = new kvmtune.TunedHost("hv-j1", { connection: conn, sysctl: { "vm.swappiness": 10 }, facts: journalFacts() });
    const taken = new kvmtune.TunedHost("hv-j2", { connection: { ...conn, host: "10.0.0.31" }, sysctl: { "vm.swappiness": 10 }, facts: journalFacts(), takeOver: ["sysctl:vm.swappiness"] });
    await Promise.all([unwrap(refused.settings), unwrap(taken.settings)]);
    const inputs = (n: string) => registered.find((r) => r.name === n)!.inputs;
    assert.deepEqual(inputs("hv-j1-tuning").owner, { stack: "organization/proj/stack", resource: "hv-j1" });
    assert.deepEqual(inputs("hv-j1-tuning").hostProblems, [
      'sysctl:vm.swappiness is owned by TunedHost "other" of stack acme/kvm/lab since 2026-12-01T00:00:00.000Z (journal /var/lib/kvmtune/journal); a setting has one owner per host. ' +
        'Leave it to that owner, or take it over with takeOver: ["sysctl:vm.swappiness"] (the recorded original, "60", is kept for the last owner\'s destroy)',
    ]);
    assert.equal("hostProblems" in inputs("hv-j2-tuning"), false);
    assert.deepEqual(inputs("hv-j2-tuning").takeOver, ["sysctl:vm.swappiness"]);
  });

  it("hands its customTimeouts to HostTuning, which bounds each remote step with them", async () => {
    const host = new kvmtune.TunedHost("hv-t", { connection: { host: "10.0.0.32", password: "pw12", hostKey: HOST_KEY }, sysctl: { "vm.swappiness": 10 }, facts: HV01_FACTS }, { customTimeouts: { create: "5m", delete: "90s" } });
    await unwrap(host.settings);
    assert.deepEqual(registered.find((r) => r.name === "hv-t-tuning")!.inputs.timeouts, { create: "5m", delete: "90s" });
  });
});
