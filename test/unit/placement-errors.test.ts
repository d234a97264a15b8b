// Invalid placement requests and guests that do not fit: every reason, exact messages.
import { strict as assert } from "node:assert";
import { HostLedger, parsePlacementRequest, planPlacement, type PlacementRequest } from "../../provider/plan";
import type { HostTopology } from "../../provider/plan/topology";
import { InputError } from "../../provider/spec/issues";
import { hv01, quadSnc, soloNoSmt, uneven, withOffline } from "../fixtures/topologies/named";

function problems(input: unknown): string[] {
  try {
    parsePlacementRequest(input);
  } catch (err) {
    assert.ok(err instanceof InputError, String(err));
    return err.problems;
  }
  assert.fail("expected an InputError");
}

function reasons(t: HostTopology, req: PlacementRequest, ledger?: HostLedger): string[] {
  const r = ledger ? ledger.place(req) : planPlacement(t, req);
  assert.ok(!r.ok, "expected the guest not to fit");
  return r.reasons;
}

const FIELDS = "name, vcpus, memoryMiB, hugepages, threadPolicy, emulatorPolicy, emulatorCpus, iothreads, numaMode, guestNumaCells, housekeepingCpus, nodes, deviceNodes, deviceAffinity";

describe("parsePlacementRequest", () => {
  it("fills defaults", () => {
    assert.deepEqual(parsePlacementRequest({ name: "db1", vcpus: 2, memoryMiB: 1024 }), {
      name: "db1",
      vcpus: 2,
      memoryMiB: 1024,
      hugepages: "none",
      threadPolicy: "prefer",
      emulatorPolicy: "share",
      emulatorCpus: null,
      iothreads: 0,
      numaMode: "strict",
      guestNumaCells: "auto",
      housekeepingCpus: "auto",
      nodes: null,
      deviceNodes: [],
      deviceAffinity: "preferred",
    });
    const s = parsePlacementRequest({ name: "db1", vcpus: 2, memoryMiB: 1024, emulatorCpus: "0,32-33", housekeepingCpus: "0,32", nodes: [1, 0] });
    assert.deepEqual([s.emulatorPolicy, s.emulatorCpus, s.housekeepingCpus, s.nodes], ["isolate", [0, 32, 33], [0, 32], [0, 1]]);
    assert.deepEqual(parsePlacementRequest({ name: "db1", vcpus: 2, memoryMiB: 1024, housekeepingCpus: "" }).housekeepingCpus, []);
    // Every name LibvirtDomain accepts: '+' included.
    assert.equal(parsePlacementRequest({ name: "web+1.a_b-c", vcpus: 2, memoryMiB: 1024 }).name, "web+1.a_b-c");
  });

  it("reports every bad field at once, naming field, value and what is accepted", () => {
    assert.deepEqual(
      problems({
        name: "bad name!",
        vcpus: 0,
        memoryMiB: 1.5,
        hugepages: "4M",
        threadPolicy: "x",
        emulatorPolicy: 1,
        iothreads: -1,
        numaMode: "bind",
        guestNumaCells: "two",
        housekeepingCpus: "0-",
        nodes: [],
        deviceNodes: [{ device: "", node: -1 }, "x"],
        deviceAffinity: "strict",
        extra: 1,
      }),
      [
        `request.name: "bad name!" is not accepted; expected a domain name: letters, digits, '.', '_', '+', '-' (at most 64)`,
        "request.vcpus: 0 is not accepted; expected a whole number of vCPUs from 1 to 4096",
        "request.memoryMiB: 1.5 is not accepted; expected a whole number of MiB from 1 to 16777216",
        `request.hugepages: "4M" is not accepted; expected "none", "2M" or "1G"`,
        `request.threadPolicy: "x" is not accepted; expected "prefer", "isolate" or "require"`,
        `request.emulatorPolicy: 1 is not accepted; expected "share" or "isolate"`,
        "request.iothreads: -1 is not accepted; expected a whole number of iothreads from 0 to 64",
        `request.numaMode: "bind" is not accepted; expected "strict", "restrictive", "preferred" or "interleave"`,
        `request.guestNumaCells: "two" is not accepted; expected "auto" or a whole number of cells from 1 to 64`,
        `request.housekeepingCpus: "0-" is not accepted; expected a cpulist such as "0,32" ("" for none), "auto" or "non-isolated"`,
        "request.nodes: [] is not accepted; expected a non-empty list of host node ids such as [0, 1]",
        `request.deviceNodes.0.device: "" is not accepted; expected a device name`,
        "request.deviceNodes.0.node: -1 is not accepted; expected a node id from 0 to 1023, or null",
        `request.deviceNodes.1: "x" is not accepted; expected { device, node }`,
        `request.deviceAffinity: "strict" is not accepted; expected "required", "preferred" or "none"`,
        `request: unknown field "extra"; accepted fields: ${FIELDS}`,
      ],
    );
    assert.deepEqual(problems(null), ["request: null is not accepted; expected an object such as { name, vcpus, memoryMiB }"]);
  });

  it("checks fields against each other too, together with the per-field problems", () => {
    assert.deepEqual(problems({ name: "a", vcpus: 8, memoryMiB: 3000, hugepages: "1G", guestNumaCells: 3, emulatorPolicy: "share", emulatorCpus: "1-2", iothreads: 99 }), [
      "request.iothreads: 99 is not accepted; expected a whole number of iothreads from 0 to 64",
      `request.memoryMiB: 3000 is not accepted; with hugepages "1G" expected a multiple of 1024 MiB`,
      "request.guestNumaCells: 3 is not accepted; expected a cell count that divides vcpus (8)",
      `request.emulatorCpus: "1-2" is not accepted with emulatorPolicy "share"; expected emulatorPolicy "isolate" (or none)`,
    ]);
    assert.deepEqual(problems({ name: "a", vcpus: 8, memoryMiB: 1024, hugepages: "1G", guestNumaCells: 2, nodes: [1, 1], emulatorCpus: "" }), [
      `request.emulatorCpus: "" is not accepted; expected a non-empty cpulist such as "0,32"`,
      "request.nodes: [1,1] is not accepted; expected node ids without repeats",
      "request.guestNumaCells: 2 is not accepted; memoryMiB 1024 gives fewer than one 1024 MiB unit per cell",
    ]);
  });

  it("planPlacement throws the same InputError for an invalid request", () => {
    assert.throws(() => planPlacement(hv01(), { name: "x", vcpus: 0, memoryMiB: 1 }), (e: unknown) => e instanceof InputError && e.message.startsWith(`invalid placement request for guest "x":`));
  });
});

describe("planPlacement failures", () => {
  it("needs N CPUs within one node: lists every node's free count", () => {
    assert.deepEqual(reasons(hv01(), { name: "g", vcpus: 8, memoryMiB: 1024, guestNumaCells: 1 }), ["needs 8 CPUs within one NUMA node; node0 has 6 free, node1 has 7 free"]);
  });

  it("with auto cells, gives the reasons for one node and for every even split", () => {
    assert.deepEqual(reasons(hv01(), { name: "g", vcpus: 14, memoryMiB: 1024 }), [
      "needs 14 CPUs within one NUMA node; node0 has 6 free, node1 has 7 free",
      "needs 7 CPUs on each of 2 NUMA nodes; node0 has 6 free",
    ]);
    assert.deepEqual(reasons(hv01(), { name: "g", vcpus: 9, memoryMiB: 1024 }), [
      "needs 9 CPUs within one NUMA node; node0 has 6 free, node1 has 7 free",
      "9 vCPUs cannot be split evenly over 2 NUMA nodes",
    ]);
    assert.deepEqual(reasons(quadSnc(), { name: "g", vcpus: 30, memoryMiB: 1024, threadPolicy: "require", nodes: [0, 1, 2] }), [
      `needs 15 whole free cores of 2 threads (threadPolicy "require") within one NUMA node; node0 has 3, nodes 1-2 have 4`,
      `needs 5 whole free cores of 2 threads (threadPolicy "require") on each of 3 NUMA nodes; node0 has 3, nodes 1-2 have 4`,
      "30 vCPUs cannot be split evenly into whole cores of 2 threads over 2 NUMA nodes",
    ]);
  });

  it("thread policies count whole free cores", () => {
    assert.deepEqual(reasons(hv01(), { name: "g", vcpus: 8, memoryMiB: 1024, threadPolicy: "require", guestNumaCells: 1 }), [
      `needs 4 whole free cores of 2 threads (threadPolicy "require") within one NUMA node; nodes 0-1 have 3`,
    ]);
    assert.deepEqual(reasons(hv01(), { name: "g", vcpus: 5, memoryMiB: 1024, threadPolicy: "isolate", guestNumaCells: 1 }), [
      `needs 5 whole free cores (threadPolicy "isolate") within one NUMA node; node0 has 3, node1 has 4`,
    ]);
    assert.deepEqual(reasons(soloNoSmt(), { name: "g", vcpus: 8, memoryMiB: 1024, threadPolicy: "require" }), [
      `needs 8 whole free cores of 1 thread (threadPolicy "require") within one NUMA node; node0 has 7`,
    ]);
    assert.deepEqual(reasons(hv01(), { name: "g", vcpus: 7, memoryMiB: 1024, threadPolicy: "require" }), [`threadPolicy "require": 7 vCPUs do not fill whole cores of 2 threads`]);
  });

  it("emulatorPolicy isolate needs one more whole core on the node", () => {
    assert.deepEqual(reasons(hv01(), { name: "g", vcpus: 6, memoryMiB: 1024, emulatorPolicy: "isolate", nodes: [0] }), [
      `emulatorPolicy "isolate" needs a whole free core besides the vCPUs on the same NUMA node; none left on node 0`,
    ]);
  });

  it("memory too big for the node in strict mode; preferred only needs the total", () => {
    assert.deepEqual(reasons(uneven(), { name: "g", vcpus: 2, memoryMiB: 80000 }), [
      `needs 80000 MiB of memory within one NUMA node (numaMode "strict"); node0 has 30720 MiB available, node1 has 73728 MiB available`,
      `needs 40000 MiB of memory on each of 2 NUMA nodes (numaMode "strict"); node0 has 30720 MiB available`,
    ]);
    assert.deepEqual(reasons(uneven(), { name: "g", vcpus: 2, memoryMiB: 200000, numaMode: "preferred" }), [
      `needs 200000 MiB of memory; nodes 0-1 have 104448 MiB available (numaMode "preferred")`,
    ]);
  });

  it("hugepages: pool totals minus earlier plans, a size the host lacks, 1G without pdpe1gb", () => {
    const ledger = new HostLedger(hv01());
    assert.ok(ledger.place({ name: "db1", vcpus: 2, memoryMiB: 6144, hugepages: "1G" }).ok);
    assert.deepEqual(reasons(hv01(), { name: "db2", vcpus: 2, memoryMiB: 10240, hugepages: "1G", nodes: [0] }, ledger), [
      "needs 10 free 1G hugepages within one NUMA node; node0 has 2 of 8 free",
    ]);
    assert.deepEqual(reasons(hv01(), { name: "db2", vcpus: 2, memoryMiB: 20480, hugepages: "1G" }, ledger), [
      "needs 20 free 1G hugepages within one NUMA node; node0 has 2 of 8 free, node1 has 8 of 8 free",
      "needs 10 free 1G hugepages on each of 2 NUMA nodes; node0 has 2 of 8 free, node1 has 8 of 8 free",
    ]);
    assert.deepEqual(reasons(soloNoSmt(), { name: "g", vcpus: 2, memoryMiB: 2048, hugepages: "1G", nodes: [0, 2, 3] }), [
      `hugepages "1G": host solo offers no 1G hugepages (offers: 2M)`,
      `hugepages "1G": the CPUs of host solo lack the pdpe1gb flag (1 GiB pages)`,
      "nodes: nodes 2-3 do not exist on host solo (node 0)",
    ]);
  });

  it("explicit CPUs that are offline, out of range or taken; too few nodes for the cells", () => {
    assert.deepEqual(reasons(hv01(), { name: "g", vcpus: 7, memoryMiB: 2048, threadPolicy: "require", emulatorCpus: "15,99,100", housekeepingCpus: "0,64" }), [
      "housekeepingCpus: CPU 64 does not exist on host hv01 (CPUs 0-15)",
      "emulatorCpus: CPUs 99-100 do not exist on host hv01 (CPUs 0-15)",
      "emulatorCpus: CPU 15 is offline on host hv01",
      `threadPolicy "require": 7 vCPUs do not fill whole cores of 2 threads`,
    ]);
    assert.deepEqual(reasons(withOffline(), { name: "g", vcpus: 1, memoryMiB: 64, emulatorCpus: "3,11,13" }), ["emulatorCpus: CPUs 3,11,13 are offline on host patchy"]);
    const ledger = new HostLedger(hv01());
    assert.ok(ledger.place({ name: "db1", vcpus: 4, memoryMiB: 1024, threadPolicy: "isolate" }).ok);
    assert.deepEqual(reasons(hv01(), { name: "db2", vcpus: 2, memoryMiB: 1024, emulatorCpus: "4-5,12" }, ledger), [
      "emulatorCpus: CPUs 4-5 are already pinned to guest db1",
      "emulatorCpus: CPU 12 is already reserved (kept idle) for guest db1",
    ]);
    assert.deepEqual(reasons(hv01(), { name: "db1", vcpus: 1, memoryMiB: 64 }, ledger), ["guest db1 is already placed on host hv01"]);
    assert.deepEqual(reasons(hv01(), { name: "g", vcpus: 4, memoryMiB: 1024, guestNumaCells: 4 }), ["guestNumaCells: 4 cells need 4 host NUMA nodes; only nodes 0-1 are usable"]);
    assert.deepEqual(reasons(hv01(), { name: "g", vcpus: 2, memoryMiB: 1024, guestNumaCells: 2, nodes: [1, 7] }), [
      "nodes: node 7 does not exist on host hv01 (nodes 0-1)",
      "guestNumaCells: 2 cells need 2 host NUMA nodes; only node 1 is usable",
    ]);
  });
});
