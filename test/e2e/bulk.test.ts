import { afterEach, describe, expect, test } from "bun:test";
import { goTimeToDate } from "../../scripts/fakes/fake-events.ts";
import { auditUids, countBy, logUids, runHandler, runToEnd, sessionTags, sorted, startWorld, untilAuditRecords, type World } from "../support/world.ts";

/**
 * Both audit engines from the compiled binary, including the probe that chooses between them:
 * the bulk export API where Teleport serves it, the legacy search API where it answers
 * UNIMPLEMENTED, and a retry (not a wrong choice) when the probe meets any other error.
 */
const SESSIONS = 5;
let world: World | undefined;
afterEach(() => world?.stop());

async function freshWorld(bulk: boolean, failEvery = 0): Promise<World> {
  world = await startWorld({ teleport: { events: 600, days: 3, sessions: SESSIONS, printsPerSession: 2, bulk, chunkSize: 70, failEvery } });
  return world;
}

const utcDate = (d: Date) => d.toISOString().slice(0, 10);

/** Runs to the end, clearing the injected fault once the probe has been refused once. */
async function runThroughFailedProbe(w: World, extra: string[] = []) {
  const handler = await runHandler(w.startArgs(["--exit-on-last-event", ...extra]));
  await handler.waitForLog("probing the bulk export API failed, retrying");
  w.teleport.setFailEvery(0);
  return handler.done;
}

describe("engine choice", () => {
  test("bulk API served: the probe selects bulk and every event arrives exactly once", async () => {
    const w = await freshWorld(true, 2);
    const result = await runThroughFailedProbe(w);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain("using the bulk export API to read the audit log");
    expect(w.teleport.calls.GetUnstructuredEvents ?? 0).toBe(0);
    expect(w.teleport.calls.ExportUnstructuredEvents).toBeGreaterThanOrEqual(Math.ceil(600 / 70));
    const uids = auditUids(w);
    expect(sorted(uids)).toEqual(sorted(logUids(w)));
    expect([...countBy(uids).values()].every((n) => n === 1)).toBe(true);
    expect(sessionTags(w).length).toBe(SESSIONS);

    // The choice is stored; a run with nothing new neither probes again nor sends anything.
    const chunkCalls = w.teleport.calls.GetEventExportChunks!;
    const started = performance.now();
    const again = await runToEnd(w.startArgs(["--exit-on-last-event"]));
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(again.code).toBe(0);
    expect(again.stderr).not.toContain("using the bulk export API");
    expect(w.teleport.calls.GetEventExportChunks! - chunkCalls).toBeLessThanOrEqual(3);
    expect(auditUids(w).length).toBe(uids.length);
  });

  test("bulk API unimplemented: the probe falls back to the legacy engine", async () => {
    const w = await freshWorld(false, 2);
    const result = await runThroughFailedProbe(w);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain("using the legacy search API to read the audit log");
    // The refused probe and its retry, nothing more.
    expect(w.teleport.calls.GetEventExportChunks).toBe(2);
    expect(w.teleport.calls.ExportUnstructuredEvents ?? 0).toBe(0);
    expect(w.teleport.calls.GetUnstructuredEvents).toBeGreaterThan(0);
    expect(sorted(auditUids(w))).toEqual(sorted(logUids(w)));
    expect(sessionTags(w).length).toBe(SESSIONS);
  });
});

describe("start-time in the middle of a day", () => {
  for (const bulk of [true, false]) {
    test(`${bulk ? "bulk" : "legacy"}: events before start-time are not exported, all after it are`, async () => {
      const w = await freshWorld(bulk);
      const log = w.teleport.log;
      // The first event of the second third of the log that has earlier events on its own UTC date.
      let at = Math.floor(log.count / 3);
      const timeOf = (i: number) => goTimeToDate(log.timeAt(i));
      while (!(utcDate(timeOf(at - 1)) === utcDate(timeOf(at)) && timeOf(at - 1) < timeOf(at))) at++;
      const start = timeOf(at);
      const result = await runToEnd(w.startArgs(["--exit-on-last-event", "--start-time", start.toISOString()]));
      expect(result.code).toBe(0);

      const expected: string[] = [];
      for (let i = 0; i < log.count; i++) if (timeOf(i) >= start) expected.push(log.eventAt(i).id);
      expect(expected.length).toBe(log.count - at);
      const uids = auditUids(w);
      expect(sorted(uids)).toEqual(sorted(expected));
      expect([...countBy(uids).values()].every((n) => n === 1)).toBe(true);
      // Not even the start day's earlier events (the Go tool sends the whole start day).
      expect(uids).not.toContain(log.eventAt(at - 1).id);
    });
  }
});

describe("bulk engine while running", () => {
  test("live appends are picked up by polling; status shows the open dates; SIGTERM exits 0", async () => {
    const w = await freshWorld(true);
    const handler = await runHandler(w.startArgs(["--timeout", "200ms"]));
    try {
      await untilAuditRecords(w, w.teleport.log.count);
      for (const n of [9, 30]) {
        w.teleport.appendEvents(n);
        await untilAuditRecords(w, w.teleport.log.count);
      }
      const status = await runToEnd(["status", "--storage", w.storage, "--json"]);
      const report = JSON.parse(status.stdout) as { engine: string; position: { dates: string[] }; runningPid: number };
      expect(report.engine).toBe("bulk");
      expect(report.runningPid).toBe(handler.proc.pid);
      expect(report.position.dates).toContain(utcDate(new Date()));
      expect(report.position.dates.length).toBeLessThanOrEqual(3);
    } finally {
      handler.kill("SIGTERM");
    }
    const result = await handler.done;
    expect(result.code).toBe(0);
    const uids = auditUids(w);
    expect(sorted(uids)).toEqual(sorted(logUids(w)));
  });
});
