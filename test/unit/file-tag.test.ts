// Persistence file tags: one per TunedHost name, so two TunedHosts never share a file.
import { strict as assert } from "node:assert";
import { fileTag, persistencePaths } from "../../provider/host/knobs/persistence";

describe("fileTag", () => {
  it("keeps a name that already is a tag; makes any other one unique with a hash of the exact name", () => {
    assert.equal(fileTag("web-1"), "web-1");
    assert.equal(fileTag("hv01"), "hv01");
    const tags = ["Web 1", "web_1", "WEB.1", "web-1 "].map(fileTag);
    assert.deepEqual(tags.map((t) => t.replace(/-[0-9a-f]{8}$/, "")), ["web-1", "web-1", "web-1", "web-1"]);
    assert.equal(new Set([...tags, "web-1"]).size, 5, tags.join(" "));
    assert.equal(fileTag("Web 1"), fileTag("Web 1"));
  });

  it("never leaves the tag alphabet, even for hostile names, and stays a fixed point", () => {
    for (const name of ["HV 01/../etc", "...", "../../etc/passwd", "a\nb", "x".repeat(300), "-lead", "trail-", "ÄÖÜ", ""]) {
      const tag = fileTag(name);
      assert.match(tag, /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/, JSON.stringify(name));
      assert.equal(fileTag(tag), tag, "a tag is its own tag (HostTuning's check)");
      assert.ok(!persistencePaths(tag).sysctl.includes(".."));
    }
    assert.match(fileTag("HV 01/../etc"), /^hv-01-etc-[0-9a-f]{8}$/);
    assert.match(fileTag("..."), /^tag-[0-9a-f]{8}$/);
    assert.equal(fileTag("x".repeat(64)), "x".repeat(64));
    assert.match(fileTag("x".repeat(65)), new RegExp(`^${"x".repeat(48)}-[0-9a-f]{8}$`));
  });
});
