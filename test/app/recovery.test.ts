import { afterEach, expect, test } from "bun:test";
import { reportRecoveries } from "../../src/app/recovery.ts";
import { ExportStats } from "../../src/export/stats.ts";
import { health } from "../../src/observability/health.ts";
import { capturingLogs } from "../support/logs.ts";

afterEach(() => health.markFluentdOk());

test("a recovery's line is said when deliveries fail again, with what was caught up until then", async () => {
  const { result } = await capturingLogs(async (logs) => {
    const lines = () => logs.map((o) => String(o.args[0])).filter((l) => l.startsWith("Fluentd deliveries recovered"));
    const stats = new ExportStats();
    // A delivery is always in flight: the line can only come from the next failure (or the stop).
    const stop = reportRecoveries(stats, () => 1);
    health.markFluentdFailed("HTTP 500", 1_000);
    health.markFluentdOk(1_072);
    stats.eventsDelivered += 50;
    expect(lines()).toEqual([]);
    health.markFluentdFailed("connection refused", 2_000);
    expect(lines()).toEqual(["Fluentd deliveries recovered after 72ms; 50 events caught up"]);
    // The outage that follows gets a line of its own, with its own figures.
    stats.eventsDelivered += 7;
    health.markFluentdOk(14_400);
    stats.eventsDelivered += 4_900;
    stop();
    expect(lines()).toEqual(["Fluentd deliveries recovered after 72ms; 50 events caught up", "Fluentd deliveries recovered after 12.4s; 4,900 events caught up"]);
  });
  // capturingLogs hands back what fn threw: a failed expectation fails the test here.
  if (result instanceof Error) throw result;
});
