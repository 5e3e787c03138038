import { expect, test } from "bun:test";
import { summary } from "../../src/app/reporting.ts";
import { ExportStats, recentRate } from "../../src/export/stats.ts";

test("the progress rate is the last interval's, not the average since start", () => {
  const stats = new ExportStats();
  const lastMinute = recentRate(stats);
  // A fast first minute, then a slow one: the average would still read hundreds.
  stats.eventsDelivered = 30_000;
  expect(lastMinute(stats.startedAt + 60_000)).toBe(500);
  stats.eventsDelivered += 600;
  const now = stats.startedAt + 120_000;
  expect(lastMinute(now)).toBe(10);
  expect(Math.round(stats.rate(now))).toBe(255);
  const { line, fields } = summary(stats, now, false, 10);
  expect(line).toContain("30600 events delivered");
  expect(line).toContain(", 10 events/s,");
  expect(fields.fields).toMatchObject({ events_delivered: 30_600, rate: 10 });
});

test("lag counts from the start time until something is delivered", () => {
  const stats = new ExportStats();
  expect(stats.lagMs(1_000)).toBeUndefined();
  stats.startTime = new Date(0);
  expect(stats.lagMs(5_000)).toBe(5_000);
  stats.lastEventTime = new Date(4_000);
  expect(stats.lagMs(5_000)).toBe(1_000);
});
