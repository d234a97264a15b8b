// readHostFacts through kvmtune's own transport: one connection, one command.
import { strict as assert } from "node:assert";
import { readHostFacts } from "../../provider/host/read-facts";
import { resetTransportCounts, transportCounts } from "../../provider/transport";
import { sharedTestVm } from "../support/shared-vm";
import type { TestVm } from "../support/vm";

describe("readHostFacts over the SSH transport (real-kernel VM)", function () {
  this.timeout(180_000);
  let vm: TestVm;
  before(async () => {
    vm = await sharedTestVm();
  });

  it("uses exactly 1 connection and 1 remote command, and matches what qemu was told", async () => {
    resetTransportCounts();
    const facts = await readHostFacts({ host: vm.host, port: vm.port, user: "root", privateKey: vm.privateKey, hostKey: vm.hostKey });
    assert.deepEqual(transportCounts(`127.0.0.1:${vm.port}`), { connections: 1, commands: 1 });
    assert.deepEqual(facts.numaNodes.map((n) => ({ node: n.id, cpus: n.cpus })), vm.told.numa.map((n) => ({ node: n.node, cpus: n.cpus })));
    assert.deepEqual(facts.blockDevices.filter((d) => d.name.startsWith("vd")).map((d) => ({ serial: d.serial, sizeBytes: d.sizeBytes })), vm.told.disks);
    assert.deepEqual(facts.network.nics.filter((n) => n.name === "eth0").map((n) => ({ mac: n.mac, driver: n.driver })), [{ mac: vm.told.nic.mac, driver: "virtio_net" }]);
    // The transport passed SSH_CONNECTION on, so the management NIC is known.
    assert.equal(facts.network.ssh?.interface, "eth0");
  });

  it("gives the same facts through a noisy login shell", async () => {
    const quiet = await readHostFacts({ host: vm.host, port: vm.port, user: "root", privateKey: vm.privateKey, hostKey: vm.hostKey });
    const noisy = await readHostFacts({ host: vm.host, port: vm.port, user: "noisy", privateKey: vm.privateKey, hostKey: vm.hostKey, sudo: false });
    assert.deepEqual({ ...noisy, network: { ...noisy.network, ssh: null } }, { ...quiet, network: { ...quiet.network, ssh: null }, memory: { ...quiet.memory, freeKiB: noisy.memory.freeKiB, availableKiB: noisy.memory.availableKiB }, numaNodes: quiet.numaNodes.map((n, i) => ({ ...n, memFreeKiB: noisy.numaNodes[i].memFreeKiB })) });
  });
});
