import { afterAll, describe, expect, test } from "bun:test";
import { Health } from "../../src/observability/health.ts";
import { eventsDelivered, recordDelivered } from "../../src/observability/metrics.ts";
import { startMetricsServer } from "../../src/observability/server.ts";

describe("metrics server", () => {
  const health = new Health();
  const server = startMetricsServer({ metricsAddr: { host: "127.0.0.1", port: 0 }, readyFailurePeriod: 60_000 }, health);
  afterAll(() => server.stop());
  const base = `http://127.0.0.1:${server.port}`;

  test("exposes delivered counters and lag in Prometheus text format", async () => {
    recordDelivered("audit", 3, new Date(Date.now() - 5_000));
    const res = await fetch(`${base}/metrics`);
    const text = await res.text();
    expect(res.headers.get("content-type")).toContain("text/plain");
    expect(text).toMatch(/teleport_event_handler_events_delivered_total\{stream="audit"\} 3/);
    const lag = Number(/^teleport_event_handler_lag_seconds (\S+)$/m.exec(text)?.[1]);
    expect(lag).toBeGreaterThanOrEqual(4);
    expect(lag).toBeLessThan(60);
    // Both streams exist from the start (the session one still at 0), so alert expressions match them.
    const series = (await eventsDelivered.get()).values.map((v) => [v.labels.stream, v.value]);
    expect(series.sort()).toEqual([["audit", 3], ["session", 0]]);
  });

  test("healthz is always ok; readyz follows Teleport and Fluentd state", async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    health.markTeleportOk();
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    health.markFluentdFailed("HTTP 500", Date.now() - 120_000);
    const res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.text()).toContain("HTTP 500");
    health.markFluentdOk();
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });
});
