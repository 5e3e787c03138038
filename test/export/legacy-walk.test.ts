import { describe, expect, test } from "bun:test";
import { type Step, startWalk, step, type Walk, type WalkRules, windowAt } from "../../src/export/legacy-walk.ts";
import type { AuditPosition, LegacyCheckpoint } from "../../src/state/index.ts";
import type { AuditEvent, SearchPage } from "../../src/teleport/types.ts";
import { auditEvent } from "../support/memory-teleport.ts";

/** The legacy walk without I/O: a window, the page Teleport would answer, and what follows. */

const DAY = 86_400_000;
const T0 = Date.UTC(2025, 0, 1);
const rules: WalkRules = { windowMs: DAY, keep: (e) => e.type !== "app.create", batchSize: 3 };

const at = (ms: number) => new Date(T0 + ms);
const cp = (windowStart: number, pageKey = "", lastEventId = ""): LegacyCheckpoint => ({ windowStart: at(windowStart), pageKey, lastEventId });
const walkAt = (pos: LegacyCheckpoint, span = DAY, seek?: string): Walk => ({ pos, span, seek });
const logins = (n: number, from = 1000, type = "user.login"): AuditEvent[] => Array.from({ length: n }, (_, i) => auditEvent(type, at(from + i * 1000)));
const page = (events: AuditEvent[], nextKey = ""): SearchPage => ({ events, nextKey });
/** Long after every window here: all of them are closed. */
const LATER = T0 + 1000 * DAY;

function read(s: Step): Extract<Step, { kind: "read" }> {
  if (s.kind !== "read") throw new Error(`expected a read step, got ${s.kind}`);
  return s;
}

const positions = (s: Step): AuditPosition[] => read(s).segments.map((seg) => seg.position);
const legacyPos = (checkpoint: LegacyCheckpoint, seekFinished = false): AuditPosition => ({ kind: "legacy", checkpoint, seekFinished });

describe("the window", () => {
  test("starts at the saved checkpoint, or at start-time, and is cut at now while open", () => {
    expect(startWalk(undefined, at(0), undefined, DAY)).toEqual(walkAt(cp(0)));
    expect(startWalk(cp(5, "k", "e"), at(0), "c", DAY)).toEqual(walkAt(cp(5, "k", "e"), DAY, "c"));
    expect(windowAt(walkAt(cp(0)), LATER)).toEqual({ from: at(0), to: at(DAY), closed: true });
    expect(windowAt(walkAt(cp(0)), T0 + 5000)).toEqual({ from: at(0), to: at(5000), closed: false });
  });
});

describe("step", () => {
  test("an empty closed window moves on to the next, twice as wide, and commits that", () => {
    const walk = walkAt(cp(0));
    const s = read(step(walk, windowAt(walk, LATER), page([]), rules));
    expect(s.walk).toEqual(walkAt(cp(DAY), 2 * DAY));
    expect(s.segments).toEqual([{ events: [], position: legacyPos(cp(DAY)), more: true }]);
    expect(s.caughtUp).toBe(false);
  });

  test("a widened window that finds events narrows to window-size at their second, delivering nothing", () => {
    const walk = walkAt(cp(0), 8 * DAY);
    const events = logins(2, 3 * DAY + 1500);
    const s = step(walk, windowAt(walk, LATER), page(events, "key-of-a-wide-window"), rules);
    expect(s).toEqual({ kind: "narrowed", walk: walkAt(cp(3 * DAY + 1000)) });
  });

  test("a full page is cut into sink batches; all but the last resume inside the page", () => {
    const walk = walkAt(cp(0, "k1"));
    const events = logins(7);
    const s = read(step(walk, windowAt(walk, LATER), page(events, "k2"), rules));
    expect(read(s).segments.map((seg) => [seg.events.map((e) => e.id), seg.more])).toEqual([
      [events.slice(0, 3).map((e) => e.id), true],
      [events.slice(3, 6).map((e) => e.id), true],
      [events.slice(6).map((e) => e.id), true],
    ]);
    expect(positions(s)).toEqual([legacyPos(cp(0, "k1", events[2]!.id)), legacyPos(cp(0, "k1", events[5]!.id)), legacyPos(cp(0, "k2"))]);
    expect(s.walk).toEqual(walkAt(cp(0, "k2")));
    expect(s.readPosition).toEqual(events[6]!.time);
  });

  test("resuming inside a page skips what was consumed, and says when that event is gone", () => {
    const events = logins(4);
    const walk = walkAt(cp(0, "k1", events[1]!.id));
    const s = read(step(walk, windowAt(walk, LATER), page(events, "k2"), rules));
    expect(s.segments.flatMap((seg) => seg.events)).toEqual(events.slice(2));
    expect(s.received).toBe(2);
    expect(s.lostEventId).toBeUndefined();

    const gone = read(step(walkAt(cp(0, "k1", "vanished")), windowAt(walk, LATER), page(events, "k2"), rules));
    expect(gone.lostEventId).toBe("vanished");
    expect(gone.segments.flatMap((seg) => seg.events)).toEqual(events);
  });

  test("filtered events are consumed and counted, not delivered", () => {
    const events = [...logins(2), ...logins(2, 5000, "app.create")];
    const walk = walkAt(cp(0));
    const s = read(step(walk, windowAt(walk, LATER), page(events), rules));
    expect(s.segments.flatMap((seg) => seg.events)).toEqual(events.slice(0, 2));
    expect([s.received, s.filtered]).toEqual([4, 2]);
  });

  test("the cursor: events up to it are skipped, and every position of that page says it was found", () => {
    const events = logins(6);
    const walk = walkAt(cp(0), DAY, events[1]!.id);
    const s = read(step(walk, windowAt(walk, LATER), page(events, "k2"), rules));
    expect(s.segments.flatMap((seg) => seg.events)).toEqual(events.slice(2));
    expect(s.segments.every((seg) => seg.position.kind === "legacy" && seg.position.seekFinished)).toBe(true);
    expect(s.walk.seek).toBeUndefined();

    // Not in this page: nothing is delivered, the walk moves on still seeking.
    const other = logins(3, 10_000);
    const notYet = read(step(walk, windowAt(walk, LATER), page(other, "k2"), rules));
    expect(notYet.segments).toEqual([{ events: [], position: legacyPos(cp(0, "k2")), more: true }]);
    expect(notYet.walk.seek).toBe(events[1]!.id);
  });

  test("the open window read to its end is caught up: it resumes after its last event", () => {
    const events = logins(2);
    const walk = walkAt(cp(0));
    const now = T0 + 10_000;
    const s = read(step(walk, windowAt(walk, now), page(events), rules));
    expect(s.caughtUp).toBe(true);
    expect(s.walk).toEqual(walkAt(cp(0, "", events[1]!.id)));
    expect(s.segments.map((seg) => seg.more)).toEqual([false]);

    // Read again with nothing new: no segment (nothing moved), and the reader is at now.
    const again = read(step(s.walk, windowAt(s.walk, now + 1000), page(events), rules));
    expect(again.segments).toEqual([]);
    expect(again.readPosition).toEqual(events[1]!.time);
    const empty = read(step(walk, windowAt(walk, now), page([]), rules));
    expect(empty.readPosition).toEqual(new Date(now));
    expect(empty.walk.span).toBe(DAY);
  });
});
