// Device NUMA affinity: a passthrough function, VF or NVMe disk on node N pulls the guest to node N
// ("required", "preferred" or "none", as Nova's hw:pci_numa_affinity_policy). hv01: node0 is CPUs
// 0-3,8-11 (0 and 8 housekeeping), node1 is 4-7,12-14 (15 offline).
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseHostFacts } from "../../provider/host/facts";
import { resolveDeviceNodes } from "../../provider/plan/device-nodes";
import { HostLedger } from "../../provider/plan/ledger";
import { planPlacement } from "../../provider/plan/placement";
import type { PlacementRequest } from "../../provider/plan/request";
import { hv01 } from "../fixtures/topologies/named";

const nic = { device: "enp65s0f0", node: 1 };
const nvme = { device: "nvme0n1", node: 0 };
const guest = (extra: Partial<PlacementRequest> = {}): PlacementRequest => ({ name: "db", vcpus: 2, memoryMiB: 1024, ...extra });
const nodesOf = (r: ReturnType<typeof planPlacement>) => (r.ok ? r.plan.nodeset : r.reasons);

describe("device NUMA affinity", () => {
  it("without devices a 2-vCPU guest takes the best-fit node0; a device on node1 pulls it there (default \"preferred\")", () => {
    assert.deepEqual(nodesOf(planPlacement(hv01(), guest())), [0]);
    const r = planPlacement(hv01(), guest({ deviceNodes: [nic] }));
    assert.ok(r.ok);
    assert.deepEqual([r.plan.nodeset, r.plan.vcpuPins, r.notes], [[1], [4, 12], undefined]);
    assert.deepEqual(nodesOf(planPlacement(hv01(), guest({ deviceNodes: [nic], deviceAffinity: "required" }))), [1]);
    assert.deepEqual(nodesOf(planPlacement(hv01(), guest({ deviceNodes: [nic], deviceAffinity: "none" }))), [0]);
  });

  it("devices on two nodes give the guest a cell on each", () => {
    const r = planPlacement(hv01(), guest({ vcpus: 4, deviceNodes: [nic, nvme], deviceAffinity: "required" }));
    assert.ok(r.ok);
    assert.deepEqual(r.plan.cells.map((c) => [c.hostNode, c.vcpus]), [[0, [0, 1]], [1, [2, 3]]]);
  });

  it("\"required\" refuses when the device's node is full, naming the device; \"preferred\" places elsewhere and says so", () => {
    const ledger = new HostLedger(hv01());
    assert.ok(ledger.place({ name: "big", vcpus: 7, memoryMiB: 1024, nodes: [1] }).ok);
    const req = guest({ vcpus: 2, deviceNodes: [nic], deviceAffinity: "required" });
    assert.deepEqual(nodesOf(ledger.place(req)), [
      `deviceAffinity "required": the guest needs a cell on node1 (enp65s0f0 on node1); no split of it that includes that node fits`,
      "needs 2 CPUs within one NUMA node; node1 has 0 free",
      "needs 1 CPU on each of 2 NUMA nodes; node1 has 0 free",
    ]);
    const r = ledger.place({ ...req, deviceAffinity: "preferred" });
    assert.ok(r.ok);
    assert.deepEqual([r.plan.nodeset, r.notes], [
      [0],
      [`deviceAffinity "preferred": no plan with a cell on node1 (enp65s0f0 on node1) fits, so the guest is placed on node0; device DMA and interrupts cross nodes`],
    ]);
  });

  it("a device of unknown node, or on a node the guest may not use, does not pull it; notes say so", () => {
    const r = planPlacement(hv01(), guest({ nodes: [0], deviceNodes: [{ device: "0000:81:00.1", node: null }, nic], deviceAffinity: "required" }));
    assert.ok(r.ok);
    assert.deepEqual([r.plan.nodeset, r.notes], [
      [0],
      [
        "deviceAffinity: the NUMA node of 0000:81:00.1 is unknown (numa_node -1), so it does not pull the guest",
        "deviceAffinity: enp65s0f0 on node1 outside the guest's nodes 0, so that node does not pull the guest",
      ],
    ]);
  });
});

describe("resolveDeviceNodes (hv01's facts)", () => {
  const facts = parseHostFacts(readFileSync(join(__dirname, "../fixtures/facts/hv01-2socket.txt"), "utf8"));

  it("finds PCI functions, NICs and block devices by kernel name, /dev path or by-id link", () => {
    const r = resolveDeviceNodes(facts, ["0000:5E:00.0", "eno1", "nvme0n1", "/dev/sda", "/dev/disk/by-id/nvme-SAMSUNG_MZQL2960HCJR-00A07_S64FNE0R123456", "br0"]);
    assert.deepEqual(r, {
      nodes: [
        { device: "0000:5E:00.0", node: 1 },
        { device: "eno1", node: 0 },
        { device: "nvme0n1", node: 1 },
        { device: "/dev/sda", node: 0 },
        { device: "/dev/disk/by-id/nvme-SAMSUNG_MZQL2960HCJR-00A07_S64FNE0R123456", node: 1 },
        { device: "br0", node: null },
      ],
      problems: [],
    });
  });

  it("names every device the host does not have, bounded, with what is accepted", () => {
    assert.deepEqual(resolveDeviceNodes(facts, ["0000:99:00.0", "../../etc/passwd", "x".repeat(300)]).problems, [
      `numaDevices[0]: "0000:99:00.0" is not a PCI function, network interface or block device of host hv01; expected e.g. "0000:41:00.0", "enp65s0f0" or "/dev/nvme0n1"`,
      `numaDevices[1]: "../../etc/passwd" is not a PCI function, network interface or block device of host hv01; expected e.g. "0000:41:00.0", "enp65s0f0" or "/dev/nvme0n1"`,
      `numaDevices[2]: "${"x".repeat(80)}…" is not a PCI function, network interface or block device of host hv01; expected e.g. "0000:41:00.0", "enp65s0f0" or "/dev/nvme0n1"`,
    ]);
  });
});
