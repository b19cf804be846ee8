/** core/cron.ts: the longest gap between two runs of a Volsync schedule (for backups/stale). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { humanDuration, maxInterval, parseCron } from "../../src/core/cron.ts";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

describe("cron", () => {
  it("common Volsync schedules", () => {
    assert.equal(maxInterval("0 * * * *"), HOUR);
    assert.equal(maxInterval("*/15 * * * *"), 15 * MIN);
    assert.equal(maxInterval("30 2 * * *"), DAY);
    assert.equal(maxInterval("@daily"), DAY);
    assert.equal(maxInterval("@hourly"), HOUR);
    assert.equal(maxInterval("0 3 * * 0"), 7 * DAY);
    assert.equal(maxInterval("@weekly"), 7 * DAY);
    assert.equal(maxInterval("0 */6 * * *"), 6 * HOUR);
    assert.equal(maxInterval("0 0,12 * * *"), 12 * HOUR);
    assert.equal(maxInterval("0 9-17 * * MON-FRI"), HOUR * (24 * 2 + 16));
    assert.equal(maxInterval("0 0 1 * *"), 31 * DAY);
    assert.equal(maxInterval("CRON_TZ=Europe/Berlin 0 1 * * *"), DAY);
  });

  it("day-of-month and day-of-week together: either matches", () => {
    // the 1st of the month or any Monday: never more than a week apart
    assert.ok(maxInterval("0 0 1 * 1") <= 7 * DAY);
  });

  it("rejects what it cannot read", () => {
    assert.throws(() => parseCron("every tuesday"), /expected 5 fields/);
    assert.throws(() => parseCron("61 * * * *"), /out of range/);
    assert.throws(() => parseCron("@every 1h"), /not a cron schedule/);
    assert.throws(() => maxInterval("0 0 31 2 *"), /never runs/);
  });

  it("human durations", () => {
    assert.equal(humanDuration(90 * MIN), "1h 30m");
    assert.equal(humanDuration(7 * DAY), "7d");
    assert.equal(humanDuration(10_000), "0m");
  });
});
