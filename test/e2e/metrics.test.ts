import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { expectUserError } from "../support/cli.ts";
import { valuesByKey, parseExposition } from "../support/promql.ts";
import { auditUids, freePort, metricsBase, waitFor, runHandler, runToEnd, startWorld, stopAll, type Handler, type World } from "../support/world.ts";

const P = "teleport_event_handler_";
const SKIPPED = "cert.create";

describe("metrics and readiness of the compiled binary", () => {
  let world: World;
  let handler: Handler;
  let base: string;
  const scrape = async () => valuesByKey(parseExposition(await (await fetch(`${base}/metrics`)).text()));
  const metric = (m: Map<string, number>, name: string) => m.get(`${P}${name}`) ?? 0;
  const sessionRecords = () => world.fluentd.records().filter((r) => r.tag.startsWith("session.")).length;
  const okRequests = () => world.fluentd.requests.filter((r) => r.status === 200);

  beforeAll(async () => {
    world = await startWorld({ teleport: { events: 1500, days: 2, sessions: 6, printsPerSession: 3 } });
    // Slow acknowledgements keep the export running long enough to be scraped in the middle.
    world.fluentd.faults.latencyMs = 30;
    handler = await runHandler(
      world.startArgs([
        "--metrics-addr", `127.0.0.1:${freePort()}`,
        "--timeout", "200ms",
        "--ready-failure-period", "500ms",
        "--skip-event-types", SKIPPED,
        "--fluentd-batch-size", "50",
      ]),
    );
    base = await metricsBase(handler);
  });
  afterAll(() => stopAll(handler, world));

  test("counters never run ahead of the receiver and end equal to what it stored", async () => {
    const log = world.teleport.log;
    let skipped = 0;
    for (let i = 0; i < log.count; i++) if (log.typeAt(i) === SKIPPED) skipped++;
    const expectedAudit = log.count - skipped;

    let previous = 0;
    let scrapedMidway = false;
    await waitFor("every audit event delivered", async () => {
      const delivered = metric(await scrape(), 'events_delivered_total{stream="audit"}');
      // Acknowledged means stored: the counter can lag the receiver, never lead it.
      expect(delivered).toBeLessThanOrEqual(auditUids(world).length);
      expect(delivered).toBeGreaterThanOrEqual(previous);
      if (delivered > 0 && delivered < expectedAudit) scrapedMidway = true;
      previous = delivered;
      return delivered === expectedAudit ? true : undefined;
    });
    expect(scrapedMidway).toBe(true);
    world.fluentd.faults.latencyMs = 0;

    const m = await waitFor("every recording exported", async () => {
      const m = await scrape();
      const done = metric(m, "sessions_pending") === 0 && metric(m, 'events_delivered_total{stream="session"}') === sessionRecords();
      return done && sessionRecords() > 0 ? m : undefined;
    });
    expect(auditUids(world).length).toBe(expectedAudit);
    expect(metric(m, 'events_received_total{stream="audit"}')).toBe(log.count);
    expect(metric(m, 'events_filtered_total{stream="audit"}')).toBe(skipped);
    expect(skipped).toBeGreaterThan(0);
    // print is skipped by default in recordings.
    expect(metric(m, 'events_filtered_total{stream="session"}')).toBeGreaterThan(0);
    expect(metric(m, 'events_received_total{stream="session"}')).toBe(sessionRecords() + metric(m, 'events_filtered_total{stream="session"}'));
    expect(metric(m, 'fluentd_requests_total{outcome="ok"}')).toBe(okRequests().length);
    expect(metric(m, "fluentd_sent_bytes_total")).toBe(okRequests().reduce((sum, r) => sum + r.bytes, 0));
    expect(metric(m, "fluentd_request_duration_seconds_count")).toBe(world.fluentd.requestCount());
    expect(metric(m, 'errors_total{kind="fluentd"}')).toBe(0);
    expect(metric(m, "identity_expiry_timestamp_seconds")).toBeGreaterThan(Date.now() / 1000);
    expect(metric(m, "last_successful_delivery_timestamp_seconds")).toBeGreaterThan(Date.now() / 1000 - 60);
    expect(metric(m, "lag_seconds")).toBeGreaterThanOrEqual(0);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });

  test("/readyz fails while the receiver is down longer than ready-failure-period, and recovers", async () => {
    const before = auditUids(world).length;
    const log = world.teleport.log;
    const outage = world.fluentd.faults.down(2_500);
    world.teleport.appendEvents(10);
    let appended = 0;
    for (let i = log.count - 10; i < log.count; i++) if (log.typeAt(i) !== SKIPPED) appended++;
    const notReady = await waitFor("/readyz to fail", async () => {
      const res = await fetch(`${base}/readyz`);
      return res.status === 503 ? await res.text() : undefined;
    });
    expect(notReady).toContain("fluentd: deliveries failing");
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    await outage;
    await waitFor("/readyz to recover", async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : undefined), 40_000);
    const m = await waitFor("the appended events delivered", async () => {
      const m = await scrape();
      return metric(m, 'events_delivered_total{stream="audit"}') === before + appended ? m : undefined;
    }, 40_000);
    expect(auditUids(world).length).toBe(before + appended);
    // One line says the outage is over, how long it lasted, and (once they are sent) how many events
    // it had held back: the ones appended while the receiver was down.
    const recovered = /INFO +Fluentd deliveries recovered after [\d.]+m?s; (\d+) events caught up$/m;
    await handler.waitForLog(recovered);
    expect(handler.log().match(new RegExp(recovered.source, "gm"))).toHaveLength(1);
    expect(Number(recovered.exec(handler.log())![1])).toBe(appended);
    expect(metric(m, 'errors_total{kind="fluentd"}')).toBeGreaterThan(0);
    expect(metric(m, 'fluentd_requests_total{outcome="retry"}')).toBe(metric(m, 'errors_total{kind="fluentd"}'));
    expect(metric(m, 'events_retried_total{stream="audit"}')).toBeGreaterThanOrEqual(appended);
  });
});

describe("a metrics-addr that cannot be bound", () => {
  test("is a setting to change: exit 2 in one line naming it, not a crash", async () => {
    const w = await startWorld({ teleport: { events: 20, days: 1, sessions: 0 } });
    const holder = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("taken\n") });
    try {
      const r = await runToEnd(w.startArgs(["--exit-on-last-event", "--metrics-addr", `127.0.0.1:${holder.port}`]));
      expectUserError(r, new RegExp(`^metrics-addr 127\\.0\\.0\\.1:${holder.port}: cannot listen \\(EADDRINUSE\\); choose a free port`));
      expect(w.fluentd.recordCount("events.log")).toBe(0);
    } finally {
      holder.stop(true);
      await w.stop();
    }
  });
});
