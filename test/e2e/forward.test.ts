import { afterEach, describe, expect, test } from "bun:test";
import {
  auditUids,
  countBy,
  expectAuditExactlyOnce,
  expectRecordingsExactlyOnce,
  logUids,
  runHandler,
  runToEnd,
  sorted,
  startWorld,
  waitUntil,
  type World,
} from "../support/world.ts";

/**
 * The compiled handler delivering over Fluentd's forward protocol (forward+tls:// with the test
 * PKI's client certificate) to the in_forward receiver of scripts/fakes/fake-forward.ts.
 */

const SHARED_KEY = "k3y-that-must-never-be-logged";
const SMALL = { events: 600, days: 2, sessions: 6, printsPerSession: 5 };

/** The EventTime an RFC3339 time stands for, worked out here independently of the sink's parser. */
function expectedEventTime(time: string): { seconds: number; nanos: number } {
  const fraction = /\.(\d+)Z$/.exec(time)?.[1] ?? "";
  return { seconds: Math.floor(Date.parse(time) / 1000), nanos: Number(fraction.slice(0, 9).padEnd(9, "0")) };
}

let world: World | undefined;
afterEach(async () => {
  await world?.stop();
  world = undefined;
});

describe("forward protocol, end to end", () => {
  test("every audit event and recording event exactly once over forward+tls with a shared key, times to the nanosecond", async () => {
    world = await startWorld({ teleport: { events: 1500, days: 3, sessions: 10, printsPerSession: 5 }, protocols: { audit: "forward", sessions: "forward" }, forward: { security: { sharedKey: SHARED_KEY } } });
    const result = await runToEnd(world.startArgs(["--exit-on-last-event", "--fluentd-shared-key", SHARED_KEY]));
    expect({ code: result.code, stderr: result.code === 0 ? "" : result.stderr }).toEqual({ code: 0, stderr: "" });
    expectAuditExactlyOnce(world);
    expectRecordingsExactlyOnce(world, { withPrints: false });
    expect(world.fluentd.recordCount()).toBe(0);
    for (const r of world.forward!.records("events.log")) expect(r.eventTime).toEqual(expectedEventTime(String(r.record.time)));
    // The record is the event as Teleport returned it, `time` included.
    const first = world.teleport.log.eventAt(0);
    const stored = world.forward!.records("events.log").find((r) => r.record.uid === first.id)!;
    expect(stored.record).toEqual(JSON.parse(JSON.stringify(first.json)));
    expect(world.forward!.frames.every((f) => f.mode === "PackedForward")).toBe(true);
    expect(result.stderr).not.toContain(SHARED_KEY);
  });

  test("audit batches pipelined over forward: several frames awaiting their acks at once, every event once and in log order", async () => {
    world = await startWorld({ teleport: SMALL, protocols: { audit: "forward", sessions: "forward" } });
    // Acks come late (well within fluentd-timeout): a handler that waited for each batch's ack
    // before sending the next would never have more than one frame outstanding.
    world.forward!.faults.ackDelayMs = 40;
    const result = await runToEnd(world.startArgs(["--exit-on-last-event", "--fluentd-batch-size", "25", "--fluentd-inflight-batches", "4"]));
    expect({ code: result.code, stderr: result.code === 0 ? "" : result.stderr }).toEqual({ code: 0, stderr: "" });
    expect(world.forward!.maxOutstanding("events.log")).toBeGreaterThan(1);
    expect(world.forward!.maxOutstanding("events.log")).toBeLessThanOrEqual(4);
    expectAuditExactlyOnce(world);
    expect(auditUids(world)).toEqual(logUids(world));
    expectRecordingsExactlyOnce(world, { withPrints: false });
  });

  test("mixed protocols: the audit log over forward, the recordings over https", async () => {
    world = await startWorld({ teleport: SMALL, protocols: { audit: "forward", sessions: "http" } });
    const result = await runToEnd(world.startArgs(["--exit-on-last-event"]));
    expect(result.code).toBe(0);
    expectAuditExactlyOnce(world);
    expectRecordingsExactlyOnce(world, { withPrints: false });
    expect(world.fluentd.recordCount("events.log")).toBe(0);
    expect(world.forward!.records().filter((r) => r.tag.startsWith("session."))).toEqual([]);
  });

  test("fluentd-compress=gzip on both sinks: gzip bodies to in_http, CompressedPackedForward to in_forward", async () => {
    world = await startWorld({ teleport: SMALL, protocols: { audit: "http", sessions: "forward" } });
    const result = await runToEnd(world.startArgs(["--exit-on-last-event", "--fluentd-compress", "gzip"]));
    expect(result.code).toBe(0);
    expectAuditExactlyOnce(world);
    expectRecordingsExactlyOnce(world, { withPrints: false });
    expect(world.fluentd.requests.length).toBeGreaterThan(0);
    expect(world.fluentd.requests.every((r) => r.headers["content-encoding"] === "gzip")).toBe(true);
    expect(world.forward!.frames.length).toBeGreaterThan(0);
    expect(world.forward!.frames.every((f) => f.mode === "CompressedPackedForward")).toBe(true);
  });
});

describe("forward protocol faults", () => {
  const forwardOnly = { teleport: SMALL, protocols: { audit: "forward", sessions: "forward" } } as const;
  const fast = ["--fluentd-timeout", "1s", "--fluentd-batch-size", "50"];

  test("a receiver that never acks gets nothing committed: a later run sends those records again", async () => {
    world = await startWorld(forwardOnly);
    const receiver = world.forward!;
    receiver.faults.noAckNext(Number.MAX_SAFE_INTEGER);
    const handler = await runHandler(world.startArgs(["--exit-on-last-event", ...fast]));
    // Frames stored but never acknowledged, re-sent after each timeout.
    await handler.waitForLog("no ack within 1s", 20_000);
    const storedUnacked = new Set(auditUids(world));
    expect(storedUnacked.size).toBeGreaterThan(0);
    handler.kill("SIGKILL");
    await handler.done;

    receiver.faults.noAckNext(0);
    const result = await runToEnd(world.startArgs(["--exit-on-last-event", ...fast]));
    expect(result.code).toBe(0);
    const counts = countBy(auditUids(world));
    expect(sorted([...counts.keys()])).toEqual(sorted(logUids(world)));
    // Nothing of the unacknowledged frames was committed, so the second run sent them again.
    for (const uid of storedUnacked) expect(counts.get(uid)).toBeGreaterThanOrEqual(2);
  });

  // The two faults get a run each: on one connection their failures add up to one backoff (full
  // jitter, doubling from 1 s), which took the two together 18-30 s, close to the test's limit.
  test("late acks: the frame is sent again, duplicates only from those re-sends", async () => {
    world = await startWorld(forwardOnly);
    const receiver = world.forward!;
    receiver.faults.ackDelayMs = 1_500; // later than fluentd-timeout
    const handler = await runHandler(world.startArgs(["--exit-on-last-event", ...fast]));
    // Nothing else fails here, so a record stored twice is a frame re-sent after its ack came too late.
    await waitUntil("a frame was re-sent after a late ack", () => [...countBy(auditUids(world!)).values()].some((n) => n > 1), 30_000);
    receiver.faults.ackDelayMs = 0;
    const result = await handler.done;
    expect({ code: result.code, stderr: result.code === 0 ? "" : result.stderr }).toEqual({ code: 0, stderr: "" });
    const counts = countBy(auditUids(world));
    expect(sorted([...counts.keys()])).toEqual(sorted(logUids(world)));
    expectRecordingsDeliveredAtLeastOnce(world);
  });

  test("connections reset mid-frame: everything arrives", async () => {
    world = await startWorld(forwardOnly);
    const receiver = world.forward!;
    receiver.faults.resetNext(3);
    const result = await runToEnd(world.startArgs(["--exit-on-last-event", ...fast]));
    expect({ code: result.code, stderr: result.code === 0 ? "" : result.stderr }).toEqual({ code: 0, stderr: "" });
    expect(receiver.frames.filter((f) => f.fault === "reset").length).toBe(3);
    // A reset frame stores nothing; frames stored before it on that connection may have lost their
    // ack with it, and are sent again (duplicates, never loss).
    const counts = countBy(auditUids(world));
    expect(sorted([...counts.keys()])).toEqual(sorted(logUids(world)));
    expectRecordingsDeliveredAtLeastOnce(world);
  });

  test("a wrong shared key: one clear error, the handshake retried, nothing stored, the key never logged", async () => {
    world = await startWorld({ ...forwardOnly, forward: { security: { sharedKey: "the-right-key" } } });
    const handler = await runHandler(world.startArgs(["--exit-on-last-event", "--fluentd-shared-key", SHARED_KEY, ...fast]));
    await waitUntil("three handshakes were refused", () => world!.forward!.refusedHandshakes() >= 3, 30_000);
    handler.kill("SIGTERM");
    const result = await handler.done;
    const errors = result.stderr.split("\n").filter((l) => l.includes("handshake failed"));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain("shared_key mismatch");
    expect(errors[0]).toContain("fluentd-shared-key");
    expect(world.forward!.recordCount()).toBe(0);
    expect(result.stderr).not.toContain(SHARED_KEY);
  });

  test("forward:// is refused without fluentd-allow-insecure, with one line naming the fix", async () => {
    world = await startWorld({ teleport: SMALL });
    const args = world.startArgs(["--exit-on-last-event", "--fluentd-url", "forward://localhost:24224/events.log"]);
    const result = await runToEnd(args);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split("\n").at(-1)).toContain("fluentd-url forward://localhost:24224/events.log is not encrypted; use forward+tls://, or set fluentd-allow-insecure");
  });
});

/** Every recording complete (each `ei` at least once), in order of first arrival. */
function expectRecordingsDeliveredAtLeastOnce(w: World): void {
  const log = w.teleport.log;
  for (let k = 0; k < log.sessions; k++) {
    if (!log.hasRecording(k)) continue;
    const tag = `session.${log.sessionId(k)}.log`;
    const expected = [...log.recording(k)].filter((e) => e.type !== "print").map((e) => e.ei);
    const got = [...new Set(w.sessions.records(tag).map((r) => Number(r.record.ei)))];
    expect({ tag, got }).toEqual({ tag, got: expected });
  }
}
