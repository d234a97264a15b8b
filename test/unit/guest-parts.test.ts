// Placement plan -> owned domain parts -> real libvirt XML (validated and re-parsed by libvirt).
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { applyOwnedParts, diffOwnedParts, parseDomainXml, readOwnedParts, renderDomainXml } from "../../provider/libvirt";
import { planToDomainParts, pinMap } from "../../provider/plan/guest-parts";
import { planPlacement } from "../../provider/plan/placement";
import type { PlacementPlan } from "../../provider/plan/placement-types";
import { hv01 } from "../fixtures/topologies/named";
import { assertValidDomain, libvirtRedump } from "./domain-tools.test";

const MINIMAL = readFileSync(join(__dirname, "..", "fixtures", "domains", "minimal.inactive.xml"), "utf8");
const UUID = "6b766d74-0000-4000-8000-000000000001";

function place(request: Parameters<typeof planPlacement>[1]): PlacementPlan {
  const r = planPlacement(hv01(), request);
  if (!r.ok) assert.fail(r.reasons.join("\n"));
  return r.plan;
}

describe("placement plan -> domain parts", () => {
  it("maps a one-node hugepage guest: pins, emulator, iothreads, strict numatune, 2M backing, mirrored topology", () => {
    const plan = place({ name: "db", vcpus: 4, memoryMiB: 2048, hugepages: "2M", iothreads: 1, emulatorPolicy: "isolate" });
    const parts = planToDomainParts(plan, { cpuMode: "maximum", osinfo: "http://debian.org/debian/12" });
    assert.deepEqual(parts.cputune!.vcpupin, plan.vcpuPins.map((cpu, vcpu) => ({ vcpu, cpuset: String(cpu) })));
    assert.deepEqual(parts.numatune, { memory: { mode: "strict", nodeset: String(plan.nodeset[0]) }, memnode: [] });
    assert.deepEqual(parts.memoryBacking, { hugepages: [{ size: 2048, unit: "KiB" }], locked: false });
    assert.deepEqual(parts.cpu!.topology, { sockets: 1, cores: plan.topology.cores, threads: plan.topology.threads });
    assert.equal(parts.cpu!.numa, null);
    assert.deepEqual(parts.iothreads, { count: 1 });
    assert.deepEqual(pinMap(plan), Object.fromEntries(plan.vcpuPins.map((c, i) => [`vcpu${i}`, c])));
  });

  it("maps a guest spanning two nodes to two guest cells with memnodes, and libvirt accepts and re-dumps it unchanged", () => {
    const plan = place({ name: "big", vcpus: 12, memoryMiB: 4096, hugepages: "1G", guestNumaCells: 2 });
    assert.equal(plan.cells.length, 2);
    const parts = planToDomainParts(plan, { cpuMode: "maximum" });
    assert.deepEqual(parts.numatune!.memnode, plan.cells.map((c) => ({ cellid: c.id, mode: "strict", nodeset: String(c.hostNode) })));
    assert.deepEqual(parts.memoryBacking!.hugepages, [{ size: 1048576, unit: "KiB", nodeset: "0-1" }]);
    const doc = parseDomainXml(MINIMAL);
    applyOwnedParts(doc, parts);
    const xml = renderDomainXml(doc);
    assertValidDomain(xml, "planned domain");
    const back = readOwnedParts(parseDomainXml(libvirtRedump(xml, UUID)));
    assert.deepEqual(diffOwnedParts(parts, back), []);
  });

  it("lockedMemory: <locked/> beside the hugepages, or alone for a guest on normal pages; libvirt accepts and re-dumps both", () => {
    const huge = planToDomainParts(place({ name: "lk1", vcpus: 2, memoryMiB: 1024, hugepages: "2M" }), { cpuMode: "maximum", lockedMemory: true });
    assert.deepEqual(huge.memoryBacking, { hugepages: [{ size: 2048, unit: "KiB" }], locked: true });
    const normal = planToDomainParts(place({ name: "lk2", vcpus: 2, memoryMiB: 1024 }), { cpuMode: "maximum", lockedMemory: true });
    assert.deepEqual(normal.memoryBacking, { hugepages: null, locked: true });
    assert.equal(planToDomainParts(place({ name: "lk3", vcpus: 2, memoryMiB: 1024 }), { lockedMemory: false }).memoryBacking, null);
    for (const parts of [huge, normal]) {
      const doc = parseDomainXml(MINIMAL);
      applyOwnedParts(doc, parts);
      const xml = renderDomainXml(doc);
      assertValidDomain(xml, "locked domain");
      const back = readOwnedParts(parseDomainXml(libvirtRedump(xml, UUID)));
      assert.equal(back.memoryBacking?.locked, true);
      assert.deepEqual(diffOwnedParts(parts, back), []);
    }
  });
});
