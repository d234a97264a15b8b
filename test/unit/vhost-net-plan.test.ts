// The vhost interface planner on a fixture host (bridge br0 MTU 9000 over eno1, eno2, virbr0).
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseHostFacts } from "../../provider/host/facts";
import { applyOwnedParts, parseDomainXml, readOwnedParts, renderDomainXml } from "../../provider/libvirt";
import { planVhostInterface, stableMac } from "../../provider/plan/vhost-net";
import { FIXTURE_DIR } from "../fixtures/facts/run-script";
import { assertValidDomain } from "./domain-tools.test";

const hv01 = parseHostFacts(readFileSync(join(FIXTURE_DIR, "hv01-2socket.txt"), "utf8"));
const MINIMAL = readFileSync(join(__dirname, "..", "fixtures", "domains", "minimal.inactive.xml"), "utf8");

describe("vhost interface planner", () => {
  it("derives a stable unicast MAC from the name", () => {
    assert.equal(stableMac("db1-net"), stableMac("db1-net"));
    assert.notEqual(stableMac("db1-net"), stableMac("db2-net"));
    assert.match(stableMac("db1-net"), /^52:54:00(:[0-9a-f]{2}){3}$/);
  });

  it("plans a multiqueue vhost interface on a bridge: queues = min(vCPUs, 8), MTU up to the bridge's", () => {
    const r = planVhostInterface(hv01, { name: "db1-net", guestVcpus: 16, type: "bridge", source: "br0", mtu: 9000 }, { arpFilter: true });
    assert.deepEqual(r, {
      ok: true,
      plan: { mac: stableMac("db1-net"), part: { type: "bridge", source: { attributes: { bridge: "br0" } }, model: "virtio", driver: { name: "vhost", queues: 8 }, mtu: 9000 }, notes: [] },
    });
  });

  it("renders into a domain that libvirt's schema accepts, and reads back the same part", () => {
    const r = planVhostInterface(hv01, { name: "db1-net", guestVcpus: 2, type: "bridge", source: "br0", mtu: 9000, rxQueueSize: 1024, txQueueSize: 256 }, { arpFilter: true });
    assert.ok(r.ok);
    const doc = parseDomainXml(MINIMAL);
    applyOwnedParts(doc, { interfaces: { [r.plan.mac]: r.plan.part } });
    const xml = renderDomainXml(doc);
    assertValidDomain(xml, "vhost interface");
    assert.deepEqual(readOwnedParts(parseDomainXml(xml)).interfaces[r.plan.mac]?.driver, { name: "vhost", queues: 2, rx_queue_size: 1024, tx_queue_size: 256 });
  });

  it("refuses every bad value at once, naming field, value and what is accepted", () => {
    const r = planVhostInterface(hv01, { name: "x", guestVcpus: 4, type: "bridge", source: "eno1", queues: 300, mtu: 9001, mac: "01:00:5e:00:00:01", rxQueueSize: 4096 });
    assert.deepEqual(r, {
      ok: false,
      reasons: [
        "queues: 300 is not accepted; expected a whole number from 1 to 256",
        `mac: "01:00:5e:00:00:01" is a multicast address; expected a unicast MAC (even first octet)`,
        "rxQueueSize: 4096 is not accepted; expected 256, 512 or 1024",
        `source: eno1 is not a bridge (it is a port of br0); use type "direct" for a NIC, or name its bridge`,
      ],
    });
    assert.deepEqual(planVhostInterface(hv01, { name: "x", guestVcpus: 2, type: "bridge", source: "br0", queues: 4, mtu: 65536, mac: "52:54:00:ZZ:00:01" }), {
      ok: false,
      reasons: [
        "queues: 4 is more than the guest's 2 vCPUs; expected at most 2 (one queue per vCPU)",
        `mac: "52:54:00:ZZ:00:01" is not accepted; expected six lower-case hex pairs such as 52:54:00:12:34:56`,
        "mtu: 65536 is not accepted; expected 68 to 65535",
      ],
    });
  });

  it("refuses an MTU above the bridge's, a missing bridge, shell text, and a host without /dev/vhost-net", () => {
    assert.deepEqual(planVhostInterface(hv01, { name: "x", guestVcpus: 2, type: "bridge", source: "virbr0", mtu: 9000 }, { arpFilter: true }), {
      ok: false,
      reasons: ["mtu: 9000 is more than virbr0's MTU 1500; raise it on the host first (TunedHost mtu: { virbr0: 9000 })"],
    });
    assert.deepEqual(planVhostInterface(hv01, { name: "x", guestVcpus: 2, type: "bridge", source: "br9" }, { arpFilter: true }), {
      ok: false,
      reasons: [`source: bridge "br9" does not exist on this host; it has br0, eno1, eno2, enp24s2, lo, virbr0, vnet0`],
    });
    assert.deepEqual(planVhostInterface(hv01, { name: "x", guestVcpus: 2, type: "network", source: "default;reboot" }, { arpFilter: true }), {
      ok: false,
      reasons: [`source: "default;reboot" is not accepted; expected an interface or network name (letters, digits, '_', '.', '-'; at most 15)`],
    });
    const noVhost = { ...hv01, virt: { ...hv01.virt, vhostNetDevice: false } };
    const r = planVhostInterface(noVhost, { name: "x", guestVcpus: 2, type: "network", source: "default" }, { arpFilter: true });
    assert.deepEqual(r, { ok: false, reasons: [`/dev/vhost-net is missing on ${hv01.hostname}; load vhost_net (TunedHost modules: ["vhost_net"]). kvmtune never falls back to userspace virtio`] });
    assert.equal(planVhostInterface(noVhost, { name: "x", guestVcpus: 2, type: "network", source: "default" }, { arpFilter: true, vhostModuleManaged: true }).ok, true);
  });

  it("advises arp_filter when NICs share a subnet", () => {
    const shared = { ...hv01, network: { ...hv01.network, nics: hv01.network.nics.map((n) => (n.name === "eno2" ? { ...n, ipv4: ["192.168.10.12/24"] } : n)) } };
    const r = planVhostInterface(shared, { name: "x", guestVcpus: 2, type: "network", source: "default" });
    assert.ok(r.ok);
    assert.deepEqual(r.plan.notes, ["br0, eno2 share 192.168.10.0/24: set arpFilter: true on the TunedHost so each NIC answers ARP only for its own address"]);
  });
});
