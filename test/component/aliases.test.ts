// Renaming a component with `aliases` (issue #14): what kvmtune derives from the name
// (persistence file tag, journal owner, default domain name, derived MAC) keeps the old
// name, so the children's inputs do not change; the children's own names carry the new one.
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parseHostFacts } from "../../provider/host/facts";
import { stableMac } from "../../provider/plan/vhost-net";
import { hostIdentityName } from "../../components/stable-name";
import { FIXTURE_DIR } from "../fixtures/facts/run-script";
import { withoutIsolation } from "../fixtures/topologies/named";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC4R9z/TIOObTKEO64Ptvl8pVbxNHFg9yEu4dEiJJdIx";
const facts = withoutIsolation(parseHostFacts(readFileSync(join(FIXTURE_DIR, "hv01-2socket.txt"), "utf8")));
const registered: { type: string; name: string; inputs: Record<string, any> }[] = [];
const settle = () => new Promise((r) => setTimeout(r, 100));
const find = (name: string) => {
  const r = registered.find((x) => x.name === name);
  assert.ok(r, `${name} was not registered; registered: ${registered.map((x) => x.name).join(", ")}`);
  return r;
};
const URN_OLD = "urn:pulumi:stack::proj::kvmtune:index:TunedHost::hv-urn-old";

describe("hostIdentityName", () => {
  it("is the name without aliases, or with aliases that carry no name", () => {
    assert.equal(hostIdentityName("hv"), "hv");
    assert.equal(hostIdentityName("hv", {}), "hv");
    assert.equal(hostIdentityName("hv", { aliases: [] }), "hv");
    assert.equal(hostIdentityName("hv", { aliases: [{ parent: pulumi.rootStackResource }, { stack: "old-stack" }, { name: "" }] }), "hv");
  });

  it("is the first literal alias name: an Alias object's name, or the name after a URN's last '::'", () => {
    assert.equal(hostIdentityName("hv-new", { aliases: [{ name: "hv-old" }] }), "hv-old");
    assert.equal(hostIdentityName("hv-new", { aliases: [{ name: "hv-old", type: "kvmtune:index:TunedHost", parent: undefined }] }), "hv-old");
    assert.equal(hostIdentityName("hv-new", { aliases: [URN_OLD] }), "hv-urn-old");
    assert.equal(hostIdentityName("hv-3", { aliases: [{ stack: "x" }, { name: "hv-1" }, { name: "hv-2" }] }), "hv-1");
  });

  it("ignores aliases known only later (Outputs, Promises, Output-valued names) and strings that are no URN", () => {
    assert.equal(hostIdentityName("hv-new", { aliases: [pulumi.output(URN_OLD), pulumi.output({ name: "x" } as pulumi.Alias)] }), "hv-new");
    assert.equal(hostIdentityName("hv-new", { aliases: [Promise.resolve(URN_OLD) as unknown as string] }), "hv-new");
    assert.equal(hostIdentityName("hv-new", { aliases: [{ name: pulumi.output("hv-old") }] }), "hv-new");
    assert.equal(hostIdentityName("hv-new", { aliases: ["hv-old", "urn:pulumi:s::p::t::"] }), "hv-new");
    assert.equal(hostIdentityName("hv-new", { aliases: [pulumi.output("x"), { name: "hv-old" }] }), "hv-old");
  });
});

describe("components renamed with aliases (mocks)", function () {
  let kvmtune: typeof import("../../index");

  before(async () => {
    await pulumi.runtime.setMocks(
      {
        newResource: (a) => {
          registered.push({ type: a.type, name: a.name, inputs: a.inputs });
          return {
            id: `${a.name}-id`,
            state: { ...a.inputs, pendingReboot: false, pendingRebootKeys: [], originals: {}, xml: "<domain/>", attachedLive: true, restartRequired: false, restartReasons: [], drift: [], notes: [], device: null },
          };
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
  after(() => {
    (require("@pulumi/pulumi/runtime/debuggable") as { leakedPromises: () => unknown }).leakedPromises();
  });

  it("TunedHost: the HostTuning child keeps the old name's tag and journal owner; its own name is the new one", async () => {
    const connection = { host: "10.2.0.1", privateKey: pulumi.secret("k"), hostKey: HOST_KEY };
    new kvmtune.TunedHost("hv-new", { connection, facts, sysctl: { "vm.swappiness": 7 } }, { aliases: [{ name: "hv-old" }] });
    new kvmtune.TunedHost("hv-urn-new", { connection: { ...connection, host: "10.2.0.2" }, facts, sysctl: { "vm.swappiness": 7 } }, { aliases: [URN_OLD] });
    new kvmtune.TunedHost("hv-plain", { connection: { ...connection, host: "10.2.0.3" }, facts, sysctl: { "vm.swappiness": 7 } });
    await settle();
    const tuning = find("hv-new-tuning");
    assert.equal(tuning.type, "pulumi-nodejs:dynamic/kvmtune:HostTuning");
    assert.equal(tuning.inputs.tag, "hv-old");
    assert.equal(tuning.inputs.owner.resource, "hv-old");
    assert.match(tuning.inputs.owner.stack, /\/proj\/stack$/);
    assert.equal(find("hv-urn-new-tuning").inputs.tag, "hv-urn-old");
    assert.equal(find("hv-urn-new-tuning").inputs.owner.resource, "hv-urn-old");
    // Without aliases, nothing changes.
    assert.equal(find("hv-plain-tuning").inputs.tag, "hv-plain");
    assert.equal(find("hv-plain-tuning").inputs.owner.resource, "hv-plain");
    assert.equal(registered.some((r) => r.name.startsWith("hv-old")), false);
  });

  it("NumaPinnedGuest: the default domain name and the domain's journal owner keep the old name; an explicit domainName wins", async () => {
    const connection = { host: "10.2.0.4", privateKey: pulumi.secret("k"), hostKey: HOST_KEY };
    const guest = new kvmtune.NumaPinnedGuest("g-new", { host: connection, facts, vcpus: 2, memoryMiB: 512 }, { aliases: [{ name: "g-old" }] });
    new kvmtune.NumaPinnedGuest("g2-new", { host: connection, facts, vcpus: 2, memoryMiB: 512, domainName: "g2-dom" }, { aliases: [{ name: "g2-old" }] });
    await settle();
    const domain = find("g-new-domain");
    assert.equal(domain.type, "pulumi-nodejs:dynamic/kvmtune:LibvirtDomain");
    assert.equal(domain.inputs.name, "g-old");
    assert.equal(domain.inputs.owner.resource, "g-old-domain");
    assert.deepEqual(domain.inputs.planProblems, []);
    assert.equal(await new Promise((resolve) => guest.domainName.apply(resolve)), "g-old");
    assert.equal(find("g2-new-domain").inputs.name, "g2-dom");
    assert.equal(find("g2-new-domain").inputs.owner.resource, "g2-old-domain");
  });

  it("VhostNetwork: keeps its derived MAC, its NIC's owner and its host side's tag; the host side is aliased too", async () => {
    const connection = { host: "10.2.0.5", privateKey: pulumi.secret("k"), hostKey: HOST_KEY };
    const childAliases = new Map<string, unknown>();
    // A component's transformations see each child's options, aliases included.
    const record: pulumi.ResourceTransformation = (a) => {
      childAliases.set(a.name, a.opts.aliases);
      return undefined;
    };
    const net = new kvmtune.VhostNetwork("n-new", { guest: { connection, domain: "db5" }, facts, source: "br0" }, { aliases: [{ name: "n-old" }], transformations: [record] });
    await settle();
    assert.equal(net.mac, stableMac("n-old"));
    assert.notEqual(net.mac, stableMac("n-new"));
    const nic = find("n-new-nic");
    assert.equal(nic.inputs.interface.mac, stableMac("n-old"));
    assert.equal(nic.inputs.owner.resource, "n-old-nic");
    const tuning = find("n-new-host-tuning");
    assert.equal(tuning.inputs.tag, "n-old-host");
    assert.equal(tuning.inputs.owner.resource, "n-old-host");
    assert.deepEqual(childAliases.get("n-new-host"), [{ name: "n-old-host" }]);
    // Not renamed: no alias is added to the host side.
    new kvmtune.VhostNetwork("n-plain", { guest: { connection: { ...connection, host: "10.2.0.6" }, domain: "db6" }, facts, source: "br0" }, { transformations: [record] });
    await settle();
    assert.equal(childAliases.get("n-plain-host"), undefined);
    assert.equal(find("n-plain-host-tuning").inputs.tag, "n-plain-host");
  });

  it("PassthroughDisk: the device's journal owner keeps the old name", async () => {
    const connection = { host: "10.2.0.7", privateKey: pulumi.secret("k"), hostKey: HOST_KEY };
    new kvmtune.PassthroughDisk("d-new", { guest: { connection, domain: "db7" }, facts, path: "/dev/sdc" }, { aliases: [{ name: "d-old" }] });
    await settle();
    assert.equal(find("d-new-dev").inputs.owner.resource, "d-old-dev");
  });
});
