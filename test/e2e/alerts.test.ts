import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { evaluate, parseExposition, valuesByKey, type Scrape } from "../support/promql.ts";
import { freePort, metricsBase, ROOT, runHandler, startWorld, stopAll, waitUntil, type Handler, type World } from "../support/world.ts";

const P = "teleport_event_handler_";

/** The alert rules the README recommends, by name: what an operator copies into Prometheus. */
function readmeAlerts(): Map<string, string> {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const alerts = new Map<string, string>();
  for (const m of readme.matchAll(/- alert: (\w+)\n[\s\S]*?expr: ([\s\S]*?)\n\s*for:/g)) alerts.set(m[1]!, m[2]!.replace(/\s+/g, " ").trim());
  return alerts;
}

/**
 * A fresh deploy whose Fluentd refuses everything from the start: the README's two alerts must
 * fire (labelled series exist at 0, lag counts from the start time before anything is delivered),
 * and stop firing once deliveries flow.
 */
describe("the README's alerts against the compiled binary's /metrics", () => {
  let world: World;
  let handler: Handler;
  let base: string;
  const scrapes: Scrape[] = [];
  const scrape = async () => {
    const s = parseExposition(await (await fetch(`${base}/metrics`)).text());
    scrapes.push(s);
    return s;
  };
  const alerts = readmeAlerts();

  beforeAll(async () => {
    world = await startWorld({ teleport: { events: 200, days: 1, sessions: 2 } });
    world.fluentd.faults.failNext(1_000_000, 500);
    handler = await runHandler(world.startArgs(["--metrics-addr", `127.0.0.1:${freePort()}`, "--timeout", "200ms"]));
    base = await metricsBase(handler);
  });
  afterAll(() => stopAll(handler, world));

  test("the README lists the two alerts", () => {
    expect([...alerts.keys()]).toEqual(["TeleportAuditExportLagging", "TeleportAuditDeliveriesFailing"]);
  });

  test("every series exists from the start, under standard names where there are some", async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    const v = valuesByKey(parseExposition(text));
    for (const name of ["events_received_total", "events_delivered_total", "events_retried_total", "events_dead_lettered_total", "events_filtered_total"]) {
      for (const stream of ["audit", "session"]) expect(v.has(`${P}${name}{stream="${stream}"}`)).toBe(true);
    }
    for (const outcome of ["ok", "retry", "rejected"]) expect(v.has(`${P}fluentd_requests_total{outcome="${outcome}"}`)).toBe(true);
    for (const kind of ["teleport", "fluentd", "state"]) expect(v.has(`${P}errors_total{kind="${kind}"}`)).toBe(true);
    expect(v.get("process_cpu_seconds_total")).toBeGreaterThan(0);
    expect(v.get("process_resident_memory_bytes")).toBeGreaterThan(1_000_000);
    expect(text).not.toContain("nodejs_");
    expect(text).toMatch(new RegExp(`^${P}build_info\\{version="[^"]+",commit="[^"]+",bun="${Bun.version}"\\} 1$`, "m"));
    // The test PKI issues client certificates for a year.
    expect(v.get(`${P}fluentd_client_cert_expiry_timestamp_seconds`)).toBeGreaterThan(Date.now() / 1000 + 300 * 86_400);
  });

  test("both alerts fire for a deploy that has never delivered", async () => {
    const retries = (s: Scrape) => valuesByKey(s).get(`${P}fluentd_requests_total{outcome="retry"}`) ?? 0;
    await waitUntil("a retried request", () => world.fluentd.requestCount() > 0);
    const first = await scrape();
    await waitUntil("another retried request", () => world.fluentd.requestCount() > retries(first) + 1);
    const second = await scrape();
    expect(retries(second)).toBeGreaterThan(retries(first));

    // Lag counts from the start time (a day before the first event) while nothing is delivered.
    const lag = valuesByKey(second).get(`${P}lag_seconds`)!;
    expect(lag).toBeGreaterThan(86_400);
    expect(evaluate(alerts.get("TeleportAuditExportLagging")!, scrapes)).toBeDefined();
    expect(evaluate(alerts.get("TeleportAuditDeliveriesFailing")!, scrapes)).toBeDefined();
  });

  test("neither fires once deliveries flow", async () => {
    world.fluentd.faults.failNext(0);
    await waitUntil("every audit event stored", () => world.fluentd.recordCount("events.log") === world.teleport.log.count, 40_000);
    await scrape();
    expect(evaluate(alerts.get("TeleportAuditExportLagging")!, scrapes)).toBeUndefined();
    expect(evaluate(alerts.get("TeleportAuditDeliveriesFailing")!, scrapes)).toBeUndefined();
  });
});
