// TunedHost wiring under Pulumi mocks: the child HostTuning's inputs.
import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { planTuningSettings } from "../../provider/spec/tuned-host";

interface Registered {
  type: string;
  name: string;
  inputs: Record<string, any>;
}

const registered: Registered[] = [];
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC4R9z/TIOObTKEO64Ptvl8pVbxNHFg9yEu4dEiJJdIx";

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
          return { id: `${args.name}-id`, state: { ...args.inputs, pendingReboot: false, originals: {} } };
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
        "hugepages:1G:node0": "2",
        "hugepages:1G:node1": "2",
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
        "modparam:kvm_intel.nested": "1",
      },
    });
  });

  it("passes the connection through as a secret", async () => {
    new kvmtune.TunedHost("hv02", { connection: { host: "10.0.0.2", privateKey: pulumi.secret("k"), hostKey: HOST_KEY }, sysctl: { "vm.swappiness": 10 } });
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

  it("adds a one-shot HostReboot child only with reboot: when-pending", async () => {
    new kvmtune.TunedHost("hv-rb", { connection: { host: "10.0.0.5", password: "pw12", hostKey: HOST_KEY }, isolateCpus: "2-3", reboot: "when-pending", rebootTimeoutSeconds: 900 });
    new kvmtune.TunedHost("hv-norb", { connection: { host: "10.0.0.6", password: "pw12", hostKey: HOST_KEY }, isolateCpus: "2-3" });
    await new Promise((r) => setTimeout(r, 100));
    const reboot = registered.find((r) => r.name === "hv-rb-reboot")!;
    assert.equal(reboot.type, "pulumi-nodejs:dynamic/kvmtune:HostReboot");
    assert.equal(reboot.inputs.timeoutSeconds, 900);
    assert.equal(registered.some((r) => r.name === "hv-norb-reboot"), false);
    assert.throws(() => new kvmtune.TunedHost("hv-bad", { connection: { host: "10.0.0.7", password: "pw12" }, reboot: "always" as never }), /reboot "always" is not accepted; expected "never" or "when-pending"/);
  });

  it("refuses two TunedHosts owning the same key on one host, naming both", async () => {
    
    assert.ok(planTuningSettings({ sysctl: { "vm.swappiness": 1 } }));
    const a = new kvmtune.TunedHost("owner-a", { connection: { host: "10.0.0.9", password: "pw12", hostKey: HOST_KEY }, sysctl: { "vm.swappiness": 10 } });
    await unwrap(a.settings);
    const b = new kvmtune.TunedHost("owner-b", { connection: { host: "10.0.0.9", password: "pw12", hostKey: HOST_KEY }, sysctl: { "vm.swappiness": 20, "vm.dirty_ratio": 5 } });
    const outcome = await new Promise<string>((resolve) => {
      process.once("unhandledRejection", (e) => resolve(String((e as Error).message)));
      b.settings.apply((v) => resolve(`resolved ${JSON.stringify(v)}`));
      setTimeout(() => resolve("timeout"), 2000);
    });
    assert.equal(outcome, `error serializing property "settings": TunedHost "owner-b" and TunedHost "owner-a" both set sysctl:vm.swappiness on 10.0.0.9:22; each setting needs exactly one owner`);
  });
});
