import { afterEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { goTimeToDate } from "../../scripts/fakes/fake-events.ts";
import { auditUids, countBy, logUids, runHandler, runToEnd, sorted, startWorld, statusJson, waitUntil, type World } from "../support/world.ts";

/**
 * `verify` and restarts around late-event sweeps, on a historical log whose late events the fake
 * keeps hidden behind an injected clock: the test decides when they become searchable instead of
 * waiting for them.
 */
const EVENTS = 600;
const HOUR_MS = 3_600_000;
let world: World | undefined;
afterEach(() => world?.stop());

/** The fake's visibility clock; starts where no late event is searchable yet. */
let fakeNow = 0;

/** Six hours of history ending about an hour ago, or (`recentMs`) a log ending just now. */
async function historyWorld(bulk = false, recentMs?: number): Promise<World> {
  const start = recentMs ? new Date(Date.now() - recentMs) : new Date(Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 7 * HOUR_MS);
  fakeNow = start.getTime();
  world = await startWorld({
    teleport: {
      seed: 3,
      events: EVENTS,
      days: (recentMs ? recentMs - 5_000 : 6 * HOUR_MS) / 86_400_000,
      start,
      sessions: 6,
      printsPerSession: 2,
      bulk,
      late: { shares: [{ share: 0.05, delayMs: 30_000 }, { share: 0.01, delayMs: 300_000 }], now: () => fakeNow },
    },
  });
  return world;
}

/** A bulk-engine log of 20 hours on the UTC date `daysAgo` before today, 5% of it sealed late. */
async function bulkWorld(daysAgo: number): Promise<World> {
  const day = Math.floor(Date.now() / 86_400_000) * 86_400_000 - daysAgo * 86_400_000;
  fakeNow = day;
  world = await startWorld({
    teleport: {
      seed: 3,
      events: EVENTS,
      days: 20 / 24,
      start: new Date(day + HOUR_MS),
      sessions: 6,
      printsPerSession: 2,
      bulk: true,
      chunkSize: 100,
      late: { shares: [{ share: 0.05, delayMs: 30_000 }], now: () => fakeNow },
    },
  });
  return world;
}

/** The ids of the events the fake holds back until its clock moves. */
function lateUids(w: World): string[] {
  const out: string[] = [];
  for (let i = 0; i < w.teleport.log.count; i++) if (w.teleport.log.lateByMs(i) > 0) out.push(w.teleport.log.eventAt(i).id);
  return out;
}

/** Late events per UTC hour (hours since the epoch). */
function latePerHour(w: World): Map<number, number> {
  const out = new Map<number, number>();
  for (let i = 0; i < w.teleport.log.count; i++) {
    if (w.teleport.log.lateByMs(i) === 0) continue;
    const h = Math.floor(goTimeToDate(w.teleport.log.timeAt(i)).getTime() / HOUR_MS);
    out.set(h, (out.get(h) ?? 0) + 1);
  }
  return out;
}

const everyLateSearchable = () => {
  fakeNow = Date.now() + HOUR_MS;
};

function verifyArgs(w: World, extra: string[] = []): string[] {
  const from = new Date(goTimeToDate(w.teleport.log.timeAt(0)).getTime() - HOUR_MS).toISOString();
  return ["verify", ...w.startArgs().slice(1), "--from", from, "--to", new Date().toISOString(), "--json", ...extra];
}

async function verify(w: World, extra: string[] = []) {
  const result = await runToEnd(verifyArgs(w, extra));
  return { code: result.code, stderr: result.stderr, report: result.stdout ? JSON.parse(result.stdout) : undefined };
}

type Row = { from: string; teleport: number; delivered: number; missing: number; verdict: string; repaired?: string };

describe("verify", () => {
  test("a completely exported log: every exported hour matches, exit 0", async () => {
    const w = await historyWorld();
    everyLateSearchable();
    expect((await runToEnd(w.startArgs(["--exit-on-last-event"]))).code).toBe(0);
    const { code, report } = await verify(w);
    expect(code).toBe(0);
    const rows = report.rows as Row[];
    const matched = rows.filter((r) => r.verdict === "match");
    expect(matched.length).toBeGreaterThanOrEqual(5);
    expect(rows.every((r) => r.verdict === "match" || r.verdict === "not exported")).toBe(true);
    expect(matched.reduce((n, r) => n + r.teleport, 0)).toBeGreaterThan(EVENTS / 2);
  }, 60_000);

  test("gaps left by a run without sweeps: right counts, exit 1; --repair resends the hours; then exit 0", async () => {
    const w = await historyWorld();
    expect((await runToEnd(w.startArgs(["--exit-on-last-event", "--late-event-delays", ""]))).code).toBe(0);
    everyLateSearchable();

    const first = await verify(w);
    expect(first.code).toBe(1);
    const gaps = (first.report.rows as Row[]).filter((r) => r.verdict === "gap");
    const expected = latePerHour(w);
    expect(gaps.length).toBeGreaterThan(0);
    for (const r of gaps) expect(r.missing).toBe(expected.get(Date.parse(r.from) / HOUR_MS) ?? 0);

    const repair = await verify(w, ["--repair"]);
    expect(repair.code).toBe(0);
    // No ids were kept (sweeps off): the differing hours went out whole, duplicates but no gap.
    expect((repair.report.rows as Row[]).filter((r) => r.repaired).map((r) => r.repaired)).toEqual(gaps.map(() => "whole hour"));
    const got = new Set(auditUids(w));
    const repairedHours = new Set(gaps.map((r) => Date.parse(r.from) / HOUR_MS));
    const stillMissing = lateUids(w).filter((id) => !got.has(id));
    // Only late events in hours verify could not judge yet (after the last delivered event) remain.
    for (const id of stillMissing) {
      const i = [...Array(w.teleport.log.count).keys()].find((k) => w.teleport.log.eventAt(k).id === id)!;
      expect(repairedHours.has(Math.floor(goTimeToDate(w.teleport.log.timeAt(i)).getTime() / HOUR_MS))).toBe(false);
    }

    const again = await verify(w);
    expect(again.code).toBe(0);
  }, 90_000);

  test("ids still kept: --repair sends only the missing events, so every event arrives exactly once", async () => {
    const w = await historyWorld();
    // Sweeps on but not due before this run ends: the ids are kept (a day reaches back over the
    // whole log), the late events are missed.
    expect((await runToEnd(w.startArgs(["--exit-on-last-event", "--late-event-delays", "24h"]))).code).toBe(0);
    everyLateSearchable();
    const repair = await verify(w, ["--repair"]);
    expect(repair.code).toBe(0);
    const repaired = (repair.report.rows as Row[]).filter((r) => r.repaired);
    expect(repaired.length).toBeGreaterThan(0);
    expect(repaired.every((r) => r.repaired === "missing events")).toBe(true);
    expect([...countBy(auditUids(w))].filter(([, n]) => n !== 1)).toEqual([]);
    expect((await verify(w)).code).toBe(0);
  }, 90_000);

  test("a filter change between runs is reported as such, not as a gap", async () => {
    const w = await historyWorld();
    everyLateSearchable();
    expect((await runToEnd(w.startArgs(["--exit-on-last-event", "--skip-event-types", "exec"]))).code).toBe(0);
    const { code, report } = await verify(w);
    const verdicts = new Set((report.rows as Row[]).map((r) => r.verdict));
    expect(verdicts.has("filters changed")).toBe(true);
    expect(verdicts.has("gap")).toBe(false);
    expect(code).toBe(0);
  }, 60_000);

  test("bad input: one line, exit 2", async () => {
    const w = await historyWorld();
    everyLateSearchable();
    expect((await runToEnd(w.startArgs(["--exit-on-last-event"]))).code).toBe(0);
    const now = new Date().toISOString();
    const base = ["verify", ...w.startArgs().slice(1)];
    const cases: [string[], RegExp][] = [
      [[...base, "--from", now, "--to", "2020-01-01T00:00:00Z"], /--from .* is not before --to/],
      [[...base, "--from", "2020-01-01T00:00:00Z", "--to", "2020-01-02T00:00:00Z"], /before the export's start-time/],
      [["verify", ...w.startArgs([], `${w.dir}/nowhere`).slice(1), "--from", "2020-01-01T00:00:00Z", "--to", now], /no export state in storage/],
      [[...base, "--from", "yesterday", "--to", now], /invalid --from "yesterday"/],
    ];
    for (const [args, message] of cases) {
      const result = await runToEnd(args);
      expect(result.code).toBe(2);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(result.stderr).toMatch(message);
    }
  }, 60_000);

  test("a state written by a newer version: status and verify refuse with one line naming it, exit 2", async () => {
    const w = await historyWorld();
    everyLateSearchable();
    expect((await runToEnd(w.startArgs(["--exit-on-last-event"]))).code).toBe(0);
    const file = join(w.storage, readdirSync(w.storage).find((f) => f.endsWith(".sqlite"))!);
    const db = new Database(file);
    db.exec("PRAGMA user_version = 999");
    db.close();
    for (const args of [["status", "--storage", w.storage], ["status", "--json", "--storage", w.storage], verifyArgs(w), verifyArgs(w, ["--repair"])]) {
      const result = await runToEnd(args);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe("");
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(result.stderr).toContain(file);
      expect(result.stderr).toMatch(/written by a newer teleport-event-handler .*upgrade the handler/);
    }
  }, 60_000);
});

/** The status of every repair request in the state, by id (read as another process would). */
function repairStatuses(w: World): string[] {
  // Read-write: a read-only connection cannot wait out another process's WAL recovery.
  const db = new Database(join(w.storage, readdirSync(w.storage).find((f) => f.endsWith(".sqlite"))!));
  try {
    db.exec("PRAGMA busy_timeout = 5000");
    return (db.query("SELECT status FROM repair_requests ORDER BY id").all() as { status: string }[]).map((r) => r.status);
  } finally {
    db.close();
  }
}

describe("verify --repair while start runs", () => {
  test("the running instance serves the request: the missing events arrive exactly once, a second verify exits 0", async () => {
    const w = await historyWorld();
    const late = lateUids(w);
    const onTime = EVENTS - late.length;
    // Sweeps on but not due while this runs: the ids are kept, the late events are missed.
    const handler = await runHandler(w.startArgs(["--timeout", "200ms", "--late-event-delays", "24h"]));
    await waitUntil("the on-time events arrived", () => new Set(auditUids(w)).size >= onTime, 30_000);
    for (let committed = 0; committed < onTime; ) committed = (await statusJson(w.storage)).delivered.events;
    everyLateSearchable();

    const repair = await verify(w, ["--repair", "--repair-timeout", "60s"]);
    expect(repair.stderr).not.toMatch(/in use by another/);
    expect(repair.code).toBe(0);
    const repaired = (repair.report.rows as Row[]).filter((r) => r.repaired);
    expect(repaired.length).toBeGreaterThan(0);
    expect(repaired.every((r) => r.repaired === "missing events")).toBe(true);
    expect(handler.log()).toMatch(/repair request 1 done: \d+ events sent/);
    expect(repairStatuses(w)).toEqual(["done"]);

    // Exactly once, and every late event of a repaired hour is there.
    expect([...countBy(auditUids(w))].filter(([, n]) => n !== 1)).toEqual([]);
    const expected = latePerHour(w);
    const got = new Set(auditUids(w));
    const repairedHours = repaired.map((r) => Date.parse(r.from) / HOUR_MS);
    expect(late.filter((id) => got.has(id)).length).toBe(repairedHours.reduce((n, h) => n + (expected.get(h) ?? 0), 0));

    expect((await verify(w)).code).toBe(0);
    handler.kill("SIGTERM");
    expect((await handler.done).code).toBe(0);
  }, 90_000);

  test("an instance that never takes it: one line, exit 1, withdrawn; a pending request is served by the next start", async () => {
    const w = await historyWorld();
    expect((await runToEnd(w.startArgs(["--exit-on-last-event", "--late-event-delays", ""]))).code).toBe(0);
    everyLateSearchable();
    // Holding the lock without serving requests is what an older version does.
    const { acquireInstanceLock, SCHEMA_VERSION } = await import("../../src/state/index.ts");
    let lock: { release(): void } | undefined = acquireInstanceLock(w.storage);
    try {
      // A state still at an older schema was last opened by an older instance: refused at once, nothing written.
      const file = join(w.storage, readdirSync(w.storage).find((f) => f.endsWith(".sqlite"))!);
      const setVersion = (v: number) => {
        const db = new Database(file);
        db.exec(`PRAGMA user_version = ${v}`);
        db.close();
      };
      setVersion(SCHEMA_VERSION - 1);
      const older = await verify(w, ["--repair", "--repair-timeout", "1s"]);
      setVersion(SCHEMA_VERSION);
      expect(older.code).toBe(1);
      expect(older.stderr.trim().split("\n")).toHaveLength(1);
      expect(older.stderr).toMatch(/is an older teleport-event-handler .* that does not take repair requests: upgrade it/);
      expect(repairStatuses(w)).toEqual([]);

      const timedOut = await verify(w, ["--repair", "--repair-timeout", "1s"]);
      expect(timedOut.code).toBe(1);
      expect(timedOut.report).toBeUndefined();
      const lines = timedOut.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/the running instance \(pid \d+\) did not take repair request 1 within 1s, so it was withdrawn: .*older/);
      expect(repairStatuses(w)).toEqual(["withdrawn"]);

      const waiting = await runHandler(verifyArgs(w, ["--repair", "--repair-timeout", "60s"]));
      await waitUntil("verify queued its request", () => repairStatuses(w).at(-1) === "pending", 30_000);
      lock.release();
      lock = undefined;
      // The instance that holds the storage next serves it (here a cron run: before it exits).
      const next = await runToEnd(w.startArgs(["--exit-on-last-event", "--late-event-delays", ""]));
      expect(next.code).toBe(0);
      expect(next.stderr).toMatch(/repair request 2 done/);
      const served = await waiting.done;
      expect(served.code).toBe(0);
      const rows = JSON.parse(served.stdout).rows as Row[];
      expect(rows.filter((r) => r.repaired).length).toBeGreaterThan(0);
      expect(rows.filter((r) => r.repaired).every((r) => r.repaired === "whole hour")).toBe(true);
      expect(repairStatuses(w)).toEqual(["withdrawn", "done"]);
      expect((await verify(w)).code).toBe(0);
    } finally {
      lock?.release();
    }
  }, 90_000);
});

describe("verify on the bulk engine", () => {
  test("re-reads with the export API only; a chunk sealed after its date left the backlog is a gap, --repair delivers it", async () => {
    // Four days ago: by the end of the run that date has left the backlog, so a chunk Teleport
    // seals for it later is never exported; only verify can find it.
    const w = await bulkWorld(4);
    expect((await runToEnd(w.startArgs(["--exit-on-last-event", "--timeout", "200ms"]))).code).toBe(0);
    const late = lateUids(w);
    expect(late.length).toBeGreaterThan(0);
    expect(late.some((id) => auditUids(w).includes(id))).toBe(false);
    everyLateSearchable();

    const searches = () => w.teleport.calls.GetUnstructuredEvents ?? 0;
    const exports = () => w.teleport.calls.ExportUnstructuredEvents ?? 0;
    const exportsBefore = exports();
    const first = await verify(w);
    expect(first.code).toBe(1);
    expect(exports()).toBeGreaterThan(exportsBefore);
    const gaps = (first.report.rows as Row[]).filter((r) => r.verdict === "gap");
    const expected = latePerHour(w);
    expect(gaps.length).toBeGreaterThan(0);
    for (const r of gaps) expect(r.missing).toBe(expected.get(Date.parse(r.from) / HOUR_MS) ?? 0);
    const judged = (first.report.rows as Row[]).filter((r) => r.verdict !== "not exported");
    expect(judged.length).toBeGreaterThanOrEqual(19);
    expect(judged.every((r) => r.verdict === "match" || r.verdict === "gap")).toBe(true);

    const repair = await verify(w, ["--repair"]);
    expect(repair.code).toBe(0);
    // The bulk engine keeps no ids: the hours went out whole (duplicates, never a gap).
    expect((repair.report.rows as Row[]).filter((r) => r.repaired).map((r) => r.repaired)).toEqual(gaps.map(() => "whole hour"));
    const got = new Set(auditUids(w));
    const repairedHours = new Set(gaps.map((r) => Date.parse(r.from) / HOUR_MS));
    for (const [h, n] of expected) if (repairedHours.has(h)) expect(n).toBeGreaterThan(0);
    expect(late.filter((id) => got.has(id)).length).toBe([...repairedHours].reduce((n, h) => n + (expected.get(h) ?? 0), 0));

    expect((await verify(w)).code).toBe(0);
    expect(searches()).toBe(0);
  }, 90_000);
});

describe("late-event sweeps across restarts", () => {
  test("kill -9 between a slice and its sweep: the sweep still happens after the restart", async () => {
    // Recent events: a sweep only re-reads the longest delay (plus slack) before each read.
    const w = await historyWorld(false, 40_000);
    const late = lateUids(w);
    const onTime = EVENTS - late.length;
    const args = w.startArgs(["--timeout", "200ms", "--late-event-delays", "4s,8s"]);
    const first = await runHandler(args);
    await waitUntil("the on-time events arrived", () => new Set(auditUids(w)).size >= onTime, 30_000);
    // Killed once they are committed too: a batch acknowledged but not committed is sent again by
    // design (crash.test.ts bounds that), which is not what this test is about.
    for (let committed = 0; committed < onTime; ) committed = (await statusJson(w.storage)).delivered.events;
    first.kill("SIGKILL");
    await first.done;
    // What the restart relies on: the schedule survived the kill.
    expect((await statusJson(w.storage)).lateSweepsPending).toBeGreaterThan(0);
    expect(late.some((id) => auditUids(w).includes(id))).toBe(false);

    everyLateSearchable();
    // The walk is past every slice now: only the stored schedule can bring the late events.
    const second = await runHandler(args);
    await waitUntil("every event arrived", () => new Set(auditUids(w)).size === EVENTS, 40_000);
    second.kill("SIGTERM");
    const result = await second.done;
    expect(result.code).toBe(0);
    expect(sorted([...new Set(auditUids(w))])).toEqual(sorted(logUids(w)));
    expect([...countBy(auditUids(w))].filter(([, n]) => n !== 1)).toEqual([]);
    expect(result.stderr).toMatch(new RegExp(`${late.length} late`));
  }, 90_000);
});

describe("late chunks on the bulk engine", () => {
  test("the backlog of previous dates picks up a chunk sealed late, exactly once", async () => {
    // The whole log on yesterday's date, so only the backlog (not the current date) can cover it.
    const w = await bulkWorld(1);
    const late = lateUids(w);
    const handler = await runHandler(w.startArgs(["--timeout", "200ms"]));
    await waitUntil("the on-time events arrived", () => new Set(auditUids(w)).size >= EVENTS - late.length, 30_000);
    expect(late.some((id) => auditUids(w).includes(id))).toBe(false);

    everyLateSearchable();
    await waitUntil("the late chunk arrived", () => new Set(auditUids(w)).size === EVENTS, 30_000);
    handler.kill("SIGTERM");
    expect((await handler.done).code).toBe(0);
    expect([...countBy(auditUids(w))].filter(([, n]) => n !== 1)).toEqual([]);
  }, 60_000);
});
