import { describe, expect, test } from "bun:test";
import { runHandler, statusJson, waitUntil, sharedWorld } from "../support/world.ts";

/**
 * SIGTERM while batches are in flight: the handler stops reading, finishes those batches (not the
 * pages it read ahead), commits them, prints the summary and exits 0 well within the 10 s grace.
 * (lifecycle.test.ts checks that the next run then completes the export without duplicates.)
 */
describe("SIGTERM during delivery", () => {
  const world = sharedWorld({ teleport: { events: 1000, days: 2, sessions: 6 } });

  test("finishes the batches in flight, commits them and exits 0", async () => {
    const { fluentd } = world;
    fluentd.faults.latencyMs = 1_000;
    const handler = await runHandler(world.startArgs(["--fluentd-batch-size", "25", "--batch", "25", "--fluentd-inflight-batches", "2"]));
    // With the window full, no batch is sent until one is answered, a second later.
    await waitUntil("both batches of the window are in flight", () => fluentd.inFlight() >= 2);
    // Pages read ahead of that batch: what must not be sent after the signal.
    await waitUntil("pages are read ahead", () => (world.teleport.calls.GetUnstructuredEvents ?? 0) >= 3);
    const inFlight = fluentd.inFlight();
    const answered = fluentd.requestCount();
    handler.kill("SIGTERM");
    const result = await handler.done;

    expect({ code: result.code, stderr: result.code === 0 ? "" : result.stderr }).toEqual({ code: 0, stderr: "" });
    expect(result.stderr).toContain("SIGTERM received: finishing in-flight batches, then exiting");
    expect(result.stderr).not.toContain("did not finish in time");
    // The batches in flight were answered and stored; nothing read ahead was sent after the signal.
    expect(fluentd.requestCount() - answered).toBe(inFlight);
    const stored = fluentd.recordCount("events.log");
    expect(stored).toBeGreaterThan(0);
    expect(result.stderr).toContain(`summary: ${stored} events delivered, 0 sessions delivered, 0 dead-lettered`);
    const status = await statusJson(world.storage);
    expect(status.delivered.events).toBe(stored);
    expect(status.runningPid).toBeNull();
  });

});
