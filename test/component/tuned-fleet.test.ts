// TunedFleet wiring under Pulumi mocks: one TunedHost per host with the common
// args merged in, batches in order, options reaching every host, and arg errors
// before anything is registered. The ordering itself (a batch waits for the one
// before it; a failure stops the later batches) is proven by the engine test.
import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC4R9z/TIOObTKEO64Ptvl8pVbxNHFg9yEu4dEiJJdIx";
const registered: { type: string; name: string; inputs: Record<string, any> }[] = [];
const on = (host: string) => ({ host, privateKey: pulumi.secret("k"), hostKey: HOST_KEY });

describe("TunedFleet component (mocks)", function () {
  let kvmtune: typeof import("../../index");
  before(async () => {
    await pulumi.runtime.setMocks(
      {
        newResource: (a) => {
          registered.push({ type: a.type, name: a.name, inputs: a.inputs });
          return { id: `${a.name}-id`, state: { ...a.inputs, pendingReboot: false, pendingRebootKeys: [], originals: {} } };
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

  it("makes one TunedHost per host, in batches (canary first), each with the common args and its own", async () => {
    const fleet = new kvmtune.TunedFleet("rack1", {
      hosts: { hv01: { connection: on("10.9.0.1") }, hv02: { connection: on("10.9.0.2"), sysctl: { "vm.swappiness": 5 } }, hv03: { connection: on("10.9.0.3") } },
      common: { sysctl: { "vm.swappiness": 10 }, arpFilter: true },
      batchSize: 1,
    }, { customTimeouts: { create: "3m" }, retainOnDelete: true });
    assert.deepEqual(fleet.batches, [["hv01"], ["hv02"], ["hv03"]]);
    assert.deepEqual(Object.keys(fleet.hosts), ["hv01", "hv02", "hv03"]);
    await new Promise((r) => setTimeout(r, 200));
    const live = (n: string) => registered.find((r) => r.name === `${n}-tuning`)!.inputs.settings.live;
    assert.deepEqual(live("hv01"), { "sysctl:net.ipv4.conf.all.arp_filter": "1", "sysctl:vm.swappiness": "10" });
    // The host's own sysctl map replaces the common one as a whole.
    assert.deepEqual(live("hv02"), { "sysctl:net.ipv4.conf.all.arp_filter": "1", "sysctl:vm.swappiness": "5" });
    const hv03 = registered.find((r) => r.name === "hv03-tuning")!.inputs;
    assert.deepEqual(hv03.timeouts, { create: "3m" });
    assert.equal(hv03.tag, "hv03");
  });

  it("refuses unknown fields and bad batch counts before registering anything", async () => {
    assert.throws(() => new kvmtune.TunedFleet("bad", { hosts: { a: { connection: on("10.9.1.1") } }, batches: 2 } as never), {
      message: 'invalid TunedFleet "bad" args:\n  - batches: unknown field; accepted fields: hosts, common, canaries, batchSize',
    });
    assert.throws(() => new kvmtune.TunedFleet("bad2", { hosts: { a: { connection: on("10.9.1.1") }, b: { connection: on("10.9.1.2") } }, canaries: 3 }), {
      message: 'invalid TunedFleet "bad2" args:\n  - canaries: 3 is not accepted; expected an integer from 0 to 2 (the number of hosts)',
    });
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(registered.filter((r) => ["bad", "bad2", "a", "b"].includes(r.name) || r.name.startsWith("a-") || r.name.startsWith("b-")), []);
  });
});
