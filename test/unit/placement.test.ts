// Exact placement plans on named host topologies.
import { strict as assert } from "node:assert";
import { HostLedger, planPlacement, type PlacementPlan, type PlacementRequest } from "../../provider/plan";
import type { HostTopology } from "../../provider/plan/topology";
import { hv01, hv01AsCaptured, quadSnc, soloNoSmt, uneven, withOffline } from "../fixtures/topologies/named";

/** A plan with the fields most tests leave at their defaults. */
function expected(p: Partial<PlacementPlan> & Pick<PlacementPlan, "name" | "vcpuPins" | "nodeset" | "cells" | "topology" | "memoryMiB">): PlacementPlan {
  return {
    emulatorCpus: [...new Set(p.vcpuPins)].sort((a, b) => a - b),
    iothreadPins: [],
    numaMode: "strict",
    hugepageSizeKiB: null,
    hugepages: [],
    reservedCpus: [...p.vcpuPins].sort((a, b) => a - b),
    idleSiblings: [],
    ...p,
  };
}

function plan(t: HostTopology, req: PlacementRequest, placed: PlacementPlan[] = []): PlacementPlan {
  const r = planPlacement(t, req, placed);
  assert.ok(r.ok, r.ok ? "" : r.reasons.join("\n"));
  return r.plan;
}

const cell = (id: number, hostNode: number, vcpus: number[], memoryMiB: number) => ({ id, hostNode, vcpus, memoryMiB });
const seq = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

describe("planPlacement: hv01 (2 sockets x 4 cores x 2 threads, cpu15 offline)", () => {
  const t = hv01();

  it("packs 4 vCPUs onto 2 sibling pairs of the best-fit node, with 1G pages there", () => {
    assert.deepEqual(
      plan(t, { name: "db1", vcpus: 4, memoryMiB: 8192, hugepages: "1G" }),
      expected({
        name: "db1",
        vcpuPins: [1, 9, 2, 10],
        nodeset: [0],
        cells: [cell(0, 0, [0, 1, 2, 3], 8192)],
        topology: { sockets: 1, cores: 2, threads: 2 },
        memoryMiB: 8192,
        hugepageSizeKiB: 1048576,
        hugepages: [{ node: 0, sizeKiB: 1048576, pages: 8 }],
      }),
    );
  });

  it("fills the host guest by guest on one ledger, best fit first, until nothing is left", () => {
    const ledger = new HostLedger(t);
    const pins = (req: PlacementRequest) => {
      const r = ledger.place(req);
      return r.ok ? r.plan.vcpuPins : r.reasons;
    };
    assert.deepEqual(pins({ name: "db1", vcpus: 4, memoryMiB: 8192, hugepages: "1G" }), [1, 9, 2, 10]);
    assert.deepEqual(pins({ name: "web1", vcpus: 6, memoryMiB: 2048, hugepages: "2M" }), [4, 12, 5, 13, 6, 14]);
    assert.deepEqual(pins({ name: "web2", vcpus: 2, memoryMiB: 1024 }), [3, 11]);
    assert.deepEqual(pins({ name: "web3", vcpus: 1, memoryMiB: 1024 }), [7]);
    assert.deepEqual(pins({ name: "web4", vcpus: 1, memoryMiB: 1024 }), ["needs 1 CPU within one NUMA node; nodes 0-1 have 0 free"]);
    assert.deepEqual(ledger.plans.map((p) => p.name), ["db1", "web1", "web2", "web3"]);
  });

  it("spans both nodes when one cannot hold the guest: 2 cells, sockets=2, memory split", () => {
    assert.deepEqual(
      plan(t, { name: "big", vcpus: 8, memoryMiB: 16384, iothreads: 2 }),
      expected({
        name: "big",
        vcpuPins: [1, 9, 2, 10, 4, 12, 5, 13],
        iothreadPins: [
          { iothread: 1, cpus: [1, 2, 4, 5, 9, 10, 12, 13] },
          { iothread: 2, cpus: [1, 2, 4, 5, 9, 10, 12, 13] },
        ],
        nodeset: [0, 1],
        cells: [cell(0, 0, [0, 1, 2, 3], 8192), cell(1, 1, [4, 5, 6, 7], 8192)],
        topology: { sockets: 2, cores: 2, threads: 2 },
        memoryMiB: 16384,
      }),
    );
  });

  it("threadPolicy isolate: one thread per core, siblings reserved idle; narrow cores (cpu7) first", () => {
    assert.deepEqual(
      plan(t, { name: "rt", vcpus: 3, memoryMiB: 4096, threadPolicy: "isolate" }),
      expected({
        name: "rt",
        vcpuPins: [1, 2, 3],
        nodeset: [0],
        cells: [cell(0, 0, [0, 1, 2], 4096)],
        topology: { sockets: 1, cores: 3, threads: 1 },
        memoryMiB: 4096,
        reservedCpus: [1, 2, 3, 9, 10, 11],
        idleSiblings: [9, 10, 11],
      }),
    );
    const four = plan(t, { name: "rt4", vcpus: 4, memoryMiB: 4096, threadPolicy: "isolate" });
    assert.deepEqual([four.vcpuPins, four.idleSiblings, four.nodeset], [[4, 5, 6, 7], [12, 13, 14], [1]]);
  });

  it("threadPolicy require takes whole sibling pairs only (never cpu7, whose sibling is offline)", () => {
    const p = plan(t, { name: "r", vcpus: 6, memoryMiB: 1024, threadPolicy: "require" });
    assert.deepEqual([p.vcpuPins, p.topology], [[1, 9, 2, 10, 3, 11], { sockets: 1, cores: 3, threads: 2 }]);
    const q = plan(t, { name: "q", vcpus: 6, memoryMiB: 1024, threadPolicy: "require" }, [p]);
    assert.deepEqual(q.vcpuPins, [4, 12, 5, 13, 6, 14]);
  });

  it("emulatorPolicy isolate: a whole core of its own next to the vCPUs; iothreads share it", () => {
    assert.deepEqual(
      plan(t, { name: "io", vcpus: 4, memoryMiB: 4096, emulatorPolicy: "isolate", iothreads: 1 }),
      expected({
        name: "io",
        vcpuPins: [1, 9, 2, 10],
        emulatorCpus: [3, 11],
        iothreadPins: [{ iothread: 1, cpus: [3, 11] }],
        nodeset: [0],
        cells: [cell(0, 0, [0, 1, 2, 3], 4096)],
        topology: { sockets: 1, cores: 2, threads: 2 },
        memoryMiB: 4096,
        reservedCpus: [1, 2, 3, 9, 10, 11],
      }),
    );
  });

  it("explicit emulatorCpus on housekeeping CPUs are shared, not reserved", () => {
    const p = plan(t, { name: "e", vcpus: 2, memoryMiB: 1024, emulatorCpus: "0,8", iothreads: 1 });
    assert.deepEqual([p.vcpuPins, p.emulatorCpus, p.iothreadPins, p.reservedCpus], [[1, 9], [0, 8], [{ iothread: 1, cpus: [0, 8] }], [1, 9]]);
  });

  it("explicit emulatorCpus keep this guest's vCPUs off their cores' other threads, and a refusal says so", () => {
    // node1: cores 4 (4,12), 5 (5,13), 6 (6,14), 7 (7; 15 offline). CPU 12 would be the first pick for 5 vCPUs.
    const p = plan(t, { name: "e", vcpus: 5, memoryMiB: 1024, emulatorCpus: "4", nodes: [1] });
    assert.deepEqual([p.vcpuPins, p.emulatorCpus, p.reservedCpus], [[5, 13, 6, 14, 7], [4], [4, 5, 6, 7, 13, 14]]);
    const r = planPlacement(t, { name: "e", vcpus: 6, memoryMiB: 1024, emulatorCpus: "4", nodes: [1] });
    assert.deepEqual(r.ok ? [] : r.reasons, [
      "needs 6 CPUs within one NUMA node; node1 has 5 free",
      "emulatorCpus 4: CPU 12 on the same core gets none of this guest's vCPUs (the emulator never shares a vCPU's core)",
    ]);
  });

  describe("libvirt before 9.3 with hugepages: an emulator CPU on every memory node (QEMU's prealloc thread-context)", () => {
    const on = (libvirtVersion: string | null) => ({ ...t, libvirtVersion });
    const hp = { memoryMiB: 1024, hugepages: "2M" as const };

    it("explicit emulatorCpus on node0 keep a hugepage guest off node1 with libvirt 9.0, not with 9.3 or normal pages", () => {
      const req = { name: "e", vcpus: 2, emulatorCpus: "0", nodes: [1], ...hp };
      const r = planPlacement(on("9.0.0"), req);
      assert.deepEqual(r.ok ? [] : r.reasons, [
        `emulatorCpus 0 with 2M hugepages: libvirt before 9.3 cannot start a guest with memory on a node none of its emulator CPUs is on (QEMU: "Setting CPU affinity failed"), so node 1 is left out; add an emulator CPU there, or upgrade libvirt`,
      ]);
      assert.ok(planPlacement(on("9.3.0"), req).ok);
      assert.ok(planPlacement(on(null), req).ok);
      assert.ok(planPlacement(on("9.0.0"), { ...req, hugepages: "none" }).ok);
      assert.deepEqual(plan(on("9.0.0"), { ...req, emulatorCpus: "0,7" }).nodeset, [1]);
    });

    it("emulatorPolicy \"isolate\" across two nodes gets a core on each with libvirt 9.0, one core with 9.3", () => {
      const req = { name: "i", vcpus: 8, emulatorPolicy: "isolate" as const, guestNumaCells: 2, ...hp };
      assert.deepEqual(plan(on("9.3.0"), req).emulatorCpus, [3, 11]);
      const p = plan(on("9.0.0"), req);
      assert.deepEqual([p.emulatorCpus, p.nodeset], [[3, 7, 11], [0, 1]]);
      assert.deepEqual(p.reservedCpus.filter((c) => p.emulatorCpus.includes(c)), [3, 7, 11]);
    });
  });

  it("numaMode \"restrictive\" keeps a guest within one node (libvirt does not place its cells per node); more cells are an input error", () => {
    assert.deepEqual(plan(t, { name: "r", vcpus: 6, memoryMiB: 1024, numaMode: "restrictive" }).nodeset, [0]);
    const r = planPlacement(t, { name: "r", vcpus: 8, memoryMiB: 1024, numaMode: "restrictive" });
    assert.deepEqual(r.ok ? [] : r.reasons, [
      "needs 8 CPUs within one NUMA node; node0 has 6 free, node1 has 7 free",
      `numaMode "restrictive" keeps a guest within one NUMA node: libvirt binds a "restrictive" guest's memory through the cpuset cgroup only, so its cells are not placed per node (libvirt 9.0 put both cells of a 2-cell guest on node0); use "strict" for a guest that spans nodes`,
    ]);
    assert.throws(() => planPlacement(t, { name: "r", vcpus: 8, memoryMiB: 1024, numaMode: "restrictive", guestNumaCells: 2 }), {
      message: /request\.guestNumaCells: 2 is not accepted with numaMode "restrictive"; libvirt binds .*; expected 1 or "auto", or numaMode "strict"/,
    });
    assert.deepEqual(plan(t, { name: "s", vcpus: 8, memoryMiB: 1024 }).nodeset, [0, 1]);
  });

  it("housekeepingCpus: 'non-isolated' keeps guests on isolcpus CPUs; '' frees CPU 0", () => {
    assert.deepEqual(plan(hv01AsCaptured(), { name: "i", vcpus: 4, memoryMiB: 1024, housekeepingCpus: "non-isolated" }).vcpuPins, [2, 10, 3, 11]);
    assert.deepEqual(plan(t, { name: "z", vcpus: 8, memoryMiB: 1024, housekeepingCpus: "", guestNumaCells: 1 }).vcpuPins, [0, 8, 1, 9, 2, 10, 3, 11]);
  });
});

describe("planPlacement: one socket, no SMT, 2M pages only", () => {
  it("gives one CPU per vCPU and threads=1", () => {
    assert.deepEqual(
      plan(soloNoSmt(), { name: "s", vcpus: 4, memoryMiB: 4096, hugepages: "2M", threadPolicy: "require" }),
      expected({
        name: "s",
        vcpuPins: [1, 2, 3, 4],
        nodeset: [0],
        cells: [cell(0, 0, [0, 1, 2, 3], 4096)],
        topology: { sockets: 1, cores: 4, threads: 1 },
        memoryMiB: 4096,
        hugepageSizeKiB: 2048,
        hugepages: [{ node: 0, sizeKiB: 2048, pages: 2048 }],
      }),
    );
  });
});

describe("planPlacement: 4 sockets with sub-NUMA clustering (8 nodes)", () => {
  const t = quadSnc();

  it("spreads 16 vCPUs over the closest pair of nodes (same socket, SLIT 12)", () => {
    const p = plan(t, { name: "w", vcpus: 16, memoryMiB: 16384, hugepages: "1G" });
    assert.deepEqual(p.nodeset, [2, 3]);
    assert.deepEqual(p.vcpuPins, [8, 40, 9, 41, 10, 42, 11, 43, 12, 44, 13, 45, 14, 46, 15, 47]);
    assert.deepEqual(p.topology, { sockets: 2, cores: 4, threads: 2 });
    assert.deepEqual(p.cells, [cell(0, 2, seq(8), 8192), cell(1, 3, seq(8, 8), 8192)]);
    assert.deepEqual(p.hugepages, [
      { node: 2, sizeKiB: 1048576, pages: 8 },
      { node: 3, sizeKiB: 1048576, pages: 8 },
    ]);
  });

  it("picks 4 nodes of one socket pair (largest distance 21) over sets that cross pairs (31)", () => {
    assert.deepEqual(plan(t, { name: "w", vcpus: 32, memoryMiB: 4096 }).nodeset, [4, 5, 6, 7]);
  });

  it("guestNumaCells 2 spreads even a small guest; nodes restricts the choice", () => {
    const p = plan(t, { name: "c2", vcpus: 4, memoryMiB: 3000, guestNumaCells: 2 });
    assert.deepEqual([p.vcpuPins, p.nodeset, p.topology], [[1, 33, 4, 36], [0, 1], { sockets: 2, cores: 1, threads: 2 }]);
    assert.deepEqual(p.cells, [cell(0, 0, [0, 1], 1500), cell(1, 1, [2, 3], 1500)]);
    assert.deepEqual(plan(t, { name: "n", vcpus: 4, memoryMiB: 1024, nodes: [7, 6] }).vcpuPins, [24, 56, 25, 57]);
  });
});

describe("planPlacement: uneven nodes", () => {
  const t = uneven();

  it("best fit: the smaller node when it is enough, the bigger one otherwise", () => {
    assert.deepEqual(plan(t, { name: "a", vcpus: 6, memoryMiB: 8192 }).nodeset, [0]);
    assert.deepEqual(plan(t, { name: "b", vcpus: 8, memoryMiB: 8192 }).nodeset, [1]);
    assert.deepEqual(plan(t, { name: "c", vcpus: 2, memoryMiB: 40960 }).nodeset, [1]);
  });

  it("splits memory unevenly by whole pages when it must", () => {
    const p = plan(t, { name: "m", vcpus: 4, memoryMiB: 3074, hugepages: "2M", guestNumaCells: 2 });
    assert.deepEqual(p.cells, [cell(0, 0, [0, 1], 1538), cell(1, 1, [2, 3], 1536)]);
    assert.deepEqual(p.hugepages, [
      { node: 0, sizeKiB: 2048, pages: 769 },
      { node: 1, sizeKiB: 2048, pages: 768 },
    ]);
  });

  it("numaMode preferred prefers a node whose memory fits, then falls back to CPUs only", () => {
    assert.deepEqual(plan(t, { name: "p", vcpus: 2, memoryMiB: 40960, numaMode: "preferred" }).nodeset, [1]);
    const p = plan(t, { name: "p", vcpus: 2, memoryMiB: 90000, numaMode: "preferred" });
    assert.deepEqual([p.nodeset, p.numaMode], [[0], "preferred"]);
  });
});

describe("planPlacement: offline CPUs", () => {
  const t = withOffline();

  it("never uses offline CPUs and finishes an odd count on a lone thread", () => {
    const p = plan(t, { name: "o", vcpus: 5, memoryMiB: 1024 });
    assert.deepEqual([p.vcpuPins, p.topology], [[4, 12, 5, 6, 14], { sockets: 1, cores: 5, threads: 1 }]);
  });

  it("isolate uses the core whose sibling is offline first (nothing to keep idle)", () => {
    const p = plan(t, { name: "o", vcpus: 4, memoryMiB: 1024, threadPolicy: "isolate" });
    assert.deepEqual([p.vcpuPins, p.idleSiblings], [[4, 5, 6, 7], [12, 14, 15]]);
  });
});

describe("planPlacement is deterministic", () => {
  it("gives the same plan for the same input, and accepts HostFacts or HostTopology alike", () => {
    const req: PlacementRequest = { name: "d", vcpus: 6, memoryMiB: 6144, hugepages: "2M", emulatorPolicy: "isolate" };
    assert.deepEqual(planPlacement(hv01(), req), planPlacement(hv01(), req));
    assert.deepEqual(planPlacement(quadSnc(), { ...req, vcpus: 24 }), planPlacement(quadSnc(), { ...req, vcpus: 24 }));
  });
});
