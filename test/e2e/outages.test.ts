import { afterEach, describe, expect, test } from "bun:test";
import {
  expectAuditExactlyOnce,
  expectRecordingsExactlyOnce,
  runHandler,
  startWorld,
  statusJson,
  waitUntil,
  type World,
} from "../support/world.ts";

/**
 * Outages on either side while the compiled handler exports: nothing is lost, and since the
 * receiver acknowledged each record once (a refused, reset or cut request stores nothing), every
 * record arrives exactly once, recordings complete and in order.
 */

const EXPORT_FLAGS = ["--exit-on-last-event", "--fluentd-batch-size", "25", "--batch", "100"];

describe("outages lose nothing", () => {
  let world: World | undefined;
  afterEach(async () => {
    await world?.stop();
    world = undefined;
  });

  /**
   * The receiver is down for 3 s, not 20: while it is down every attempt fails the same way
   * (connection refused, retried with backoff), so a longer outage only adds identical retries;
   * 3 s already gives several consecutive refusals and the "delivery failing" warning. A 20 s
   * outage would cost 20 s plus up to the 30 s backoff cap (full jitter) of test time per run.
   */
  test("connection resets and 500s, then the receiver down", async () => {
    // Long and slow enough that the export is still running when the receiver goes down (2,000
    // events were once enough; faster reading from Teleport finished them first).
    world = await startWorld({ teleport: { events: 5000, days: 2, sessions: 10, printsPerSession: 20 } });
    const { fluentd } = world;
    fluentd.faults.latencyMs = 20;
    // Armed before the handler starts, so its first requests meet them: armed mid-export, a fast
    // export could finish before meeting them all, and armed after the outage they could meet a
    // request already backing off from it, whose backoff (full jitter, doubling from 1 s) once took
    // longer than a minute. The first requests are several batches in flight at once, so each
    // meets one or two of the faults.
    fluentd.faults.resetNext(3);
    fluentd.faults.failNext(3, 500);
    const handler = await runHandler(world.startArgs(EXPORT_FLAGS));
    const faulted = (fault: string) => fluentd.requests.filter((r) => r.fault === fault).length;
    const flowing = async (what: string) => {
      const before = fluentd.recordCount();
      await waitUntil(`deliveries resume after ${what}`, () => fluentd.recordCount() >= before + 50);
    };

    await waitUntil("the resets and the 500s happen", () => faulted("reset") === 3 && faulted("status 500") === 3);
    // A batch still backing off from them would carry its failures into the outage, and its
    // backoff could hold the export up for much longer than the outage: go down once each of
    // those batches was sent again (same body) and stored.
    const faultedBodies = fluentd.requests.filter((r) => r.fault === "reset" || r.fault === "status 500").map((r) => r.body);
    await waitUntil("the batches that met them are stored", () => {
      const stored = new Set(fluentd.requests.filter((r) => r.status === 200).map((r) => r.body));
      return faultedBodies.every((body) => stored.has(body));
    });
    await flowing("the resets and the 500s");
    await fluentd.faults.down(3_000);
    await flowing("the outage");

    const result = await handler.done;
    expect({ code: result.code, stderr: result.code === 0 ? "" : result.stderr }).toEqual({ code: 0, stderr: "" });
    expect(result.stderr).toContain("Fluentd delivery failing for");
    expect(result.stderr).toContain("summary:");
    expect(handler.proc.exitCode).toBe(0);
    expectAuditExactlyOnce(world);
    expectRecordingsExactlyOnce(world, { withPrints: false });
    expect((await statusJson(world.storage)).deadLetters).toBe(0);
  }, 120_000);

  test("Teleport UNAVAILABLE every 7th call and the connection cut mid-recording", async () => {
    // The first recording holds 256 print events of 32 KiB, ten batches: the connection is cut
    // once its first batch is stored, and the recording must resume from its checkpoint.
    world = await startWorld({ teleport: { events: 1500, days: 2, sessions: 10, largeRecordingBytes: 8 * 1024 * 1024, failEvery: 7 } });
    const large = world.teleport.log.sessionId(0);
    const handler = await runHandler(world.startArgs([...EXPORT_FLAGS, "--skip-session-types", "desktop.recording"]));
    await waitUntil("the first batch of the large recording is stored", () => world!.fluentd.recordCount(`session.${large}.log`) >= 25);
    expect(world.teleport.dropConnections()).toBeGreaterThan(0);

    const result = await handler.done;
    expect({ code: result.code, stderr: result.code === 0 ? "" : result.stderr }).toEqual({ code: 0, stderr: "" });
    expect(result.stderr).toContain("injected fault: auth server unavailable");
    const resumed = world.teleport.sessionStreams.filter((s) => s.sessionId === large).map((s) => s.startIndex);
    expect(resumed.at(-1)).toBeGreaterThanOrEqual(25);
    expectAuditExactlyOnce(world);
    expectRecordingsExactlyOnce(world, { withPrints: true });
    const status = await statusJson(world.storage);
    expect(status.sessions).toMatchObject({ pending: 0, givenUp: 0 });
    expect(status.deadLetters).toBe(0);
  });
});
