// renderPlacementSvg: golden maps for two named hosts, well-formed XML with
// every text escaped, byte-identical output, every vCPU at the thread of its
// host CPU, and a layout without overlaps from 1 node x 2 CPUs to 8 nodes x 64.
// UPDATE_GOLDEN=1 re-plans the fixture guests (test/fixtures/svg/*.plans.json)
// and rewrites the golden SVGs, examples/placement-sample.svg and
// examples/placement-observed-sample.svg (hv01 with HV01_OBSERVED below).
// The observed layer: measured vCPU affinities, guest RAM per node and drift
// lines next to the plan; without observed entries the goldens stay as they are.
// The host layer: isolcpus, other programs' domains and the guests' devices
// (hv01-host.svg); without them the goldens stay as they are.
import { strict as assert } from "node:assert";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { DOMParser } from "@xmldom/xmldom";
import type { Document, Element } from "@xmldom/xmldom";
import { HostLedger, type PlacementPlan, type PlacementRequest } from "../../provider/plan";
import { GUEST_PALETTE, renderPlacementSvg, type ObservedGuest, type PlacementSvgOptions } from "../../provider/plan/svg";
import { escapeAttr, escapeText } from "../../provider/plan/svg-xml";
import type { TopologyDomain } from "../../provider/plan/host-domains";
import type { HostTopology } from "../../provider/plan/topology";
import { syntheticTopology } from "../fixtures/topologies/build";
import { hv01, quadSnc } from "../fixtures/topologies/named";

const UPDATE = process.env.UPDATE_GOLDEN === "1";
const FIXTURES = join(__dirname, "../fixtures/svg");
const SAMPLE = join(__dirname, "../../examples/placement-sample.svg");
const OBSERVED_SAMPLE = join(__dirname, "../../examples/placement-observed-sample.svg");
/** Leads examples/placement-observed-sample.svg (the rest is renderPlacementSvg's output, byte for byte). */
const OBSERVED_SAMPLE_HEADER =
  "<!-- kvmtune placement map with observed placement. Host hv01 (test/fixtures/facts/hv01-2socket.txt: 2 nodes, 16 CPUs, cpu15 offline); " +
  "guests rt and db as HostLedger plans them (test/fixtures/svg/hv01.plans.json). rt runs as planned; 1536 MiB of db's 2 GiB sits on node 0, " +
  "outside its strict nodeset 1. Made by renderPlacementSvg(hv01, plans, { housekeepingCpus: [0, 8], observed: HV01_OBSERVED }) in " +
  "test/unit/placement-svg.test.ts; regenerate with UPDATE_GOLDEN=1. -->\n";

interface GoldenCase {
  name: string;
  host: () => HostTopology;
  requests: PlacementRequest[];
  opts: PlacementSvgOptions;
  /** Also written to examples/placement-sample.svg. */
  sample?: boolean;
}

const CASES: GoldenCase[] = [
  {
    // rt: threadPolicy isolate (siblings 9-11 kept idle) on node 0; db: emulator and 2 iothreads
    // on a core of their own (cpu7, whose sibling cpu15 is offline) on node 1; CPUs 0 and 8 housekeeping.
    name: "hv01",
    host: hv01,
    requests: [
      { name: "rt", vcpus: 3, memoryMiB: 4096, hugepages: "1G", threadPolicy: "isolate" },
      { name: "db", vcpus: 4, memoryMiB: 2048, hugepages: "2M", emulatorPolicy: "isolate", iothreads: 2 },
    ],
    opts: { housekeepingCpus: [0, 8] },
    sample: true,
  },
  {
    // 8 SNC nodes: web on node 0, wide spans nodes 2-3 (2 guest cells, 1G pages on both).
    name: "quad-snc",
    host: quadSnc,
    requests: [
      { name: "web", vcpus: 4, memoryMiB: 8192 },
      { name: "wide", vcpus: 16, memoryMiB: 32768, hugepages: "1G", iothreads: 1 },
    ],
    opts: { housekeepingCpus: [0, 32] },
  },
];

/** The fixture plans: stored, so the goldens follow the renderer only (UPDATE_GOLDEN=1 re-plans them). */
function casePlans(c: GoldenCase): PlacementPlan[] {
  const file = join(FIXTURES, `${c.name}.plans.json`);
  if (UPDATE) {
    const ledger = new HostLedger(c.host());
    for (const r of c.requests) {
      const res = ledger.place(r);
      assert.ok(res.ok, res.ok ? "" : res.reasons.join("\n"));
    }
    mkdirSync(FIXTURES, { recursive: true });
    writeFileSync(file, `${JSON.stringify({ requests: c.requests, plans: ledger.plans }, null, 2)}\n`);
  }
  assert.ok(existsSync(file), `missing ${file}; run with UPDATE_GOLDEN=1`);
  return (JSON.parse(readFileSync(file, "utf8")) as { plans: PlacementPlan[] }).plans;
}

/** Parses strictly: any xmldom warning or error fails (but `allowed` warnings). */
function parseSvg(svg: string, allowed: RegExp[] = []): Document {
  const problems: string[] = [];
  const doc = new DOMParser({ onError: (level, msg) => void problems.push(`${level}: ${msg}`) }).parseFromString(svg, "image/svg+xml");
  assert.deepEqual(problems.filter((p) => !allowed.some((a) => p.startsWith("warning:") && a.test(p))), []);
  // xmldom lets a bare "&" through as text; stricter parsers (browsers, librsvg) reject it.
  assert.doesNotMatch(svg, /&(?![A-Za-z_][\w.-]*;|#\d+;|#x[0-9a-fA-F]+;)/);
  assert.equal(doc.documentElement?.tagName, "svg");
  return doc;
}

const elements = (root: Document | Element, tag: string): Element[] => Array.from(root.getElementsByTagName(tag));
const cls = (e: Element) => (e.getAttribute("class") ?? "").split(" ");
const num = (e: Element, a: string) => Number(e.getAttribute(a));
/** The thread cells, by host CPU. */
function threads(doc: Document): Map<number, Element> {
  const out = new Map<number, Element>();
  for (const g of elements(doc, "g")) {
    if (!cls(g).includes("thread")) continue;
    const cpu = num(g, "data-cpu");
    assert.ok(!out.has(cpu), `CPU ${cpu} drawn twice`);
    out.set(cpu, g);
  }
  return out;
}
/** Texts of a cell by class: cpu, main, extra. */
function cellText(g: Element, c: string): string | null {
  return elements(g, "text").find((t) => cls(t).includes(c))?.textContent ?? null;
}
const rectOf = (g: Element) => elements(g, "rect")[0];
interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}
const box = (r: Element): Box => ({ x: num(r, "x"), y: num(r, "y"), w: num(r, "width"), h: num(r, "height") });
const inside = (a: Box, b: Box) => a.x >= b.x && a.y >= b.y && a.x + a.w <= b.x + b.w && a.y + a.h <= b.y + b.h;
const overlap = (a: Box, b: Box) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/** Every vCPU of every plan is drawn exactly once, as "<guest> v<n>", in the thread of its host CPU; emulator, iothreads and idle siblings are marked. */
function assertStructure(doc: Document, plans: readonly PlacementPlan[], host: HostTopology): void {
  const cells = threads(doc);
  assert.deepEqual([...cells.keys()].sort((a, b) => a - b), host.cpus.map((c) => c.id));
  // Every role on a CPU, long form, from the cell's tooltip: "CPU 9 (node 0, ...): rt vCPU 0, rt emulator".
  const drawn = new Map<string, number[]>();
  for (const [cpu, g] of cells) {
    // The first line; observed notes follow on lines of their own.
    const tip = elements(g, "title")[0].textContent!.split("\n")[0];
    for (const role of tip.slice(tip.indexOf("): ") + 3).split(", ")) drawn.set(role, [...(drawn.get(role) ?? []), cpu]);
  }
  plans.forEach((p, gi) => {
    p.vcpuPins.forEach((cpu, n) => {
      assert.deepEqual(drawn.get(`${p.name} vCPU ${n}`), [cpu], `${p.name} vCPU ${n} should be drawn once, on CPU ${cpu}`);
      const g = cells.get(cpu)!;
      const main = cellText(g, "main")!;
      if (main !== `${p.name} v${n}`) {
        // Shortened to fit the cell: "<name prefix>… v<n>".
        const cut = main.indexOf("…");
        assert.ok(cut > 0 && main.endsWith(`… v${n}`) && p.name.startsWith(main.slice(0, cut)), `CPU ${cpu} reads "${main}", expected ${p.name} v${n}`);
      }
      assert.equal(rectOf(g).getAttribute("fill"), GUEST_PALETTE[gi % GUEST_PALETTE.length]);
    });
    for (const cpu of p.idleSiblings) {
      const g = cells.get(cpu)!;
      assert.equal(cellText(g, "main"), "idle");
      assert.ok(p.name.startsWith(cellText(g, "extra")!.replace(/…$/, "")));
      assert.equal(rectOf(g).getAttribute("fill"), `url(#kvmtune-placement-hatch-${gi % GUEST_PALETTE.length})`);
    }
    for (const cpu of p.emulatorCpus) {
      const g = cells.get(cpu)!;
      assert.match(`${cellText(g, "main")} ${cellText(g, "extra")}`, /(^|[ +])emu( |$)/, `CPU ${cpu} shows ${p.name}'s emulator`);
    }
    for (const io of p.iothreadPins) {
      for (const cpu of io.cpus) assert.match(`${cellText(cells.get(cpu)!, "main")} ${cellText(cells.get(cpu)!, "extra")}`, new RegExp(`io${io.iothread}\\b|io\\d+-\\d+`));
    }
  });
  for (const c of host.cpus) assert.equal(cellText(cells.get(c.id)!, "cpu"), `CPU ${c.id}`);
  for (const c of host.cpus.filter((x) => !x.online)) assert.equal(elements(cells.get(c.id)!, "line").length, 2, `offline CPU ${c.id} is crossed out`);
}

/** Nested boxes stay inside each other and the canvas; no two threads or nodes overlap; text fits its cell. */
function assertLayout(doc: Document): void {
  const svg = doc.documentElement!;
  const canvas: Box = { x: 0, y: 0, w: num(svg, "width"), h: num(svg, "height") };
  assert.equal(svg.getAttribute("viewBox"), `0 0 ${canvas.w} ${canvas.h}`);
  const nodes = elements(doc, "g").filter((g) => cls(g).includes("node"));
  const cellBoxes: Box[] = [];
  for (const n of nodes) {
    const nb = box(rectOf(n));
    assert.ok(inside(nb, canvas), "node inside the canvas");
    for (const t of elements(n, "text").filter((x) => x.parentNode === n)) assert.ok(num(t, "x") + estimate(t) <= nb.x + nb.w, `node text "${t.textContent}" fits`);
    for (const core of elements(n, "g").filter((g) => cls(g).includes("core") || cls(g).includes("offline"))) {
      const cb = box(rectOf(core));
      assert.ok(inside(cb, nb), "core inside its node");
      for (const th of elements(core, "g").filter((g) => cls(g).includes("thread"))) {
        const tb = box(rectOf(th));
        assert.ok(inside(tb, cb), "thread inside its core");
        for (const t of elements(th, "text")) {
          const w = estimate(t);
          const x = num(t, "x");
          const [left, right] = cls(t).includes("cpu") || cls(t).includes("isotag") ? [x, x + w] : [x - w / 2, x + w / 2];
          assert.ok(left >= tb.x && right <= tb.x + tb.w, `"${t.textContent}" fits its cell (${w} > ${tb.w})`);
        }
        cellBoxes.push(tb);
      }
    }
  }
  const nodeBoxes = nodes.map((n) => box(rectOf(n)));
  for (let i = 0; i < nodeBoxes.length; i++) for (let j = i + 1; j < nodeBoxes.length; j++) assert.ok(!overlap(nodeBoxes[i], nodeBoxes[j]), `nodes ${i} and ${j} overlap`);
  const sorted = [...cellBoxes].sort((a, b) => a.y - b.y || a.x - b.x);
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length && sorted[j].y < sorted[i].y + sorted[i].h; j++) assert.ok(!overlap(sorted[i], sorted[j]), "threads overlap");
  }
  const legend = elements(doc, "g").find((g) => cls(g).includes("legend"))!;
  for (const t of elements(legend, "text")) {
    assert.ok(num(t, "x") + estimate(t) <= canvas.w, `legend text "${t.textContent}" fits the canvas`);
    assert.ok(num(t, "y") <= canvas.h && num(t, "y") > Math.max(...nodeBoxes.map((b) => b.y + b.h)), "legend below the nodes");
  }
}

// Monospace advance (0.602 em for DejaVu Sans Mono) by the class's font size.
const SIZES: Record<string, number> = { isotag: 9, cpu: 9, main: 11, extra: 9, nh: 13, ni: 11, gname: 12, ghead: 12, gdetail: 10, key: 11, h: 12, warnh: 12, warn: 10 };
function estimate(t: Element): number {
  const size = cls(t).map((c) => SIZES[c]).find((s) => s !== undefined) ?? 16;
  return [...(t.textContent ?? "")].length * size * 0.602;
}

function goldenCheck(file: string, actual: string): void {
  if (UPDATE) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, actual);
  }
  assert.ok(existsSync(file), `missing ${file}; run with UPDATE_GOLDEN=1`);
  assert.equal(actual, readFileSync(file, "utf8"), `${file} differs; if the change is intended, run with UPDATE_GOLDEN=1 and review the diff`);
}

describe("renderPlacementSvg", () => {
  for (const c of CASES) {
    describe(`golden: ${c.name}`, () => {
      const plans = casePlans(c);
      const svg = renderPlacementSvg(c.host(), plans, c.opts);

      it("matches the golden file", () => {
        goldenCheck(join(FIXTURES, `${c.name}.svg`), svg);
        if (c.sample) goldenCheck(SAMPLE, svg);
      });

      it("is well-formed, titled, and free of scripts, links and external fonts", () => {
        const doc = parseSvg(svg);
        const root = doc.documentElement!;
        assert.equal(root.getAttribute("xmlns"), "http://www.w3.org/2000/svg");
        assert.equal(root.getAttribute("role"), "img");
        const [title, desc] = [elements(doc, "title")[0], elements(doc, "desc")[0]];
        assert.equal(title.parentNode, root);
        assert.equal(title.textContent, `Guest placement on host ${c.host().hostname}`);
        for (const p of plans) assert.ok(desc.textContent!.includes(`${p.name}: ${p.vcpuPins.length} vCPUs`), `desc mentions ${p.name}`);
        assert.deepEqual(elements(doc, "script"), []);
        assert.doesNotMatch(svg, /href|@import|@font-face|url\((?!#)|https?:\/\/(?!www\.w3\.org\/2000\/svg")/);
      });

      it("draws every vCPU once, at the thread of its host CPU", () => assertStructure(parseSvg(svg), plans, c.host()));

      it("lays out without overlaps", () => assertLayout(parseSvg(svg)));
    });
  }

  it("hv01: marks housekeeping, the isolated emulator core, idle siblings and the offline CPU", () => {
    const c = CASES[0];
    const cells = threads(parseSvg(renderPlacementSvg(c.host(), casePlans(c), c.opts)));
    const show = (cpu: number) => [cellText(cells.get(cpu)!, "main"), cellText(cells.get(cpu)!, "extra"), rectOf(cells.get(cpu)!).getAttribute("fill")];
    assert.deepEqual(show(0), ["hk", null, "#BBBBBB"]);
    assert.deepEqual(show(8), ["hk", null, "#BBBBBB"]);
    assert.deepEqual(show(1), ["rt v0", "+emu", GUEST_PALETTE[0]]);
    assert.deepEqual(show(9), ["idle", "rt", "url(#kvmtune-placement-hatch-0)"]);
    assert.deepEqual(show(7), ["emu io1 io2", "db", GUEST_PALETTE[1]]);
    assert.deepEqual(show(6), [null, null, "#FFFFFF"]);
    assert.deepEqual(show(15), ["offline", null, "#EEEEEE"]);
  });

  it("escapes every text: guest names and the title round-trip through an XML parser", () => {
    const name = `<db&"1'>`;
    const title = `Placement of <db&"1'> & friends]]>`;
    const t = hv01();
    const plan: PlacementPlan = {
      name,
      vcpuPins: [1, 9],
      emulatorCpus: [1, 9],
      iothreadPins: [{ iothread: 1, cpus: [0, 8] }],
      numaMode: "strict",
      nodeset: [0],
      cells: [{ id: 0, hostNode: 0, vcpus: [0, 1], memoryMiB: 1024 }],
      topology: { sockets: 1, cores: 1, threads: 2 },
      memoryMiB: 1024,
      hugepageSizeKiB: null,
      hugepages: [],
      reservedCpus: [1, 9],
      idleSiblings: [],
    };
    const svg = renderPlacementSvg(t, [plan], { title, housekeepingCpus: [0, 8] });
    const doc = parseSvg(svg);
    assert.equal(elements(doc, "title")[0].textContent, title);
    assert.equal(elements(doc, "text").find((e) => cls(e).includes("title"))?.textContent, title);
    assert.equal(elements(doc, "text").find((e) => cls(e).includes("gname"))?.textContent, name);
    assert.ok(elements(doc, "desc")[0].textContent!.includes(`${name}: 2 vCPUs`));
    const cells = threads(doc);
    assert.equal(cellText(cells.get(1)!, "main"), `${name} v0`);
    assert.equal(cellText(cells.get(9)!, "main"), `${name} v1`);
    assert.equal(cellText(cells.get(0)!, "extra"), `${name}: io1`);
    assert.ok(elements(cells.get(1)!, "title")[0].textContent!.includes(`${name} vCPU 0`));
    assertStructure(doc, [plan], t);
    assert.ok(!svg.includes(name), "the raw name never appears unescaped");
  });

  it("replaces characters XML cannot carry, in text and attributes", () => {
    assert.equal(escapeText("a\u0001b\uD800c&<>"), "a\uFFFDb\uFFFDc&amp;&lt;&gt;");
    assert.equal(escapeAttr(`"x"\n\t'`), `&quot;x&quot;&#10;&#9;'`);
    const svg = renderPlacementSvg(hv01(), [], { title: "bell\u0007 and \uDC00 lone surrogate" });
    // xmldom warns about any U+FFFD it meets ("source encoding issues?"); that is the one warning allowed here.
    assert.equal(elements(parseSvg(svg, [/replacement character/]), "title")[0].textContent, "bell\uFFFD and \uFFFD lone surrogate");
  });

  it("is deterministic: the same input gives byte-identical output, colours follow plan order", () => {
    const c = CASES[1];
    const plans = casePlans(c);
    const a = renderPlacementSvg(c.host(), plans, c.opts);
    const b = renderPlacementSvg(c.host(), JSON.parse(JSON.stringify(plans)) as PlacementPlan[], { housekeepingCpus: [32, 0] });
    assert.equal(a, b);
    assert.equal(renderPlacementSvg(c.host(), plans, c.opts), a);
    const swapped = renderPlacementSvg(c.host(), [plans[1], plans[0]], c.opts);
    const fills = (svg: string) => elements(parseSvg(svg), "g").filter((g) => cls(g).includes("guest")).map((g) => [elements(g, "text")[0].textContent, rectOf(g).getAttribute("fill")]);
    assert.deepEqual(fills(a), [["web", GUEST_PALETTE[0]], ["wide", GUEST_PALETTE[1]]]);
    assert.deepEqual(fills(swapped), [["wide", GUEST_PALETTE[0]], ["web", GUEST_PALETTE[1]]]);
  });

  describe("sizes follow the topology", () => {
    const hosts: [string, HostTopology][] = [
      ["1 node x 2 CPUs (one core, 2 threads)", syntheticTopology({ hostname: "tiny", nodes: [{ cores: 1, threads: 2, memMiB: 2048 }] })],
      ["1 node x 2 CPUs (no SMT)", syntheticTopology({ hostname: null, nodes: [{ cores: 2, threads: 1, memMiB: 2048 }], sizesKiB: [2048] })],
      ["2 uneven nodes with offline CPUs", syntheticTopology({ hostname: "patchy", nodes: [{ cores: 3, memMiB: 8192 }, { cores: 11, memMiB: 8192 }], offline: [2, 5, 16] })],
      ["8 nodes x 64 CPUs", syntheticTopology({ hostname: "big", nodes: Array.from({ length: 8 }, () => ({ cores: 32, memMiB: 262144, pools: { "1G": 64, "2M": 4096 } })) })],
      ["8 nodes x 64 CPUs, no SMT", syntheticTopology({ hostname: "wide", nodes: Array.from({ length: 8 }, () => ({ cores: 64, threads: 1, memMiB: 262144 })) })],
    ];
    for (const [label, host] of hosts) {
      it(label, () => {
        // Fill the host (CPU 0 housekeeping): a long-named isolate guest, then guests of every shape until nothing fits.
        const ledger = new HostLedger(host);
        const reqs: PlacementRequest[] = [
          { name: "a-rather-long-guest-name-for-the-legend-and-cells", vcpus: 1, memoryMiB: 256, threadPolicy: "isolate", emulatorPolicy: "isolate", iothreads: 3, housekeepingCpus: "0" },
          ...Array.from({ length: 24 }, (_, i): PlacementRequest => ({ name: `g${i}`, vcpus: [2, 16, 1, 8][i % 4], memoryMiB: 512, iothreads: i % 3, housekeepingCpus: "0" })),
        ];
        for (const r of reqs) ledger.place(r);
        assert.ok(ledger.plans.length > 0);
        const cpuCount = host.cpus.length;
        const svg = renderPlacementSvg(host, ledger.plans, { housekeepingCpus: [0] });
        const doc = parseSvg(svg);
        assertStructure(doc, ledger.plans, host);
        assertLayout(doc);
        const w = num(doc.documentElement!, "width");
        assert.ok(w <= 2400 && num(doc.documentElement!, "height") <= 10000, `${w} wide for ${cpuCount} CPUs`);
      });
    }
  });

  it("shows conflicts and pins to missing CPUs as warnings instead of failing", () => {
    const t = hv01();
    const base = casePlans(CASES[0]);
    const clash: PlacementPlan = { ...base[0], name: "clash", vcpuPins: [2, 99], emulatorCpus: [2], iothreadPins: [], reservedCpus: [2], idleSiblings: [] };
    const doc = parseSvg(renderPlacementSvg(t, [...base, clash], CASES[0].opts));
    const warn = elements(doc, "text").filter((e) => cls(e).includes("warn")).map((e) => e.textContent);
    assert.ok(warn.some((w) => w?.startsWith("• CPU 2 is claimed")), warn.join("\n"));
    assert.ok(warn.some((w) => w === "• CPU 99 is not on this host but is pinned: clash vCPU 1"), warn.join("\n"));
    const cell = threads(doc).get(2)!;
    assert.equal(rectOf(cell).getAttribute("stroke"), "#CC0000");
    assert.equal(cellText(cell, "extra"), "+emu; clash: v0 emu");
  });
});

/** hv01's two guests as measured: rt where its plan puts it; db's vCPUs as planned, but 1536 MiB of its RAM on node 0 (nodeset 1). */
const HV01_OBSERVED: Record<string, ObservedGuest> = {
  rt: {
    summary: {
      vcpus: { "0": "1", "1": "2", "2": "3" },
      iothreads: {},
      emulatorCpus: "1-3",
      emulatorMems: "0",
      memoryMiB: { node0: 4160.5 },
      guestMemoryMiB: { node0: 4096 },
      guestPages: { "1048576 KiB hugetlb": 4096 },
      truncated: false,
    },
    drift: [],
  },
  db: {
    summary: {
      vcpus: { "0": "4", "1": "12", "2": "5", "3": "13" },
      iothreads: { "1": "7", "2": "7" },
      emulatorCpus: "7",
      emulatorMems: "0-1",
      memoryMiB: { node0: 1570.25, node1: 530 },
      guestMemoryMiB: { node0: 1536, node1: 512 },
      guestPages: { "2048 KiB hugetlb": 2048 },
      truncated: false,
    },
    drift: ["placement.memory: 1536 MiB on node0, outside strict nodeset 1"],
  },
};

/** A deep copy of an observed entry with some summary fields replaced. */
function observedWith(base: ObservedGuest, summary: Partial<ObservedGuest["summary"]>, drift: string[] = [...base.drift]): ObservedGuest {
  return { summary: { ...(JSON.parse(JSON.stringify(base.summary)) as ObservedGuest["summary"]), ...summary }, drift };
}

describe("renderPlacementSvg: observed placement", () => {
  const c = CASES[0];
  const host = c.host();
  const plans = casePlans(c);
  const render = (observed: PlacementSvgOptions["observed"], ps: readonly PlacementPlan[] = plans) => renderPlacementSvg(host, ps, { ...c.opts, observed });
  const svg = render(HV01_OBSERVED);
  const guestTexts = (doc: Document, name: string) => {
    const g = elements(doc, "g").find((e) => cls(e).includes("guest") && elements(e, "text")[0].textContent === name);
    assert.ok(g, `legend entry for ${name}`);
    return elements(g, "text").map((t) => [t.textContent, t.getAttribute("class")]);
  };
  const nodeTexts = (doc: Document, node: number) => {
    const n = elements(doc, "g").find((e) => cls(e).includes("node") && e.getAttribute("data-node") === String(node))!;
    return elements(n, "text").filter((t) => t.parentNode === n).map((t) => [t.textContent, t.getAttribute("class")]);
  };

  it("matches the golden file and examples/placement-observed-sample.svg", () => {
    goldenCheck(join(FIXTURES, "hv01-observed.svg"), svg);
    goldenCheck(OBSERVED_SAMPLE, OBSERVED_SAMPLE_HEADER + svg);
    parseSvg(readFileSync(OBSERVED_SAMPLE, "utf8"));
  });

  it("parses as XML, still draws every vCPU at its planned CPU, and lays out without overlaps", () => {
    const doc = parseSvg(svg);
    assertStructure(doc, plans, host);
    assertLayout(doc);
    assert.deepEqual(elements(doc, "script"), []);
    assert.doesNotMatch(svg, /href|@import|@font-face|url\((?!#)|https?:\/\/(?!www\.w3\.org\/2000\/svg")/);
  });

  it("shows each node's observed guest RAM next to the planned amount, red off the plan", () => {
    const doc = parseSvg(svg);
    assert.deepEqual(nodeTexts(doc, 0), [
      ["node 0", "nh"],
      ["125.8 GiB RAM · guests 4 GiB", "ni"],
      ["hugepages 1G 4/8 used · 2M 0/1024 used", "ni"],
      ["rt: 4 GiB observed (1G pages) · planned 4 GiB", "ni"],
      ["db: 1536 MiB observed (2M pages) · planned none, off plan", "ni obsoff"],
    ]);
    assert.deepEqual(nodeTexts(doc, 1).slice(3), [["db: 512 MiB observed (2M pages) · planned 2 GiB", "ni"]]);
    assert.match(svg, /\.obsoff\{fill:#CC0000;font-weight:bold\}/);
  });

  it("says 'observed: as planned' or lists the drift lines in the legend and the desc", () => {
    const doc = parseSvg(svg);
    const rt = guestTexts(doc, "rt");
    assert.deepEqual(rt[rt.length - 1], ["observed: as planned", "gdetail gobs"]);
    const db = guestTexts(doc, "db");
    assert.deepEqual(db.slice(-2), [
      ["observed: 1 drift line", "gdetail gdrift"],
      ["• placement.memory: 1536 MiB on node0, outside strict nodeset 1", "gdetail gdrift"],
    ]);
    const desc = elements(doc, "desc")[0].textContent!;
    assert.ok(desc.includes("emu on the vCPU CPUs. Observed: as planned. db:"), desc);
    assert.ok(desc.endsWith("io1-2 on the emulator CPUs. Observed: placement.memory: 1536 MiB on node0, outside strict nodeset 1. Housekeeping CPUs 0,8."), desc);
    // Every vCPU runs where planned: no cell is outlined, no key for it.
    assert.deepEqual(elements(doc, "g").filter((g) => cls(g).includes("observed")), []);
    assert.ok(!svg.includes("planned elsewhere"));
  });

  it("outlines the CPUs a vCPU is allowed on besides its pin, in the guest's colour, with a tooltip", () => {
    const db = observedWith(HV01_OBSERVED.db, { vcpus: { "0": "6", "1": "12", "2": "5-6", "3": "13" }, guestMemoryMiB: { node1: 2048 } });
    const doc = parseSvg(render({ rt: HV01_OBSERVED.rt, db: { ...db, drift: [] } }));
    assertStructure(doc, plans, host);
    assertLayout(doc);
    const cells = threads(doc);
    const outlined = [...cells].filter(([, g]) => elements(g, "g").some((x) => cls(x).includes("observed"))).map(([cpu]) => cpu);
    assert.deepEqual(outlined, [6]);
    const mark = elements(cells.get(6)!, "g").find((x) => cls(x).includes("observed"))!;
    const rects = elements(mark, "rect");
    assert.deepEqual(rects.map((r) => [r.getAttribute("stroke"), r.getAttribute("fill"), r.getAttribute("stroke-dasharray")]), [
      ["#111111", "none", "4 4"],
      [GUEST_PALETTE[1], "none", "4 4"],
    ]);
    assert.ok(inside(box(rects[0]), box(rectOf(cells.get(6)!))), "the outline stays inside its cell");
    const tip = (cpu: number) => elements(cells.get(cpu)!, "title")[0].textContent!.split("\n");
    assert.deepEqual(tip(6), ["CPU 6 (node 1, core with CPUs 6,14): free", "db vCPU 0 observed on CPU 6, planned 4", "db vCPU 2 observed on CPUs 5-6, planned 5"]);
    assert.deepEqual(tip(4), ["CPU 4 (node 1, core with CPUs 4,12): db vCPU 0", "db vCPU 0 planned here, observed on CPU 6"]);
    assert.deepEqual(tip(5), ["CPU 5 (node 1, core with CPUs 5,13): db vCPU 2"], "a vCPU allowed on its pin and more marks only the others");
    assert.ok(elements(doc, "text").some((t) => t.textContent === "vCPU observed here, planned elsewhere (dashed, guest's colour)"));
    // No drift reported, yet the map differs from the plan: the legend says so instead of "as planned".
    assert.deepEqual(guestTexts(doc, "db").slice(-1), [["observed: no drift reported, but 2 differences from this plan (dashed cells, red node lines)", "gdetail gdrift"]]);
  });

  it("gives a CPU the outline of its narrowest observed affinity, and notes what the map cannot show", () => {
    const rt = observedWith(HV01_OBSERVED.rt, { vcpus: { "0": "1", "1": "2", "2": "0-15" }, truncated: true }, ["placement.vcpu[2]: thread allowed on CPUs 0-15, pinned to 3"]);
    const db = observedWith(HV01_OBSERVED.db, { vcpus: { "0": "6", "1": "12", "2": "5", "3": "13", x: "1" }, guestMemoryMiB: { node1: 2048, node9: 3 } }, []);
    const doc = parseSvg(render({ rt, db }));
    assertLayout(doc);
    const cells = threads(doc);
    const outline = (cpu: number) => elements(cells.get(cpu)!, "g").find((x) => cls(x).includes("observed"))?.getElementsByTagName("rect")[1].getAttribute("stroke") ?? null;
    assert.equal(outline(6), GUEST_PALETTE[1], "db's vCPU 0 (CPU 6 only) beats rt's vCPU 2 (CPUs 0-15)");
    assert.equal(outline(14), GUEST_PALETTE[0]);
    assert.equal(outline(3), null, "rt's vCPU 2 is allowed on its pin too: no mark there");
    assert.deepEqual(elements(cells.get(6)!, "title")[0].textContent!.split("\n").slice(1), ["rt vCPU 2 observed on CPUs 0-15, planned 3", "db vCPU 0 observed on CPU 6, planned 4"]);
    assert.deepEqual(guestTexts(doc, "rt").slice(-3).map(([t]) => t), [
      "observed: 1 drift line",
      "• placement.vcpu[2]: thread allowed on CPUs 0-15, pinned to 3",
      "observed: measurement cut short (too many threads or mappings): the map may miss some",
    ]);
    assert.deepEqual(guestTexts(doc, "db").slice(-3).map(([t]) => t), [
      "observed: no drift reported, but 2 differences from this plan (dashed cells, red node lines)",
      'observed: unreadable vCPU entry "x"',
      "observed: 3 MiB observed on node 9, not on this host",
    ]);
  });

  it("bounds the drift lines: four, then '+N more'", () => {
    const drift = Array.from({ length: 7 }, (_, i) => `placement.iothread[${i + 1}]: thread allowed on CPUs 0-15, pinned to 7`);
    const doc = parseSvg(render({ db: { ...HV01_OBSERVED.db, drift } }));
    const lines = guestTexts(doc, "db").map(([t]) => t);
    assert.deepEqual(lines.slice(-6), ["observed: 7 drift lines", ...drift.slice(0, 4).map((d) => `• ${d}`), "+3 more"]);
    assert.ok(elements(doc, "desc")[0].textContent!.includes(`${drift.slice(0, 4).join("; ")}; and 3 more.`));
    assertLayout(doc);
  });

  it("escapes a hostile guest name in observed texts, drift lines and tooltips", () => {
    const name = `<db&"1'>`;
    const hostile = plans.map((p) => (p.name === "db" ? { ...p, name } : p));
    const drift = [`placement.memory: 1536 MiB on node0, outside strict nodeset 1 (${name} ]]> &amp;)`];
    const entry = observedWith(HV01_OBSERVED.db, { vcpus: { "0": "6", "1": "12", "2": "5", "3": "13" } }, drift);
    const out = render({ rt: HV01_OBSERVED.rt, [name]: entry }, hostile);
    const doc = parseSvg(out);
    assert.ok(!out.includes(name), "the raw name never appears unescaped");
    assert.ok(!out.includes("]]>"));
    assert.deepEqual(guestTexts(doc, name).slice(-2), [
      ["observed: 1 drift line", "gdetail gdrift"],
      [`• ${drift[0]}`, "gdetail gdrift"],
    ]);
    assert.deepEqual(nodeTexts(doc, 0).slice(-1), [[`${name}: 1536 MiB observed (2M pages) · planned none, off plan`, "ni obsoff"]]);
    assert.ok(elements(threads(doc).get(6)!, "title")[0].textContent!.endsWith(`\n${name} vCPU 0 observed on CPU 6, planned 4`));
    assert.ok(elements(doc, "desc")[0].textContent!.includes(`Observed: ${drift[0]}.`));
  });

  it("draws a guest without an observed entry exactly as before", () => {
    for (const gc of CASES) {
      const ps = casePlans(gc);
      const golden = readFileSync(join(FIXTURES, `${gc.name}.svg`), "utf8");
      const variants: PlacementSvgOptions["observed"][] = [undefined, {}, { ghost: HV01_OBSERVED.db }];
      for (const observed of variants) {
        assert.equal(renderPlacementSvg(gc.host(), ps, { ...gc.opts, observed }), golden, `${gc.name} with observed ${JSON.stringify(Object.keys(observed ?? {}))}`);
      }
    }
    // Names that are Object.prototype properties are names like any other.
    const odd = plans.map((p, i) => ({ ...p, name: ["constructor", "__proto__"][i] }));
    assert.equal(render({}, odd), render(undefined, odd));
    // Only rt observed: db's legend entry and CPUs read as in the planned-only map.
    const onlyRt = parseSvg(render({ rt: HV01_OBSERVED.rt }));
    const planned = parseSvg(render(undefined));
    assert.deepEqual(guestTexts(onlyRt, "db"), guestTexts(planned, "db"));
    for (const cpu of [4, 5, 7, 12, 13]) {
      const [a, b] = [threads(onlyRt).get(cpu)!, threads(planned).get(cpu)!];
      assert.equal(elements(a, "title")[0].textContent, elements(b, "title")[0].textContent);
      assert.equal(elements(a, "rect").length, elements(b, "rect").length);
    }
    assert.deepEqual(nodeTexts(onlyRt, 1), nodeTexts(planned, 1));
  });

  it("is deterministic whatever the order of the observed records", () => {
    const shuffle = <T>(rec: Record<string, T>) => Object.fromEntries(Object.entries(rec).reverse());
    const db = HV01_OBSERVED.db;
    const reordered: Record<string, ObservedGuest> = {
      db: { ...db, summary: { ...db.summary, vcpus: shuffle(db.summary.vcpus), guestMemoryMiB: shuffle(db.summary.guestMemoryMiB), guestPages: { "4 KiB": 1, ...db.summary.guestPages } } },
      rt: HV01_OBSERVED.rt,
    };
    // (The 1 MiB of 4 KiB pages is below the tolerance: it does not change the page-size text.)
    assert.equal(render(reordered), svg);
    assert.equal(render(HV01_OBSERVED), svg);
  });
});

/** Other programs' domains on hv01: legacy (vCPUs on CPUs 6 and 14, emulator on housekeeping CPU 8), archive shut off and unpinned; "rt" is the plan's own guest. */
const HOST_DOMAINS: TopologyDomain[] = [
  { name: "legacy", active: true, vcpuCpus: [6, 14], helperCpus: [8], hugepages: [], normalMiB: [] },
  { name: "rt", active: true, vcpuCpus: [1, 2, 3], helperCpus: [], hugepages: [], normalMiB: [] },
  { name: "archive", active: false, vcpuCpus: [], helperCpus: [], hugepages: [], normalMiB: [] },
];
/** rt's NIC on node 1 (rt's nodeset is 0), db's disk on node 1, a VF of db on no known node, a host NIC of no guest on node 0. */
const HOST_DEVICES: NonNullable<PlacementSvgOptions["devices"]> = [
  { label: "enp65s0f0", node: 1, guest: "rt" },
  { label: "nvme0n1", node: 1, guest: "db" },
  { label: "0000:81:00.1", node: null, guest: "db" },
  { label: "eno1", node: 0 },
];

describe("renderPlacementSvg: isolated CPUs, other domains and devices", () => {
  const c = CASES[0];
  const plans = casePlans(c);
  /** hv01 with its captured isolcpus (2-3,10-11) and `domains`. */
  const hostWith = (domains: TopologyDomain[] | undefined, isolated = [2, 3, 10, 11]): HostTopology => ({ ...hv01(), isolated, domains });
  const render = (host: HostTopology, opts: PlacementSvgOptions = {}, ps: readonly PlacementPlan[] = plans) => renderPlacementSvg(host, ps, { ...c.opts, ...opts });
  const svg = render(hostWith(HOST_DOMAINS), { devices: HOST_DEVICES });
  const show = (doc: Document, cpu: number) => {
    const g = threads(doc).get(cpu)!;
    return [cellText(g, "main"), cellText(g, "extra"), rectOf(g).getAttribute("fill")];
  };
  const tip = (doc: Document, cpu: number) => elements(threads(doc).get(cpu)!, "title")[0].textContent;
  const texts = (doc: Document, c: string) => elements(doc, "text").filter((t) => cls(t).includes(c)).map((t) => t.textContent);
  const hostLines = (doc: Document) => elements(doc, "g").filter((g) => cls(g).includes("hostline")).map((g) => [g.getAttribute("class"), elements(g, "text").map((t) => t.textContent).join(" ")]);
  const nodeInfo = (doc: Document, node: number) => {
    const n = elements(doc, "g").find((e) => cls(e).includes("node") && e.getAttribute("data-node") === String(node))!;
    return elements(n, "text").filter((t) => t.parentNode === n && cls(t).includes("ni")).map((t) => t.textContent);
  };

  it("matches the golden file, parses, draws every vCPU at its planned CPU, and lays out without overlaps", () => {
    goldenCheck(join(FIXTURES, "hv01-host.svg"), svg);
    const doc = parseSvg(svg);
    assertStructure(doc, plans, hostWith(HOST_DOMAINS));
    assertLayout(doc);
    assert.doesNotMatch(svg, /href|@import|@font-face|url\((?!#)|https?:\/\/(?!www\.w3\.org\/2000\/svg")/);
  });

  it("shows housekeeping CPUs as housekeeping, never as free", () => {
    const doc = parseSvg(svg);
    assert.deepEqual(show(doc, 0), ["hk", null, "#BBBBBB"]);
    assert.equal(tip(doc, 0), "CPU 0 (node 0, core with CPUs 0,8): housekeeping");
    // CPU 8 is housekeeping and legacy's emulator: the domain's label, "hk" below it, housekeeping in the tooltip and the key.
    assert.deepEqual(show(doc, 8), ["legacy emu/io", "hk", "url(#kvmtune-placement-foreign)"]);
    assert.equal(tip(doc, 8), "CPU 8 (node 0, core with CPUs 0,8): housekeeping, legacy emulator/iothreads (not in this program)");
    assert.ok(texts(doc, "key").includes("hk housekeeping"));
    // Without the layer too.
    const plain = parseSvg(render(hostWith(undefined, [])));
    assert.deepEqual(show(plain, 8), ["hk", null, "#BBBBBB"]);
    assert.ok(!tip(plain, 8)!.includes("free"));
  });

  it("marks the isolated CPUs, and only them, and lists them in the legend", () => {
    const doc = parseSvg(svg);
    const marked = [...threads(doc)].filter(([, g]) => elements(g, "g").some((x) => cls(x).includes("iso"))).map(([cpu]) => cpu);
    assert.deepEqual(marked.sort((a, b) => a - b), [2, 3, 10, 11]);
    const cell = threads(doc).get(10)!;
    const mark = elements(cell, "g").find((x) => cls(x).includes("iso"))!;
    assert.deepEqual(elements(mark, "rect").map((r) => [r.getAttribute("fill"), r.getAttribute("width")]), [["#111111", "2.5"]]);
    assert.deepEqual(elements(mark, "text").map((t) => [t.textContent, t.getAttribute("class")]), [["iso", "isotag"]]);
    const cpuText = elements(cell, "text").find((t) => cls(t).includes("cpu"))!;
    assert.ok(num(cpuText, "x") + estimate(cpuText) < num(elements(mark, "text")[0], "x"), "the tag clears the CPU number");
    assert.equal(tip(doc, 10), "CPU 10 (node 0, core with CPUs 2,10): rt idle sibling, isolated (isolcpus)");
    assert.deepEqual(hostLines(doc)[0], ["hostline iso", "isolated (isolcpus): CPUs 2-3,10-11"]);
    assert.ok(elements(doc, "desc")[0].textContent!.includes("Housekeeping CPUs 0,8. Isolated (isolcpus): CPUs 2-3,10-11."));
    // One isolated CPU, nothing else: only that cell is marked.
    const one = parseSvg(render(hostWith(undefined, [6])));
    assert.deepEqual([...threads(one)].filter(([, g]) => elements(g, "g").some((x) => cls(x).includes("iso"))).map(([cpu]) => cpu), [6]);
    assert.deepEqual(show(one, 6), [null, null, "#FFFFFF"]);
    assert.equal(tip(one, 6), "CPU 6 (node 1, core with CPUs 6,14): free, isolated (isolcpus)");
    assert.deepEqual(hostLines(one), [["hostline iso", "isolated (isolcpus): CPU 6"]]);
  });

  it("draws other domains' CPUs as taken, labelled with the domain, with a legend line per domain", () => {
    const doc = parseSvg(svg);
    for (const cpu of [6, 14]) {
      assert.deepEqual(show(doc, cpu), ["legacy", null, "url(#kvmtune-placement-foreign)"]);
      assert.ok(!tip(doc, cpu)!.includes("free"));
    }
    assert.equal(tip(doc, 6), "CPU 6 (node 1, core with CPUs 6,14): legacy vCPUs (not in this program)");
    assert.deepEqual(hostLines(doc).slice(1, 3), [
      ["hostline foreign", "archive (not in this program): vCPUs not pinned (shut off)"],
      ["hostline foreign", "legacy (not in this program): vCPUs on CPUs 6,14, emulator/iothreads on CPU 8"],
    ]);
    // rt is the plan's own domain: not listed, its CPUs read as the plan's.
    assert.ok(!hostLines(doc).some(([, t]) => t!.startsWith("rt ")));
    assert.deepEqual(show(doc, 1), ["rt v0", "+emu", GUEST_PALETTE[0]]);
    assert.ok(svg.includes('<pattern id="kvmtune-placement-foreign"'));
    // No plan vCPU on legacy's CPUs: no conflict outline.
    assert.equal(rectOf(threads(doc).get(6)!).getAttribute("stroke"), "#6E6E6E");
  });

  it("flags a plan vCPU on another domain's vCPU CPU as a conflict, and shortens long domain names keeping ' emu/io'", () => {
    const long = "a-very-long-domain-name-of-another-program";
    const domains: TopologyDomain[] = [
      { name: "legacy", active: true, vcpuCpus: [5, 6], helperCpus: [], hugepages: [], normalMiB: [] },
      { name: long, active: true, vcpuCpus: [], helperCpus: [14], hugepages: [], normalMiB: [] },
    ];
    const doc = parseSvg(render(hostWith(domains, [])));
    assertLayout(doc);
    const warn = texts(doc, "warn");
    assert.ok(warn.includes("• CPU 5 runs db vCPU 2, but legacy (not in this program) pins its vCPUs there"), warn.join("\n"));
    const cell = threads(doc).get(5)!;
    assert.equal(rectOf(cell).getAttribute("stroke"), "#CC0000");
    assert.deepEqual(show(doc, 5), ["db v2", "legacy", GUEST_PALETTE[1]]);
    assert.ok(texts(doc, "key").includes("conflict (see warnings)"));
    const main = show(doc, 14)[0]!;
    assert.ok(main.endsWith("… emu/io") && long.startsWith(main.slice(0, main.indexOf("…"))), main);
    assert.ok(tip(doc, 14)!.endsWith(`${long} emulator/iothreads (not in this program)`));
    assert.deepEqual(hostLines(doc)[0], ["hostline foreign", `${long} (not in this program): vCPUs not pinned, emulator/iothreads on CPU 14`]);
  });

  it("lists devices in their node's header, the unknown ones in the legend, and warns of a device outside its guest's nodes", () => {
    const doc = parseSvg(svg);
    assert.deepEqual(nodeInfo(doc, 0).slice(2), ["dev: eno1"]);
    assert.deepEqual(nodeInfo(doc, 1).slice(2), ["dev: enp65s0f0 (rt)", "dev: nvme0n1 (db)"]);
    assert.deepEqual(hostLines(doc).slice(-1), [["hostline devices", "devices on no known node: 0000:81:00.1 (db)"]]);
    assert.deepEqual(texts(doc, "warn"), ["• rt uses enp65s0f0 on node1, outside its nodes 0"]);
    assert.ok(elements(doc, "desc")[0].textContent!.includes("Devices: 0000:81:00.1 (db) on no known node, eno1 on node 0, enp65s0f0 (rt) on node 1, nvme0n1 (db) on node 1."));
    // Many devices on a node: five lines, then a count; a device on a node the host lacks is a warning too.
    const many = Array.from({ length: 8 }, (_, i) => ({ label: `ens1f${i}v0`, node: 1, guest: "db" }));
    const doc2 = parseSvg(render(hostWith(undefined, []), { devices: [...many, { label: "sdb", node: 7, guest: "db" }] }));
    assertLayout(doc2);
    assert.deepEqual(nodeInfo(doc2, 1).slice(2), [...many.slice(0, 5).map((d) => `dev: ${d.label} (db)`), "dev: +3 more"]);
    assert.deepEqual(texts(doc2, "warn"), ["• sdb (db) is on node 7, not on this host", "• db uses sdb on node7, outside its nodes 1"]);
    assert.deepEqual(hostLines(doc2), [["hostline devices", "devices on no known node: sdb (db)"]]);
  });

  it("is byte-identical to the goldens without isolated CPUs, other domains and devices", () => {
    for (const gc of CASES) {
      const ps = casePlans(gc);
      const golden = readFileSync(join(FIXTURES, `${gc.name}.svg`), "utf8");
      const own: TopologyDomain[] = ps.map((p) => ({ name: p.name, active: true, vcpuCpus: [...p.vcpuPins], helperCpus: [], hugepages: [], normalMiB: [] }));
      for (const domains of [undefined, [], own]) {
        for (const devices of [undefined, []]) {
          const host = { ...gc.host(), isolated: [], domains };
          assert.equal(renderPlacementSvg(host, ps, { ...gc.opts, devices }), golden, `${gc.name} with ${domains?.length ?? "no"} domains, devices ${JSON.stringify(devices)}`);
        }
      }
    }
  });

  it("is deterministic whatever the order of domains and devices", () => {
    assert.equal(render(hostWith(HOST_DOMAINS), { devices: HOST_DEVICES }), svg);
    assert.equal(render(hostWith([...HOST_DOMAINS].reverse(), [11, 10, 3, 2]), { devices: [...HOST_DEVICES].reverse() }), svg);
  });

  it("escapes hostile domain names and device labels", () => {
    const name = `<vm&"1'>`;
    const out = render(hostWith([{ name, active: false, vcpuCpus: [6], helperCpus: [], hugepages: [], normalMiB: [] }], []), { devices: [{ label: `<nic&>`, node: 0, guest: name }] });
    const doc = parseSvg(out);
    assert.ok(!out.includes(name) && !out.includes("<nic&>"));
    assert.equal(show(doc, 6)[0], name);
    assert.deepEqual(nodeInfo(doc, 0).slice(2), [`dev: <nic&> (${name})`]);
    assert.deepEqual(hostLines(doc), [["hostline foreign", `${name} (not in this program): vCPUs on CPU 6 (shut off)`]]);
  });
});
