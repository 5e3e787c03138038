import { afterEach, describe, expect, test } from "bun:test";
import {
  auditUids,
  countBy,
  expectedRecordings,
  runHandler,
  sessionIndexes,
  startWorld,
  statusJson,
  type World,
  type WorldOptions,
  waitUntil,
} from "../support/world.ts";

/**
 * kill -9 at random moments, restarting each time, until a run with --exit-on-last-event finishes.
 * Nothing may be lost, and the duplicates each kill causes are bounded by what the design allows
 * to be delivered-but-not-yet-committed at any instant:
 *
 * - Legacy audit log: deliverSegments has at most fluentd-inflight-batches (INFLIGHT) sink calls
 *   of at most fluentd-batch-size events out at once (pages are sliced, coalescing stops at that
 *   size), committed in order; the next call starts only when fewer are uncommitted. So INFLIGHT
 *   batches: INFLIGHT × BATCH.
 * - Bulk audit log: one such pipeline per chunk, up to max(concurrency/4, 3) chunks at once per
 *   date (bulk.ts), and a date exporter for the current date plus the 2 backlog dates:
 *   3 × 3 × INFLIGHT × BATCH.
 * - Recordings: a session commits its index after every acknowledged batch of at most BATCH
 *   records and `concurrency` sessions stream at once: BATCH per session, CONCURRENCY × BATCH
 *   over all sessions.
 *
 * A kill is charged with the records of the next run that the receiver already held.
 */

const BATCH = 25;
const INFLIGHT = 4;
const CONCURRENCY = 5;
const CHUNKS_PER_DATE = Math.max(Math.floor(CONCURRENCY / 4), 3);
const BULK_DATES = 3;
const MIN_KILLS = 5;

/** Small seeded generator so that a failing run can be replayed with CRASH_SEED. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The first kill: after this many of the run's calls to Teleport (0: at once), i.e. somewhere in start-up. */
const MAX_STARTUP_CALLS = 3;
/** The other kills: once the run got this many records stored at most, so they interrupt deliveries. */
const MAX_RECORDS_BEFORE_KILL = 1_500;

interface KillReport {
  /** Where the kill landed: after N Teleport calls (first kill) or N records stored by the run (the others). */
  at: string;
  /** Records the killed run got stored (0: killed before it delivered anything). */
  storedByRun: number;
  auditDuplicates: number;
  sessionDuplicates: number;
  worstSessionDuplicates: number;
}

/** Keys identifying one stored record: the audit uid, or the session tag and `ei`. */
function recordKey(r: { tag: string; record: Record<string, unknown> }): string {
  return r.tag.startsWith("session.") ? `${r.tag}#${r.record.ei}` : `audit#${r.record.uid}`;
}

function teleportCalls(world: World): number {
  return Object.values(world.teleport.calls).reduce((a, n) => a + n, 0);
}

async function crashUntilDone(world: World, args: string[], kills: number, random: () => number): Promise<KillReport[]> {
  const seen = new Set<string>();
  let offset = 0;
  const reports: KillReport[] = [];
  /** Charges the records stored since the last call to the previous kill. */
  const account = (): { stored: number; audit: number; sessions: number; worstSession: number } => {
    // Both streams go to one receiver in every scenario here, so its arrival order covers both.
    const all = world.audit.arrivals();
    const fresh = all.slice(offset);
    offset = all.length;
    let audit = 0;
    const perSession = new Map<string, number>();
    for (const r of fresh) {
      const key = recordKey(r);
      if (!seen.has(key)) {
        seen.add(key);
        continue;
      }
      if (r.tag.startsWith("session.")) perSession.set(r.tag, (perSession.get(r.tag) ?? 0) + 1);
      else audit++;
    }
    const counts = [...perSession.values()];
    return { stored: fresh.length, audit, sessions: counts.reduce((a, b) => a + b, 0), worstSession: Math.max(0, ...counts) };
  };

  for (let run = 0; ; run++) {
    const storedBefore = world.audit.recordCount();
    const callsBefore = teleportCalls(world);
    const handler = await runHandler(args);
    // Each kill lands at a random point of the run's progress: the first in start-up (lock, state,
    // probe), after 0-3 calls to Teleport; the others once the run got 1-1,500 records stored.
    let at = "";
    if (run < kills) {
      const [what, progress, target] =
        run === 0
          ? ["Teleport calls", () => teleportCalls(world) - callsBefore, Math.floor(random() * (MAX_STARTUP_CALLS + 1))]
          : ["records stored", () => world.audit.recordCount() - storedBefore, 1 + Math.floor(random() * MAX_RECORDS_BEFORE_KILL)];
      at = `${target} ${what}`;
      await waitUntil(`the run reached ${at}`, () => progress() >= target || handler.proc.exitCode !== null, 60_000);
      const outcome = handler.proc.exitCode === null ? "reached" : "exited";
      // Finishing before the kill would mean the export is too small to test anything.
      expect({ run, outcome, log: outcome === "exited" ? handler.log() : "" }).toEqual({ run, outcome: "reached", log: "" });
      handler.kill("SIGKILL");
    }
    const result = await handler.done;
    // Requests cut by the kill are settled once the receivers saw its connections close.
    await waitUntil("the receivers saw the killed handler's connections close", () => world.fluentd.openConnections() === 0 && (world.forward?.openConnections() ?? 0) === 0);
    const charged = account();
    if (run > 0) {
      const last = reports.at(-1)!;
      last.auditDuplicates = charged.audit;
      last.sessionDuplicates = charged.sessions;
      last.worstSessionDuplicates = charged.worstSession;
    }
    if (run < kills) {
      expect(result.signal).toBe("SIGKILL");
      reports.push({ at, storedByRun: charged.stored, auditDuplicates: 0, sessionDuplicates: 0, worstSessionDuplicates: 0 });
      continue;
    }
    expect({ code: result.code, stderr: result.code === 0 ? "" : result.stderr }).toEqual({ code: 0, stderr: "" });
    expect(result.stderr).toContain("summary:");
    return reports;
  }
}

function expectEverythingDelivered(world: World): { auditDuplicates: number; sessionDuplicates: number } {
  const uids = countBy(auditUids(world));
  const missing: number[] = [];
  for (let i = 0; i < world.teleport.log.count; i++) if (!uids.has(world.teleport.log.eventAt(i).id)) missing.push(i);
  expect(missing).toEqual([]);
  expect(uids.size).toBe(world.teleport.log.count);

  const got = sessionIndexes(world);
  const expected = expectedRecordings(world, { withPrints: true });
  expect(expected.size).toBeGreaterThan(0);
  let sessionDuplicates = 0;
  for (const [tag, indexes] of expected) {
    const received = got.get(tag) ?? [];
    expect({ tag, indexes: [...new Set(received)].sort((a, b) => a - b) }).toEqual({ tag, indexes });
    sessionDuplicates += received.length - indexes.length;
  }
  expect([...got.keys()].filter((t) => !expected.has(t))).toEqual([]);
  return { auditDuplicates: [...uids.values()].reduce((a, n) => a + n - 1, 0), sessionDuplicates };
}

async function crashScenario(opts: { name: string; world: WorldOptions; kills: number; auditBound: number }): Promise<World> {
  const seed = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const world = await startWorld(opts.world);
  // Each acknowledgement takes a little while, so that kills land mid-export.
  if (world.forward) world.forward.faults.ackDelayMs = 15;
  else world.fluentd.faults.latencyMs = 15;
  const args = world.startArgs([
    "--exit-on-last-event",
    "--fluentd-batch-size", String(BATCH),
    "--fluentd-inflight-batches", String(INFLIGHT),
    "--concurrency", String(CONCURRENCY),
    "--batch", "100",
    // Recordings with their print events, so that a recording spans several batches.
    "--skip-session-types", "desktop.recording",
  ]);
  const reports = await crashUntilDone(world, args, opts.kills, seededRandom(seed));
  const totals = expectEverythingDelivered(world);
  console.log(
    `${opts.name} (seed ${seed}): ${reports.length} kills at ${reports.map((r) => r.at).join("/")}; ` +
      `stored per killed run ${reports.map((r) => r.storedByRun).join("/")}; ` +
      `duplicates per kill audit ${reports.map((r) => r.auditDuplicates).join("/")} (bound ${opts.auditBound}), ` +
      `sessions ${reports.map((r) => r.sessionDuplicates).join("/")} (bound ${CONCURRENCY * BATCH}); ` +
      `total duplicates audit ${totals.auditDuplicates}, sessions ${totals.sessionDuplicates}`,
  );
  expect(reports.length).toBeGreaterThanOrEqual(MIN_KILLS);
  // Kills must hit runs that were delivering, or the test proves little.
  expect(reports.filter((r) => r.storedByRun > 0).length).toBeGreaterThanOrEqual(MIN_KILLS - 1);
  for (const r of reports) {
    expect(r.auditDuplicates).toBeLessThanOrEqual(opts.auditBound);
    expect(r.sessionDuplicates).toBeLessThanOrEqual(CONCURRENCY * BATCH);
    expect(r.worstSessionDuplicates).toBeLessThanOrEqual(BATCH);
  }
  expect(totals.auditDuplicates).toBe(reports.reduce((a, r) => a + r.auditDuplicates, 0));
  expect(totals.sessionDuplicates).toBe(reports.reduce((a, r) => a + r.sessionDuplicates, 0));

  const status = await statusJson(world.storage);
  expect(status.sessions.pending).toBe(0);
  expect(status.deadLetters).toBe(0);
  expect(status.runningPid).toBeNull();
  return world;
}

describe("kill -9 at random moments loses nothing", () => {
  let world: World | undefined;
  afterEach(async () => {
    await world?.stop();
    world = undefined;
  });

  test("legacy engine: every event and recording, at most the batches in flight duplicated per kill", async () => {
    // 15,000 events: a killed run gets up to 1,500 records stored (plus what is in flight), so six
    // kills never reach the end of the export (the same holds for the other two scenarios).
    world = await crashScenario({
      name: "legacy",
      world: { teleport: { events: 15000, days: 3, sessions: 16, printsPerSession: 40 } },
      kills: 6,
      auditBound: INFLIGHT * BATCH,
    });
    expect(world.teleport.calls.GetUnstructuredEvents).toBeGreaterThan(0);
  });

  test("bulk engine: every event and recording, at most the batches in flight per chunk per kill", async () => {
    world = await crashScenario({
      name: "bulk",
      world: { teleport: { events: 15000, days: 3, sessions: 16, printsPerSession: 40, bulk: true, chunkSize: 250 } },
      kills: 5,
      auditBound: BULK_DATES * CHUNKS_PER_DATE * INFLIGHT * BATCH,
    });
    expect(world.teleport.calls.ExportUnstructuredEvents).toBeGreaterThan(0);
    expect(world.teleport.calls.GetUnstructuredEvents ?? 0).toBe(0);
  });

  test("over the forward protocol: a batch counts only once acknowledged, so the same bounds hold", async () => {
    // One sink call is one frame, per audit batch and per session batch; the audit batches in
    // flight share one connection, so a kill leaves at most INFLIGHT of them acknowledged but
    // uncommitted, as over HTTP.
    world = await crashScenario({
      name: "legacy over forward",
      world: { teleport: { events: 15000, days: 3, sessions: 16, printsPerSession: 40 }, protocols: { audit: "forward", sessions: "forward" } },
      kills: 5,
      auditBound: INFLIGHT * BATCH,
    });
    expect(world.fluentd.recordCount()).toBe(0);
    expect(world.forward!.frameCount()).toBeGreaterThan(0);
  });
});
