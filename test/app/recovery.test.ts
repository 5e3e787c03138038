import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import type { LogObject } from "consola";
import { reportRecoveries } from "../../src/app/recovery.ts";
import { ExportStats } from "../../src/export/stats.ts";
import { logger } from "../../src/logger.ts";
import { health } from "../../src/observability/health.ts";

const lines: string[] = [];
// The logger is the process's: other test files set its level and reporters too.
const saved = { reporters: logger.options.reporters, level: logger.level };
beforeAll(() => {
  logger.setReporters([{ log: (o: LogObject) => void lines.push(String(o.args[0])) }]);
  logger.level = 3;
});
afterAll(() => {
  logger.setReporters(saved.reporters);
  logger.level = saved.level;
});
afterEach(() => {
  health.markFluentdOk();
  lines.length = 0;
});

test("a recovery's line is said when deliveries fail again, with what was caught up until then", () => {
  const stats = new ExportStats();
  // A delivery is always in flight: the line can only come from the next failure (or the stop).
  const stop = reportRecoveries(stats, () => 1);
  health.markFluentdFailed("HTTP 500", 1_000);
  health.markFluentdOk(1_072);
  stats.eventsDelivered += 50;
  expect(lines).toEqual([]);
  health.markFluentdFailed("connection refused", 2_000);
  expect(lines).toEqual(["Fluentd deliveries recovered after 72ms; 50 events caught up"]);
  // The outage that follows gets a line of its own, with its own figures.
  stats.eventsDelivered += 7;
  health.markFluentdOk(14_400);
  stats.eventsDelivered += 4_900;
  stop();
  expect(lines).toEqual(["Fluentd deliveries recovered after 72ms; 50 events caught up", "Fluentd deliveries recovered after 12.4s; 4,900 events caught up"]);
});
