import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { retryDeadLetters } from "../../src/app/dead-letters.ts";
import { readStatus } from "../../src/app/status.ts";
import { acquireInstanceLock, databasePath, openClusterState } from "../../src/state/index.ts";
import { runCli } from "../support/cli.ts";
import { MemoryFluentd } from "../support/memory-fluentd.ts";
import { auditEvent } from "../support/memory-teleport.ts";

let storage: string;
beforeEach(() => {
  storage = mkdtempSync(join(tmpdir(), "status-test-"));
});
afterEach(() => rmSync(storage, { recursive: true, force: true }));

const URL = "https://fluentd.local/events.log";

function seed() {
  const state = openClusterState(storage, "prod.example.com");
  state.meta.settleStartTime(new Date("2024-01-01T00:00:00Z"), new Date());
  state.meta.setEngine("legacy");
  const last = auditEvent("user.login", new Date(Date.now() - 90_000));
  state.commitAudit({
    position: { kind: "legacy", checkpoint: { windowStart: new Date("2024-01-02T00:00:00Z"), pageKey: "k", lastEventId: last.id }, seekFinished: false },
    delivered: [last],
    sessions: [{ sid: "s1", uploadTime: new Date() }],
    deadLetters: [
      { record: { id: "bad-1", body: '{"uid":"bad-1"}' }, url: URL, status: 400, reason: "bad" },
      { record: { id: "bad-2", body: '{"uid":"bad-2"}' }, url: URL, status: 413, reason: "too large" },
    ],
  });
  return { state, last };
}

test("status reads the state while the running instance holds it open", () => {
  const { state, last } = seed();
  const lock = acquireInstanceLock(storage);
  try {
    const report = readStatus(databasePath(storage, "prod.example.com"));
    expect(report.cluster).toBe("prod.example.com");
    expect(report.runningPid).toBe(process.pid);
    expect(report.startTime).toBe("2024-01-01T00:00:00.000Z");
    expect(report.position).toEqual({ windowStart: "2024-01-02T00:00:00.000Z" });
    expect(report.lastDelivered).toEqual({ id: last.id, time: last.time.toISOString() });
    expect(report.lagSeconds).toBeGreaterThanOrEqual(89);
    expect(report.sessions).toEqual({ pending: 1, missing: 0, givenUp: 0, refused: 0 });
    expect(report.deadLetters).toBe(2);
  } finally {
    lock.release();
    state.close();
  }
});

test("retry resends dead letters and keeps only those rejected again", async () => {
  const { state } = seed();
  const sink = new MemoryFluentd();
  sink.rejectIds.add("bad-2");
  expect(await retryDeadLetters(state, sink)).toEqual({ delivered: 1, stillDead: 1 });
  expect(sink.uids(URL)).toEqual(["bad-1"]);
  expect(state.deadLetters.list().map((d) => d.eventId)).toEqual(["bad-2"]);
  state.close();
});

test("dead-letters purge empties the table", async () => {
  seed().state.close();
  const r = runCli(["dead-letters", "purge", "--storage", storage]);
  expect(r.stdout).toBe("2 dead letters removed\n");
  const state = openClusterState(storage, "prod.example.com");
  expect(state.deadLetters.count()).toBe(0);
  state.close();
});
