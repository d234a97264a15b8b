import { strict as assert } from "node:assert";
import { parseDuration, stepTimeoutMs, timeoutProblems } from "../../provider/spec/timeouts";

describe("customTimeouts as step bounds", function () {
  it("parses Pulumi's durations (Go's syntax, plus d) to ms", function () {
    assert.deepEqual(["90s", "5m", "1h30m", "1.5h", "1d", "2m500ms", "1000ms"].map(parseDuration), [90_000, 300_000, 5_400_000, 5_400_000, 86_400_000, 120_500, 1000]);
  });

  it("refuses what is not a duration of at least 1s, naming the field and what is accepted", function () {
    assert.deepEqual(["5", "5 m", "-1s", "m", "500ms", "", "1y"].map(parseDuration), [undefined, undefined, undefined, undefined, undefined, undefined, undefined]);
    assert.deepEqual(timeoutProblems({ create: "5x", update: "2m", purge: "1m" }), [
      'timeouts.create: "5x" is not accepted; expected a duration of at least 1s such as "90s", "5m" or "1h30m"',
      'timeouts: unknown operation "purge"; accepted: create, update, delete, read',
    ]);
    assert.deepEqual(timeoutProblems("5m"), ['timeouts: "5m" is not accepted; expected { create?, update?, delete?, read? } durations']);
    assert.deepEqual(timeoutProblems(undefined), []);
  });

  it("gives each operation its own bound, none when unset", function () {
    const t = { create: "10m", delete: "30s" };
    assert.deepEqual([stepTimeoutMs(t, "create"), stepTimeoutMs(t, "delete"), stepTimeoutMs(t, "update"), stepTimeoutMs(undefined, "read")], [600_000, 30_000, undefined, undefined]);
  });
});
