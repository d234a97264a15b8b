import { strict as assert } from "node:assert";
import { keyPrefix, parseJournal, planOwnershipProblems, renderJournalLine, type JournalEntry } from "../../provider/host/journal";
import { planJournal, planRelease, undoJournal } from "../../provider/host/journal-plan";

const A = { stack: "acme/kvm/prod", resource: "hv01", tag: "hv01" };
const B = { stack: "acme/kvm/lab", resource: "web", tag: "web" };
const entry = (key: string, owner: typeof A, original: string | null, since = "2026-12-01T00:00:00.000Z"): JournalEntry => ({ key, ...owner, original, since });
const journalOf = (...entries: JournalEntry[]) => parseJournal(entries.map(renderJournalLine).join("\n") + "\n");

describe("journal of originals", function () {
  describe("format", function () {
    it("renders one JSON object per line, key first, and parses it back exactly", function () {
      const e = entry("sysctl:vm.swappiness", A, "60");
      const line = renderJournalLine(e);
      assert.equal(line, '{"key":"sysctl:vm.swappiness","stack":"acme/kvm/prod","resource":"hv01","tag":"hv01","original":"60","since":"2026-12-01T00:00:00.000Z"}');
      assert.ok(line.startsWith(keyPrefix("sysctl:vm.swappiness")));
      const j = parseJournal(`${line}\n${renderJournalLine(entry("hugetlbfs:2M", B, null))}\n`);
      assert.deepEqual(j.entries, [e, entry("hugetlbfs:2M", B, null)]);
      assert.deepEqual(j.problems, []);
      assert.equal(j.lines["sysctl:vm.swappiness"], line);
    });

    it("keeps a value with tabs, quotes and spaces exactly (tcp_rmem, an mtu rule)", function () {
      const e = entry("sysctl:net.ipv4.tcp_rmem", A, '4096\t131072\t6291456 "x"');
      assert.deepEqual(journalOf(e).entries, [e]);
    });

    it("names each line it cannot read, and a key recorded twice", function () {
      const good = renderJournalLine(entry("sysctl:vm.swappiness", A, "60"));
      const j = parseJournal(["not json", '{"stack":"s","key":"sysctl:a","resource":"r","tag":"t","original":"1","since":""}', good, good, ""].join("\n"));
      assert.deepEqual(j.problems, [
        '/var/lib/kvmtune/journal line 1 is not a JSON object: "not json"',
        '/var/lib/kvmtune/journal line 2 is not a journal entry ({"key", "stack", "resource", "tag", "original", "since"}): "{\\"stack\\":\\"s\\",\\"key\\":\\"sysctl:a\\",\\"resource\\":\\"r\\",\\"tag\\":\\"t\\",\\"original\\":\\"1\\",\\"since\\":\\"\\"}"',
        "/var/lib/kvmtune/journal line 4 records sysctl:vm.swappiness a second time",
      ]);
      assert.equal(j.entries.length, 1);
    });

    it("an absent journal is empty", function () {
      assert.deepEqual(parseJournal(undefined), { entries: [], problems: [], lines: {} });
    });
  });

  describe("ownership", function () {
    const j = journalOf(entry("sysctl:vm.swappiness", B, "60"));

    it("refuses a key another owner recorded first, naming that owner, its stack and the way to take over", function () {
      assert.deepEqual(planOwnershipProblems(j, A, ["sysctl:vm.swappiness", "sysctl:vm.dirty_ratio"]), [
        'sysctl:vm.swappiness is owned by TunedHost "web" of stack acme/kvm/lab since 2026-12-01T00:00:00.000Z (journal /var/lib/kvmtune/journal); a setting has one owner per host. ' +
          'Leave it to that owner, or take it over with takeOver: ["sysctl:vm.swappiness"] (the recorded original, "60", is kept for the last owner\'s destroy)',
      ]);
    });

    it("accepts it when taken over by key or with all, and accepts its own and a former identity's keys", function () {
      assert.deepEqual(planOwnershipProblems(j, A, ["sysctl:vm.swappiness"], ["sysctl:vm.swappiness"]), []);
      assert.deepEqual(planOwnershipProblems(j, A, ["sysctl:vm.swappiness"], "all"), []);
      assert.deepEqual(planOwnershipProblems(j, B, ["sysctl:vm.swappiness"]), []);
      assert.deepEqual(planOwnershipProblems(j, { ...B, stack: "acme/kvm/lab2" }, ["sysctl:vm.swappiness"], undefined, [B]), []);
    });

    it("refuses a second owner of the same persistence file tag, even for other keys", function () {
      assert.deepEqual(planOwnershipProblems(j, { ...A, resource: "web", tag: "web" }, ["sysctl:vm.dirty_ratio"]), [
        'persistence files tagged "web" (e.g. /etc/sysctl.d/90-kvmtune-web.conf) belong to TunedHost "web" of stack acme/kvm/lab; give this TunedHost another name',
      ]);
    });

    it("refuses everything while the journal has a line it cannot read", function () {
      assert.deepEqual(planOwnershipProblems(parseJournal("garbage\n"), A, []), ['/var/lib/kvmtune/journal line 1 is not a JSON object: "garbage"']);
    });
  });

  describe("planning originals", function () {
    const base = { owner: A, previousKeys: [] as string[], stateOriginals: {}, now: "2026-12-04T10:00:00.000Z" };
    const current = new Map([
      ["sysctl:vm.swappiness", "10"],
      ["thp:enabled", "always"],
    ]);

    it("records the value read now for a key nobody recorded, in a write that expects no line", function () {
      const p = planJournal({ ...base, journal: parseJournal(undefined), desired: ["sysctl:vm.swappiness", "hugetlbfs:2M"], current });
      assert.deepEqual(p.originals, { "sysctl:vm.swappiness": "10", "hugetlbfs:2M": null });
      assert.deepEqual(p.record, [
        { op: "journal", key: "sysctl:vm.swappiness", expected: "", line: renderJournalLine(entry("sysctl:vm.swappiness", A, "10", base.now)) },
        { op: "journal", key: "hugetlbfs:2M", expected: "", line: renderJournalLine(entry("hugetlbfs:2M", A, null, base.now)) },
      ]);
      assert.deepEqual([p.problems, p.forget, p.release, p.notes], [[], [], [], []]);
    });

    it("takes the original from the journal over state and over the value read now (a re-create after a killed CLI)", function () {
      const j = journalOf(entry("sysctl:vm.swappiness", A, "60"));
      const p = planJournal({ ...base, journal: j, desired: ["sysctl:vm.swappiness"], current, stateOriginals: { "sysctl:vm.swappiness": "30" } });
      assert.deepEqual(p.originals, { "sysctl:vm.swappiness": "60" });
      assert.deepEqual(p.record, [], "its own entry stays as recorded");
    });

    it("takes the original from state for a key applied before the journal existed, and records it", function () {
      const p = planJournal({ ...base, journal: parseJournal(undefined), desired: ["sysctl:vm.swappiness"], current, stateOriginals: { "sysctl:vm.swappiness": "60" } });
      assert.deepEqual(p.originals, { "sysctl:vm.swappiness": "60" });
      assert.equal(p.record[0].line, renderJournalLine(entry("sysctl:vm.swappiness", A, "60", base.now)));
    });

    it("a take-over rewrites the owner, keeps the original and the time it was recorded, and says so", function () {
      const j = journalOf(entry("sysctl:vm.swappiness", B, "60"));
      const p = planJournal({ ...base, journal: j, desired: ["sysctl:vm.swappiness"], current, takeOver: ["sysctl:vm.swappiness"] });
      assert.deepEqual(p.problems, []);
      assert.deepEqual(p.originals, { "sysctl:vm.swappiness": "60" });
      assert.deepEqual(p.record, [{ op: "journal", key: "sysctl:vm.swappiness", expected: j.lines["sysctl:vm.swappiness"], line: renderJournalLine(entry("sysctl:vm.swappiness", A, "60")) }]);
      assert.deepEqual(p.notes, ['sysctl:vm.swappiness: taken over from TunedHost "web" of stack acme/kvm/lab; its recorded original ("60") is kept']);
    });

    it("a former identity's entries are its own: the owner is rewritten without a note", function () {
      const former = { ...A, stack: "acme/kvm/old" };
      const j = journalOf(entry("sysctl:vm.swappiness", former, "60"));
      const p = planJournal({ ...base, journal: j, formerOwners: [former], desired: ["sysctl:vm.swappiness"], current });
      assert.deepEqual([p.problems, p.notes], [[], []]);
      assert.equal(p.record[0].line, renderJournalLine(entry("sysctl:vm.swappiness", A, "60")));
    });

    it("gives back dropped keys from the journal (also ones only the journal knows: lost state) and forgets them after", function () {
      const j = journalOf(entry("sysctl:vm.swappiness", A, "60"), entry("thp:enabled", A, "madvise"), entry("sysctl:vm.dirty_ratio", B, "20"));
      const p = planJournal({ ...base, journal: j, desired: [], previousKeys: ["sysctl:vm.swappiness", "sysctl:vm.dirty_ratio", "sysctl:vm.legacy"], current, stateOriginals: { "sysctl:vm.legacy": "5", "sysctl:vm.dirty_ratio": "20" } });
      assert.deepEqual(p.release, ["sysctl:vm.legacy", "sysctl:vm.swappiness", "thp:enabled"]);
      assert.deepEqual(p.originals, { "sysctl:vm.legacy": "5", "sysctl:vm.swappiness": "60", "thp:enabled": "madvise" });
      assert.deepEqual(p.forget, [
        { op: "journal", key: "sysctl:vm.swappiness", expected: j.lines["sysctl:vm.swappiness"], line: "" },
        { op: "journal", key: "thp:enabled", expected: j.lines["thp:enabled"], line: "" },
      ]);
      assert.deepEqual(p.notes, ['sysctl:vm.dirty_ratio: now owned by TunedHost "web" of stack acme/kvm/lab, so it is left as it is']);
    });

    it("undoes journal writes in reverse order, each expecting what it wrote", function () {
      assert.deepEqual(
        undoJournal([
          { op: "journal", key: "a", expected: "", line: "L1" },
          { op: "journal", key: "b", expected: "L0", line: "" },
        ]),
        [
          { op: "journal", key: "b", expected: "", line: "L0" },
          { op: "journal", key: "a", expected: "L1", line: "" },
        ],
      );
    });

    it("a delete releases its own entries and state's keys, and leaves keys taken over by another", function () {
      const j = journalOf(entry("sysctl:vm.swappiness", A, "60"), entry("thp:enabled", B, "madvise"));
      const r = planRelease(j, A, { "sysctl:vm.swappiness": "30", "thp:enabled": "never" });
      assert.deepEqual(r.originals, { "sysctl:vm.swappiness": "60" });
      assert.deepEqual(r.forget, [{ op: "journal", key: "sysctl:vm.swappiness", expected: j.lines["sysctl:vm.swappiness"], line: "" }]);
      assert.deepEqual(r.notes, ['thp:enabled: now owned by TunedHost "web" of stack acme/kvm/lab, so it is left as it is']);
    });
  });
});
