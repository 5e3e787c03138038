import { afterEach, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import {
  auditUids,
  countBy,
  logUids,
  runHandler,
  runToEnd,
  sorted,
  startWorld,
  statusJson,
  untilAuditRecords,
  waitFor,
  waitUntil,
  type Handler,
  type World,
} from "../support/world.ts";
import { expectUserError } from "../support/cli.ts";

/**
 * The handler's lifecycle as users see it: one instance per storage, a start time that cannot
 * silently change, resuming after storage loss with `cursor`, live polling and a clean SIGTERM,
 * and `status` reading the state while an instance runs and after it stopped.
 */
let world: World | undefined;
let running: Handler | undefined;
afterEach(async () => {
  running?.kill("SIGKILL");
  running = undefined;
  await world?.stop();
});

async function freshWorld(sessions = 4, events = 300): Promise<World> {
  world = await startWorld({ teleport: { events, days: 2, sessions, printsPerSession: 2 } });
  return world;
}

const errorLines = (stderr: string) => stderr.split("\n").filter((l) => /\bERROR\b/.test(l));

describe("one instance per storage", () => {
  test("a second instance is refused at once, naming the holder's pid in one line", async () => {
    const w = await freshWorld();
    running = await runHandler(w.startArgs(["--timeout", "200ms"]));
    await untilAuditRecords(w, w.teleport.log.count);
    const started = performance.now();
    const second = await runToEnd(w.startArgs(["--exit-on-last-event"]));
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(expectUserError(second)).toContain(`pid ${running.proc.pid}`);
    // The first instance goes on undisturbed, and nothing was sent twice.
    expect(running.proc.exitCode).toBeNull();
    expect([...countBy(auditUids(w)).values()].every((n) => n === 1)).toBe(true);
  });
});

describe("start-time", () => {
  test("a changed start-time is refused with how to restart; the same instant in another offset is accepted", async () => {
    const w = await freshWorld();
    const first = await runToEnd(w.startArgs(["--exit-on-last-event"]));
    expect(first.code).toBe(0);
    const stored = new Date(w.startArgs()[w.startArgs().indexOf("--start-time") + 1]!);

    const later = new Date(stored.getTime() + 3_600_000).toISOString();
    const changed = await runToEnd(w.startArgs(["--exit-on-last-event", "--start-time", later]));
    const error = expectUserError(changed);
    expect(error).toContain("start-time");
    expect(error).toMatch(/delete \S+ to restart the export from scratch/);

    // The same instant written as local time at +02:00.
    const plus2 = new Date(stored.getTime() + 2 * 3_600_000).toISOString().slice(0, 19) + "+02:00";
    expect(new Date(plus2).getTime()).toBe(stored.getTime());
    const same = await runToEnd(w.startArgs(["--exit-on-last-event", "--start-time", plus2]));
    expect(same.stderr).not.toContain("differs from");
    expect(same.code).toBe(0);
    expect(w.fluentd.recordCount("events.log")).toBe(w.teleport.log.count);
  });
});

describe("cursor", () => {
  test("after the storage is lost, only the events after the cursor event are delivered", async () => {
    const w = await freshWorld();
    const first = await runToEnd(w.startArgs(["--exit-on-last-event", "--batch", "20"]));
    expect(first.code).toBe(0);
    const all = logUids(w);
    expect(sorted(auditUids(w))).toEqual(sorted(all));
    rmSync(w.storage, { recursive: true, force: true });

    // A cursor inside a page, in the middle of the log (not on a page or window boundary).
    const at = 157;
    const before = w.fluentd.recordCount("events.log");
    const resumed = await runToEnd(w.startArgs(["--exit-on-last-event", "--batch", "20", "--cursor", all[at]!]));
    expect(resumed.code).toBe(0);
    const again = auditUids(w).slice(before);
    expect(sorted(again)).toEqual(sorted(all.slice(at + 1)));

    // The cursor is spent: a further run resumes from the state, sending nothing.
    const settled = w.fluentd.recordCount("events.log");
    const third = await runToEnd(w.startArgs(["--exit-on-last-event", "--batch", "20", "--cursor", all[at]!]));
    expect(third.code).toBe(0);
    expect(w.fluentd.recordCount("events.log")).toBe(settled);
  });

  test("a cursor that is not found fails the run and can then be corrected, as the error says", async () => {
    const w = await freshWorld();
    const all = logUids(w);
    const wrong = await runToEnd(w.startArgs(["--exit-on-last-event", "--batch", "20", "--cursor", "00000000-0000-4000-a000-000000000000"]));
    expect(expectUserError(wrong)).toContain("was not found");
    expect(w.fluentd.recordCount("events.log")).toBe(0);

    // Corrected cursor, and a corrected start-time too: nothing was exported yet, so both may change.
    const at = 42;
    const startTime = new Date(w.startArgs()[w.startArgs().indexOf("--start-time") + 1]!);
    const earlier = new Date(startTime.getTime() - 3_600_000).toISOString();
    const fixed = await runToEnd(w.startArgs(["--exit-on-last-event", "--batch", "20", "--cursor", all[at]!, "--start-time", earlier]));
    expect(errorLines(fixed.stderr)).toEqual([]);
    expect(fixed.code).toBe(0);
    expect(sorted(auditUids(w))).toEqual(sorted(all.slice(at + 1)));
  });
});

describe("polling and SIGTERM", () => {
  test("live appends are picked up by polling; SIGTERM exits 0 with all of them delivered", async () => {
    const w = await freshWorld();
    running = await runHandler(w.startArgs(["--timeout", "200ms"]));
    await untilAuditRecords(w, w.teleport.log.count);
    for (const n of [7, 25, 1]) {
      w.teleport.appendEvents(n);
      await untilAuditRecords(w, w.teleport.log.count, 5_000);
    }
    running.kill("SIGTERM");
    const result = await running.done;
    running = undefined;
    expect(result.code).toBe(0);
    expect(result.stderr).toContain("SIGTERM received");
    expect(result.stderr).toContain("summary:");
    expect(sorted(auditUids(w))).toEqual(sorted(logUids(w)));

    // Everything was committed: a restart finds nothing to send.
    const again = await runToEnd(w.startArgs(["--exit-on-last-event"]));
    expect(again.code).toBe(0);
    expect(sorted(auditUids(w))).toEqual(sorted(logUids(w)));
  });
});

/** Resolves once the receiver is answering its first request (a batch is in flight). */
function untilInFlight(w: World, timeoutMs = 15_000): Promise<void> {
  return waitUntil("a request reaches the receiver", () => w.fluentd.peakInFlight() > 0, timeoutMs);
}

describe("stopping mid-delivery", () => {
  test("SIGTERM lets the batch in flight finish and commit: the next run sends no duplicate", async () => {
    // More events than can be in flight at once (fluentd-inflight-batches 4 × fluentd-batch-size
    // 100): with 300, all of them could be when the stop came, and the run had nothing left to stop.
    const w = await freshWorld(4, 1_000);
    w.fluentd.faults.latencyMs = 700;
    running = await runHandler(w.startArgs(["--timeout", "200ms"]));
    await untilInFlight(w);
    running.kill("SIGTERM");
    const result = await running.done;
    running = undefined;
    expect(result.code).toBe(0);
    const stored = w.fluentd.recordCount("events.log");
    expect(stored).toBeGreaterThan(0);
    // What was in flight finished; nothing new left after the signal.
    expect(stored).toBeLessThanOrEqual(4 * 100);

    w.fluentd.faults.latencyMs = 0;
    const rest = await runToEnd(w.startArgs(["--exit-on-last-event"]));
    expect(rest.code).toBe(0);
    expect(sorted(auditUids(w))).toEqual(sorted(logUids(w)));
  });

  test("a second SIGINT exits at once; the state stays consistent and the restart loses nothing", async () => {
    const w = await freshWorld();
    w.fluentd.faults.latencyMs = 5_000;
    running = await runHandler(w.startArgs(["--timeout", "200ms", "--fluentd-batch-size", "50"]));
    await untilInFlight(w);
    running.kill("SIGINT");
    await running.waitForLog("SIGINT received");
    const second = performance.now();
    running.kill("SIGINT");
    const result = await running.done;
    running = undefined;
    expect(performance.now() - second).toBeLessThan(2_000);
    expect(result.code).toBe(130);

    w.fluentd.faults.latencyMs = 0;
    const rest = await runToEnd(w.startArgs(["--exit-on-last-event", "--fluentd-batch-size", "50"]));
    expect(rest.code).toBe(0);
    const counts = countBy(auditUids(w));
    expect(sorted(logUids(w))).toEqual(sorted([...counts.keys()]));
    // At most the abandoned batches come twice: fluentd-inflight-batches (4) of 50 events.
    const duplicates = [...counts.values()].reduce((n, c) => n + c - 1, 0);
    expect(duplicates).toBeLessThanOrEqual(4 * 50);
  });
});

interface StatusJson {
  cluster: string;
  runningPid: number | null;
  startTime: string;
  engine: string;
  position: { windowStart: string } | { dates: string[] };
  lastDelivered: { id: string; time: string };
  lagSeconds: number;
  delivered: { events: number; sessions: number; deadLettered: number };
  sessions: { pending: number; missing: number; givenUp: number; refused: number };
  deadLetters: number;
}

async function statusText(w: World) {
  const result = await runToEnd(["status", "--storage", w.storage]);
  expect(result.code).toBe(0);
  return result.stdout;
}

describe("status", () => {
  test("reports the state while an instance runs and after it stopped, as text and JSON", async () => {
    // Seven sessions: the seventh has no recording and ends up missing.
    const w = await freshWorld(7);
    const poison = logUids(w, (t) => t === "exec")[3]!;
    w.fluentd.faults.rejectWhen((r) => r.uid === poison);
    running = await runHandler(w.startArgs(["--timeout", "200ms"]));
    const expected = w.teleport.log.count - 1;
    await untilAuditRecords(w, expected);

    const live = (await statusJson(w.storage)) as StatusJson;
    expect(live.runningPid).toBe(running.proc.pid);
    expect(live.cluster).toBe(w.teleport.clusterName);
    const startTime = w.startArgs()[w.startArgs().indexOf("--start-time") + 1]!;
    expect(new Date(live.startTime).getTime()).toBe(new Date(startTime).getTime());
    expect(live.engine).toBe("legacy");
    const last = w.teleport.log.eventAt(w.teleport.log.count - 1);
    expect(live.lastDelivered.id).toBe(last.id);
    expect(new Date(live.lastDelivered.time).getTime()).toBe(last.time.seconds * 1000 + Math.floor(last.time.nanos / 1e6));
    expect(live.lagSeconds).toBeGreaterThanOrEqual(0);
    expect(live.lagSeconds).toBeLessThan(2 * 86_400);
    expect("windowStart" in live.position).toBe(true);
    expect(live.delivered.events).toBe(expected);
    expect(live.deadLetters).toBe(1);

    const report = await waitFor("the missing recording has been looked for", async () => {
      const now = (await statusJson(w.storage)) as StatusJson;
      return now.sessions.missing + now.sessions.givenUp > 0 ? now : undefined;
    });
    expect(report.sessions).toEqual({ pending: 0, missing: 1, givenUp: 0, refused: 0 });
    expect(report.delivered.sessions).toBe(6);

    const text = await statusText(w);
    expect(text).toContain(`cluster:          ${w.teleport.clusterName}`);
    expect(text).toContain(`(in use by pid ${running.proc.pid})`);
    expect(text).toContain(`last delivered:   ${last.id}`);
    expect(text).toMatch(/sessions: +0 pending, 1 missing/);
    expect(text).toMatch(/dead letters: +1/);

    running.kill("SIGTERM");
    expect((await running.done).code).toBe(0);
    running = undefined;
    const after = (await statusJson(w.storage)) as StatusJson;
    expect(after.runningPid).toBeNull();
    expect(after.lastDelivered.id).toBe(last.id);
    expect(after.deadLetters).toBe(1);
    expect(await statusText(w)).not.toContain("in use by pid");
  });
});
