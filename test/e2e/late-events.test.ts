import { afterEach, describe, expect, test } from "bun:test";
import { goTimeToDate } from "../../scripts/fakes/fake-events.ts";
import { auditUids, countBy, runHandler, sessionTags, startWorld, waitUntil, type World } from "../support/world.ts";

/**
 * Late arrival on the legacy engine, live: the fake's log is written over the next ~10 s and 5%
 * of its events become searchable 1 s after their time, 1% after 4 s (the 30 s and 5 min,
 * shortened), so they appear behind the reader. Sweeps after 1.5 s and 5 s (its 45 s and 6 m)
 * must deliver every one of them exactly once; with sweeps off the same events must be missing,
 * which proves the check can fail.
 */
const EVENTS = 300;
const SPAN_MS = 10_000;
const SHORT = { share: 0.05, delayMs: 1_000 };
const LONG = { share: 0.01, delayMs: 4_000 };
let world: World | undefined;
afterEach(() => world?.stop());

async function liveWorld(): Promise<World> {
  world = await startWorld({
    teleport: { seed: 1, events: EVENTS, days: SPAN_MS / 86_400_000, start: new Date(Date.now() - 500), sessions: 6, printsPerSession: 2, late: { shares: [SHORT, LONG] } },
  });
  return world;
}

function lateIds(w: World): { all: string[]; uploads: string[]; long: number } {
  const log = w.teleport.log;
  const all: string[] = [];
  const uploads: string[] = [];
  let long = 0;
  for (let i = 0; i < log.count; i++) {
    const delay = log.lateByMs(i);
    if (delay === 0) continue;
    all.push(log.eventAt(i).id);
    if (delay === LONG.delayMs) long++;
    if (log.typeAt(i) === "session.upload") uploads.push(String(log.eventAt(i).json.sid));
  }
  return { all, uploads, long };
}

/** The last event's time plus the longest lateness: from then on every event is searchable. */
function allSearchableAt(w: World): number {
  return goTimeToDate(w.teleport.log.timeAt(w.teleport.log.count - 1)).getTime() + LONG.delayMs;
}

const TAIL = ["--timeout", "200ms", "--batch", "500", "--fluentd-batch-size", "500"];

describe("late-event sweeps (legacy engine)", () => {
  test("every late event is delivered exactly once, late session uploads queue their recordings", async () => {
    const w = await liveWorld();
    const late = lateIds(w);
    // The log is late the way the test needs: both delays, and an upload among the late ones.
    expect(late.all.length).toBeGreaterThan(10);
    expect(late.long).toBeGreaterThan(0);
    expect(late.uploads.length).toBeGreaterThan(0);

    const handler = await runHandler(w.startArgs([...TAIL, "--late-event-delays", "1500ms,5s"]));
    await waitUntil("every event arrived", () => new Set(auditUids(w)).size === EVENTS, 40_000);
    const lateSid = late.uploads[0]!;
    await waitUntil("the late upload's recording arrived", () => sessionTags(w).includes(`session.${lateSid}.log`), 20_000);
    handler.kill("SIGTERM");
    const result = await handler.done;
    expect(result.code).toBe(0);

    const counts = countBy(auditUids(w));
    expect([...counts].filter(([, n]) => n !== 1)).toEqual([]);
    // The summary counts what the sweeps found: at least the late events the first reads missed.
    const found = Number(/(\d+) late/.exec(result.stderr)?.[1]);
    expect(found).toBeGreaterThan(0);
    expect(found).toBeLessThanOrEqual(late.all.length);
  }, 60_000);

  test("with sweeps off the late events are missing", async () => {
    const w = await liveWorld();
    const late = lateIds(w);
    const onTime = EVENTS - late.all.length;
    const handler = await runHandler(w.startArgs([...TAIL, "--late-event-delays", ""]));
    const searchable = allSearchableAt(w);
    await waitUntil("every on-time event arrived and every late one became searchable", () => new Set(auditUids(w)).size >= onTime && Date.now() > searchable + 1_000, 40_000);
    handler.kill("SIGTERM");
    expect((await handler.done).code).toBe(0);

    const got = new Set(auditUids(w));
    const missing = late.all.filter((id) => !got.has(id));
    // Nearly all of them: an event is only caught when it turns searchable before the reader passes it.
    expect(missing.length).toBeGreaterThan(late.all.length / 2);
  }, 60_000);
});
