import { afterEach, describe, expect, test } from "bun:test";
import { failedLoginFields } from "../../scripts/fakes/fake-events.ts";
import { findStateFile, StateStore } from "../../src/state/index.ts";
import { auditUids, countBy, runHandler, runToEnd, startWorld, statusJson, waitFor, waitUntil, type World } from "../support/world.ts";

/**
 * Auto-lock end to end: the compiled binary, the fake Teleport recording UpsertLock calls, failed
 * logins appended with chosen users and times.
 */

const HOUR = 3_600_000;
const ONCE = ["--lock-enabled", "--exit-on-last-event"];
const MESSAGE = "User is locked due to too many failed login attempts";

let world: World | undefined;
afterEach(async () => {
  await world?.stop();
  world = undefined;
});

/** A small log ending well over a minute ago, so only appended failures are recent. */
async function smallWorld(teleport: { denyLocks?: boolean } = {}): Promise<World> {
  world = await startWorld({ teleport: { events: 30, days: 1, sessions: 0, ...teleport } });
  return world;
}

function fail(w: World, user: string, login: string, msAgo = 0): string {
  return w.teleport.appendEvent({ type: "user.login", at: new Date(Date.now() - msAgo), fields: failedLoginFields(user, login) });
}

function delivered(w: World, ids: string[]): () => boolean {
  return () => {
    const seen = new Set(auditUids(w));
    return ids.every((id) => seen.has(id));
  };
}

/**
 * Waits until `last` (the newest event of the log) is acknowledged and its checkpoint committed:
 * whatever auto-locking decided about it is in the state database by then.
 */
async function committed(w: World, last: string): Promise<void> {
  await waitUntil("the event is delivered", delivered(w, [last]));
  await waitFor(`the checkpoint of ${last}`, async () => ((await statusJson(w.storage)).lastDelivered?.id === last ? true : undefined));
}

/** Locks decided and not yet sent, read from the state database the running handler writes. */
function pendingLocks(w: World): string[] {
  const state = StateStore.open(findStateFile(w.storage), { create: false, readonly: true });
  try {
    return state.locking.pendingLocks().map((l) => l.name);
  } finally {
    state.close();
  }
}

describe("auto-lock", () => {
  test("the threshold reached within the period locks once, with the Go tool's lock", async () => {
    const w = await smallWorld();
    fail(w, "alice", "root", 3000);
    fail(w, "alice", "ubuntu", 2500);
    w.teleport.appendEvent({ type: "user.login", at: new Date(Date.now() - 2000), fields: { user: "alice", login: "root", success: true } });
    fail(w, "alice", "root", 1500);
    fail(w, "alice", "root", 1000);
    const before = Date.now();
    const result = await runToEnd(w.startArgs([...ONCE, "--lock-for", "1h"]));
    const after = Date.now();
    expect(result.code).toBe(0);
    expect(auditUids(w)).toHaveLength(w.teleport.log.count);
    expect(w.teleport.locks).toEqual([
      {
        name: "event-handler-auto-lock-alice-root",
        kind: "lock",
        version: "v2",
        target: { user: "alice", login: "root", role: "" },
        message: MESSAGE,
        expires: expect.any(Date),
      },
    ]);
    const expires = w.teleport.locks[0]!.expires!.getTime();
    expect(expires).toBeGreaterThanOrEqual(before + HOUR - 1000);
    expect(expires).toBeLessThanOrEqual(after + HOUR);
    expect(result.stderr).toContain("User login is locked");

    // The burst is spent: two more failures start a new count instead of locking again.
    fail(w, "alice", "root");
    fail(w, "alice", "root");
    expect((await runToEnd(w.startArgs(ONCE))).code).toBe(0);
    expect(w.teleport.locks).toHaveLength(1);
  });

  test("without lock-for the lock never expires", async () => {
    const w = await smallWorld();
    for (let k = 3; k > 0; k--) fail(w, "erin", "admin", k * 100);
    expect((await runToEnd(w.startArgs(ONCE))).code).toBe(0);
    expect(w.teleport.locks.map((l) => [l.name, l.expires])).toEqual([["event-handler-auto-lock-erin-admin", undefined]]);
  });

  test("old failures (a backfill) never lock anyone, even with a threshold of one", async () => {
    world = await startWorld({ teleport: { events: 300, days: 3, sessions: 0 } });
    const old = Array.from({ length: world.teleport.log.count }, (_, i) => world!.teleport.log.eventAt(i)).filter(
      (e) => e.type === "user.login" && e.json.success === false,
    );
    expect(old.length).toBeGreaterThan(5);
    const result = await runToEnd(world.startArgs([...ONCE, "--lock-failed-attempts-count", "1"]));
    expect(result.code).toBe(0);
    expect(auditUids(world)).toHaveLength(world.teleport.log.count);
    expect(world.teleport.calls.UpsertLock).toBeUndefined();
  });

  test("failures spread wider than the period do not lock; the window slides", async () => {
    const w = await smallWorld();
    const h = await runHandler(w.startArgs(["--lock-enabled", "--lock-period", "3s", "--timeout", "100ms"]));
    try {
      // Event time decides, not arrival. The next two are stamped 3.3 s after the first, so no
      // 3 s window holds all three; the third 2.9 s after them, so one window holds the last
      // three. The fake serves an event only once its time has come, so the next two are observed
      // as they happen, and the test has almost 6 s after them to append the third before it
      // would be too old to count.
      const first = fail(w, "bob", "root");
      await waitUntil("the first failure is delivered", delivered(w, [first]));
      const later = Date.now() + 3300;
      const failAt = (t: number) => w.teleport.appendEvent({ type: "user.login", at: new Date(t), fields: failedLoginFields("bob", "root") });
      const next = [failAt(later), failAt(later)];
      await committed(w, next[1]!);
      expect(pendingLocks(w)).toEqual([]);
      expect(w.teleport.calls.UpsertLock).toBeUndefined();
      failAt(later + 2900);
      await waitUntil("bob is locked", () => w.teleport.locks.length > 0);
      expect(w.teleport.locks.map((l) => l.name)).toEqual(["event-handler-auto-lock-bob-root"]);
    } finally {
      h.kill();
      await h.done;
    }
  });

  test("counters survive a kill: the threshold is reached across the restart", async () => {
    const w = await smallWorld();
    const h = await runHandler(w.startArgs(["--lock-enabled", "--timeout", "100ms"]));
    const before = [fail(w, "carol", "root", 2000), fail(w, "carol", "root", 1500)];
    await committed(w, before[1]!);
    h.kill("SIGKILL");
    await h.done;
    expect(w.teleport.calls.UpsertLock).toBeUndefined();

    const third = fail(w, "carol", "root");
    expect((await runToEnd(w.startArgs(ONCE))).code).toBe(0);
    // Not re-read from Teleport: the count came from the state database.
    const counts = countBy(auditUids(w));
    expect([...before, third].map((id) => counts.get(id))).toEqual([1, 1, 1]);
    expect(w.teleport.locks.map((l) => l.name)).toEqual(["event-handler-auto-lock-carol-root"]);
  });

  test("PermissionDenied does not stall delivery, says what the role needs, and is retried in the background", async () => {
    const w = await smallWorld({ denyLocks: true });
    const h = await runHandler(w.startArgs(["--lock-enabled", "--timeout", "100ms"]));
    try {
      for (let k = 3; k > 0; k--) fail(w, "mallory", "root", k * 100);
      await h.waitForLog(/ERROR .*role needs the "lock" resource with verbs "create" and "update" \(the role file written by "configure" grants them\)/);
      w.teleport.appendEvents(5);
      await waitUntil("later events are delivered while the lock is refused", () => auditUids(w).length === w.teleport.log.count);
      expect(w.teleport.locks).toEqual([]);

      // Once the role allows it, a retry places the lock without a restart.
      w.teleport.setDenyLocks(false);
      await waitUntil("mallory is locked", () => w.teleport.locks.length > 0);
      expect(w.teleport.calls.UpsertLock).toBeGreaterThan(1);
      expect(w.teleport.locks.map((l) => [l.name, l.message])).toEqual([["event-handler-auto-lock-mallory-root", MESSAGE]]);
    } finally {
      h.kill();
      await h.done;
    }
  });

  test("a lock refused before exit-on-last-event ended is sent by the next run", async () => {
    const w = await smallWorld({ denyLocks: true });
    for (let k = 3; k > 0; k--) fail(w, "oscar", "root", k * 100);
    const result = await runToEnd(w.startArgs(ONCE));
    expect(result.code).toBe(0);
    expect(auditUids(w)).toHaveLength(w.teleport.log.count);
    expect(w.teleport.locks).toEqual([]);

    w.teleport.setDenyLocks(false);
    const again = await runToEnd(w.startArgs(ONCE));
    expect(again.code).toBe(0);
    expect(again.stderr).toContain("1 lock(s) from a previous run still to send");
    expect(w.teleport.locks.map((l) => l.name)).toEqual(["event-handler-auto-lock-oscar-root"]);
  });

  test("dry run logs who would be locked and calls nothing", async () => {
    const w = await smallWorld();
    for (let k = 3; k > 0; k--) fail(w, "dave", "ec2-user", k * 100);
    const result = await runToEnd(w.startArgs(["--dry-run", ...ONCE]));
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('would lock user dave (login "ec2-user")');
    expect(w.teleport.calls.UpsertLock).toBeUndefined();
    expect(w.teleport.locks).toEqual([]);
  });
});
