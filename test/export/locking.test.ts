import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FailedLoginCounter } from "../../src/autolock/counter.ts";
import { failedLoginOf, lockName } from "../../src/autolock/failed-login.ts";
import { thresholdReachedAt } from "../../src/autolock/window.ts";
import { commitAuditBatch } from "../../src/export/acknowledge.ts";
import { openClusterState, type StateStore } from "../../src/state/index.ts";
import type { AuditEvent } from "../../src/teleport/types.ts";

const SECOND = 1000;
const PERIOD = 60 * SECOND;
const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);

describe("thresholdReachedAt (sliding window by event time)", () => {
  test("the failure that completes the count inside one period", () => {
    expect(thresholdReachedAt([0, 10, 20], PERIOD, 3)).toBe(20);
    expect(thresholdReachedAt([0, 10, 20, 30], PERIOD, 3)).toBe(20);
    expect(thresholdReachedAt([0], PERIOD, 1)).toBe(0);
  });

  test("failures a full period or more apart never share a window", () => {
    expect(thresholdReachedAt([0, 30 * SECOND, 60 * SECOND], PERIOD, 3)).toBeUndefined();
    expect(thresholdReachedAt([0, 40 * SECOND, 80 * SECOND, 120 * SECOND], PERIOD, 3)).toBeUndefined();
  });

  test("the window slides: a later, denser run reaches the count", () => {
    expect(thresholdReachedAt([0, 70 * SECOND, 100 * SECOND, 110 * SECOND], PERIOD, 3)).toBe(110 * SECOND);
    expect(thresholdReachedAt([], PERIOD, 1)).toBeUndefined();
  });
});

let uid = 0;
function login(user: string, osLogin: string, at: number, success = false): AuditEvent {
  const id = `login-${++uid}`;
  return { id, type: "user.login", time: new Date(at), index: 0, json: { uid: id, event: "user.login", user, login: osLogin, success } };
}

describe("failedLoginOf", () => {
  test("only user.login with success false, and only with a user to lock", () => {
    expect(failedLoginOf(login("alice", "root", T0))).toEqual({ user: "alice", login: "root" });
    expect(failedLoginOf(login("alice", "root", T0, true))).toBeUndefined();
    expect(failedLoginOf({ ...login("alice", "root", T0), type: "session.start" })).toBeUndefined();
    expect(failedLoginOf(login("", "root", T0))).toBeUndefined();
    const sso = login("bob", "", T0);
    delete sso.json.login;
    expect(failedLoginOf(sso)).toEqual({ user: "bob", login: "" });
    expect(lockName({ user: "bob", login: "root" })).toBe("event-handler-auto-lock-bob-root");
  });
});

describe("FailedLoginCounter", () => {
  let dir: string;
  let state: StateStore;
  let now: number;
  let queued: number;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "lock-test-"));
    state = openClusterState(dir, "c");
    now = T0;
    queued = 0;
  });
  afterEach(() => {
    state.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function counter(store = state, dryRun = false): FailedLoginCounter {
    return new FailedLoginCounter({
      locking: store.locking,
      settings: { enabled: true, failedAttemptsCount: 3, period: PERIOD, for: 0 },
      dryRun,
      onQueued: () => queued++,
      now: () => now,
    });
  }

  /** Delivers `event` at wall-clock time `at`, as the export would (inside a commit). */
  function deliver(c: FailedLoginCounter, event: AuditEvent, at = event.time.getTime()): void {
    now = at;
    commitAuditBatch(state, { position: { kind: "chunk", progress: { date: "2025-01-01", chunk: "c", cursor: event.id, completed: false } }, delivered: [event], sessions: [], deadLetters: [] }, [c]);
  }

  test("the threshold within the period locks once per burst", () => {
    const c = counter();
    deliver(c, login("alice", "root", T0));
    deliver(c, login("alice", "root", T0 + 10 * SECOND));
    expect(state.locking.pendingLocks()).toEqual([]);
    deliver(c, login("alice", "root", T0 + 20 * SECOND));
    expect(queued).toBe(1);
    expect(state.locking.pendingLocks().map((l) => [l.name, l.user, l.login])).toEqual([["event-handler-auto-lock-alice-root", "alice", "root"]]);
    // The burst is spent: two more failures are a new count, not two more locks.
    deliver(c, login("alice", "root", T0 + 21 * SECOND));
    deliver(c, login("alice", "root", T0 + 22 * SECOND));
    expect(queued).toBe(1);
    deliver(c, login("alice", "root", T0 + 23 * SECOND));
    expect(queued).toBe(2);
    expect(state.locking.pendingLocks()).toHaveLength(1);
  });

  test("a burst whose last failure arrives a moment after its own time still locks", () => {
    const c = counter();
    // Failures at 0 s and 1 s; the third at 59 s, delivered at 61 s: all three share one period by
    // event time, though the first two are more than a period old by the clock.
    deliver(c, login("alice", "root", T0));
    deliver(c, login("alice", "root", T0 + SECOND));
    deliver(c, login("alice", "root", T0 + 59 * SECOND), T0 + 61 * SECOND);
    expect(queued).toBe(1);
  });

  test("failures spread wider than the period do not lock", () => {
    const c = counter();
    for (let k = 0; k < 6; k++) deliver(c, login("alice", "root", T0 + k * 31 * SECOND));
    expect(queued).toBe(0);
    expect(state.locking.pendingLocks()).toEqual([]);
  });

  test("failures older than the period (a backfill) are not even counted", () => {
    const c = counter();
    const later = T0 + 10 * 60 * SECOND;
    for (let k = 0; k < 5; k++) deliver(c, login("alice", "root", T0 + k * SECOND), later);
    expect(queued).toBe(0);
    // Two old ones plus two live ones stay below three live ones.
    deliver(c, login("alice", "root", later - 5 * SECOND), later);
    deliver(c, login("alice", "root", later), later);
    expect(queued).toBe(0);
  });

  test("counts per user and login, ignoring successes and other users", () => {
    const c = counter();
    deliver(c, login("alice", "root", T0));
    deliver(c, login("alice", "ubuntu", T0 + SECOND));
    deliver(c, login("bob", "root", T0 + 2 * SECOND));
    deliver(c, login("alice", "root", T0 + 3 * SECOND, true));
    deliver(c, login("alice", "root", T0 + 4 * SECOND));
    expect(queued).toBe(0);
    deliver(c, login("alice", "root", T0 + 5 * SECOND));
    expect(state.locking.pendingLocks().map((l) => l.name)).toEqual(["event-handler-auto-lock-alice-root"]);
  });

  test("events arriving out of time order still count by event time", () => {
    const c = counter();
    now = T0 + 30 * SECOND;
    deliver(c, login("alice", "root", T0 + 20 * SECOND), now);
    deliver(c, login("alice", "root", T0), now);
    expect(queued).toBe(0);
    deliver(c, login("alice", "root", T0 + 10 * SECOND), now);
    expect(queued).toBe(1);
  });

  test("the same event delivered twice counts once", () => {
    const c = counter();
    const e = login("alice", "root", T0);
    deliver(c, e);
    deliver(c, e);
    deliver(c, login("alice", "root", T0 + SECOND));
    expect(queued).toBe(0);
  });

  test("counters survive closing and reopening the state", () => {
    deliver(counter(), login("alice", "root", T0));
    deliver(counter(), login("alice", "root", T0 + SECOND));
    state.close();
    state = openClusterState(dir, "c");
    deliver(counter(state), login("alice", "root", T0 + 2 * SECOND));
    expect(queued).toBe(1);
  });

  test("dry run decides but queues nothing", () => {
    const c = counter(state, true);
    for (let k = 0; k < 3; k++) deliver(c, login("alice", "root", T0 + k * SECOND));
    expect(queued).toBe(0);
    expect(state.locking.pendingLocks()).toEqual([]);
  });
});
