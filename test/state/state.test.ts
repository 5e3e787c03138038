import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  acquireInstanceLock,
  databasePath,
  findStateFile,
  InstanceLockedError,
  lockHolder,
  openClusterState,
  StartTimeChangedError,
  StateStore,
  StateUnreadableError,
} from "../../src/state/index.ts";
import { commitAuditBatch } from "../../src/export/acknowledge.ts";
import { READY_SQL } from "../../src/state/session-table.ts";
import { SCHEMA_VERSION } from "../../src/state/schema.ts";
import { Database } from "bun:sqlite";
import type { AuditEvent } from "../../src/teleport/types.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "state-test-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function event(id: string, time: string): AuditEvent {
  return { id, type: "user.login", time: new Date(time), index: 0, json: { uid: id, event: "user.login" } };
}

describe("state database", () => {
  test("is named after the cluster, private, and survives reopening with its checkpoint", () => {
    const store = openClusterState(dir, "prod/cluster:1");
    expect(databasePath(dir, "prod/cluster:1")).toBe(join(dir, "prod_cluster_1.sqlite"));
    expect(statSync(databasePath(dir, "prod/cluster:1")).mode & 0o777).toBe(0o600);
    store.meta.settleStartTime(new Date("2024-01-01T00:00:00Z"), new Date());
    store.commitAudit({
      position: { kind: "legacy", checkpoint: { windowStart: new Date("2024-01-01T00:00:00Z"), pageKey: "k1", lastEventId: "e2" }, seekFinished: false },
      delivered: [event("e1", "2024-01-01T00:00:01Z"), event("e2", "2024-01-01T00:00:02Z")],
      sessions: [{ sid: "s1", uploadTime: new Date("2024-01-01T00:00:02Z") }],
      deadLetters: [{ record: { id: "e3", body: "{}" }, url: "https://x/events", status: 400, reason: "bad" }],
    });
    store.close();

    const again = StateStore.open(databasePath(dir, "prod/cluster:1"), { create: false });
    expect(again.checkpoints.legacyCheckpoint()).toEqual({ windowStart: new Date("2024-01-01T00:00:00Z"), pageKey: "k1", lastEventId: "e2" });
    expect(again.meta.lastDelivered()).toEqual({ id: "e2", time: new Date("2024-01-01T00:00:02Z") });
    expect(again.sessions.ready(new Date(), 10).map((s) => s.sid)).toEqual(["s1"]);
    expect(again.deadLetters.list().map((d) => [d.eventId, d.status, d.reason])).toEqual([["e3", 400, "bad"]]);
    expect(again.meta.totals()).toEqual({ events: 2, sessions: 0, deadLettered: 1, sessionsRefused: 0 });
    again.close();
  });

  test("a failing commit participant rolls back the whole batch", () => {
    const store = openClusterState(dir, "c");
    const seen: string[] = [];
    const failing = {
      inCommit(delivered: readonly AuditEvent[]) {
        seen.push(...delivered.map((e) => e.id));
        throw new Error("participant failed");
      },
      committed() {
        seen.push("committed");
      },
    };
    const commit = {
      position: { kind: "legacy" as const, checkpoint: { windowStart: new Date(0), pageKey: "k", lastEventId: "e1" }, seekFinished: false },
      delivered: [event("e1", "2024-01-01T00:00:01Z")],
      sessions: [{ sid: "s1", uploadTime: new Date() }],
      deadLetters: [],
    };
    expect(() => commitAuditBatch(store, commit, [failing])).toThrow("participant failed");
    expect(seen).toEqual(["e1"]);
    expect(store.checkpoints.legacyCheckpoint()).toBeUndefined();
    expect(store.sessions.count("pending")).toBe(0);
    expect(store.meta.totals().events).toBe(0);
    store.close();
  });

  test("a bulk chunk position and a legacy checkpoint are stored each in their own place", () => {
    const store = openClusterState(dir, "c");
    const progress = { date: "2024-01-01", chunk: "c1", cursor: "42", completed: false };
    store.commitAudit({ position: { kind: "chunk", progress }, delivered: [], sessions: [], deadLetters: [] });
    expect(store.checkpoints.chunks("2024-01-01")).toEqual([progress]);
    expect(store.checkpoints.legacyCheckpoint()).toBeUndefined();
    store.close();
  });

  test("a repeated upload event does not rewind a session in progress", () => {
    const store = openClusterState(dir, "c");
    store.sessions.enqueue({ sid: "s1", uploadTime: new Date() });
    store.sessions.commitProgress("s1", 42, [], false);
    store.sessions.enqueue({ sid: "s1", uploadTime: new Date() });
    expect(store.sessions.list().map((s) => [s.sid, s.nextIndex])).toEqual([["s1", 42]]);
    store.close();
  });

  test("a recording's last batch and its completion commit together: the session leaves the queue with its dead letters kept", () => {
    const store = openClusterState(dir, "c");
    store.sessions.enqueue({ sid: "s1", uploadTime: new Date() });
    store.sessions.enqueue({ sid: "s2", uploadTime: new Date() });
    store.sessions.commitProgress("s1", 5, [], false);
    const letter = { record: { id: "p9", body: "{}" }, url: "https://f/session.s1.log", status: 400, reason: "bad" };
    store.sessions.commitProgress("s1", 10, [letter], true);
    expect(store.sessions.list().map((s) => s.sid)).toEqual(["s2"]);
    expect(store.deadLetters.list().map((d) => d.eventId)).toEqual(["p9"]);
    expect(store.meta.totals()).toMatchObject({ sessions: 1, deadLettered: 1 });
    store.close();
  });

  test("ready sessions come oldest upload first from an index walk, and the index is no schema version", () => {
    const path = databasePath(dir, "c");
    const store = openClusterState(dir, "c");
    const now = new Date("2024-06-01T00:00:00Z");
    const uploads = [5, 1, 4, 2, 3, 0].map((k) => ({ sid: `s${k}`, uploadTime: new Date(now.getTime() - 60_000 * (10 - k)) }));
    for (const u of uploads) store.sessions.enqueue(u);
    store.sessions.retryLater("s1", new Date(now.getTime() + 1_000));
    store.sessions.park("s2", "missing", 1, new Date(0));
    expect(store.sessions.ready(now, 3).map((s) => s.sid)).toEqual(["s0", "s3", "s4"]);
    expect(store.sessions.ready(new Date(now.getTime() + 1_000), 10).map((s) => s.sid)).toEqual(["s0", "s1", "s3", "s4", "s5"]);
    const db = new Database(path, { readonly: true });
    const plan = (db.query(`EXPLAIN QUERY PLAN ${READY_SQL}`).all(now.getTime(), 3) as { detail: string }[]).map((r) => r.detail);
    expect(plan.join("\n")).toContain("USING INDEX sessions_pending_by_upload");
    expect(plan.join("\n")).not.toContain("TEMP B-TREE");
    expect((db.query("PRAGMA user_version").get() as { user_version: number }).user_version).toBe(SCHEMA_VERSION);
    db.close();
    store.close();
  });

  test("the next due session is the earliest one waiting for a later time", () => {
    const store = openClusterState(dir, "c");
    const now = new Date("2025-01-01T00:00:00Z");
    expect(store.sessions.nextDue(now)).toBeUndefined();
    for (const sid of ["a", "b", "c"]) store.sessions.enqueue({ sid, uploadTime: now });
    store.sessions.retryLater("a", new Date("2025-01-01T00:05:00Z"));
    store.sessions.park("b", "missing", 1, new Date("2025-01-01T00:03:00Z"));
    store.sessions.park("c", "given-up", 3, new Date("2025-01-01T00:01:00Z"));
    expect(store.sessions.nextDue(now)).toEqual(new Date("2025-01-01T00:03:00Z"));
    store.close();
  });

  test("start time is stored once and a different instant is refused", () => {
    const store = openClusterState(dir, "c");
    const start = store.meta.settleStartTime(new Date("2024-05-01T02:00:00+02:00"), new Date());
    expect(store.meta.settleStartTime(new Date("2024-05-01T00:00:00Z"), new Date())).toEqual(start);
    expect(store.meta.settleStartTime(undefined, new Date())).toEqual(start);
    expect(() => store.meta.settleStartTime(new Date("2024-05-02T00:00:00Z"), new Date())).toThrow(StartTimeChangedError);
    expect(() => store.meta.settleStartTime(new Date("2024-05-02T00:00:00Z"), new Date())).toThrow(/delete .*c\.sqlite/);
    store.close();
  });

  test("a corrupt database is an error and is left untouched", () => {
    const path = databasePath(dir, "c");
    const garbage = "this is not a database".repeat(100);
    writeFileSync(path, garbage);
    expect(() => StateStore.open(path)).toThrow(StateUnreadableError);
    expect(readFileSync(path, "utf8")).toBe(garbage);
  });

  test("an empty state file is refused like a corrupt one, never taken for a new export", () => {
    const path = databasePath(dir, "c");
    writeFileSync(path, "");
    expect(() => StateStore.open(path)).toThrow(/empty \(0 bytes\)/);
    expect(statSync(path).size).toBe(0);
    // A database this code creates is never empty, even before its first checkpoint.
    openClusterState(dir, "fresh").close();
    expect(statSync(databasePath(dir, "fresh")).size).toBeGreaterThan(0);
  });

  test("a symbolic link in the storage directory is refused, and its target left alone", () => {
    const target = join(dir, "elsewhere.sqlite");
    writeFileSync(target, "");
    chmodSync(target, 0o644);
    symlinkSync(target, databasePath(dir, "linked"));
    expect(() => openClusterState(dir, "linked")).toThrow(/is a symbolic link/);
    expect(statSync(target).mode & 0o777).toBe(0o644);
    symlinkSync(target, join(dir, "instance.pid"));
    expect(() => acquireInstanceLock(dir)).toThrow(/instance\.pid is a symbolic link/);
  });

  test("status finds the only state file, or asks for a cluster", () => {
    expect(() => findStateFile(dir)).toThrow(/no export state/);
    openClusterState(dir, "a").close();
    expect(findStateFile(dir)).toBe(databasePath(dir, "a"));
    openClusterState(dir, "b").close();
    expect(() => findStateFile(dir)).toThrow(/--cluster/);
    expect(findStateFile(dir, "b")).toBe(databasePath(dir, "b"));
  });
});

describe("instance lock", () => {
  test("a live holder is refused with its pid, and the lock is free after release", () => {
    const held = acquireInstanceLock(dir);
    expect(readFileSync(join(dir, "instance.pid"), "utf8").trim()).toBe(String(process.pid));
    let error: unknown;
    try {
      acquireInstanceLock(dir);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InstanceLockedError);
    expect(String(error)).toContain(`pid ${process.pid}`);
    expect(lockHolder(dir)).toBe(process.pid);
    held.release();
    expect(lockHolder(dir)).toBeUndefined();
    acquireInstanceLock(dir).release();
  });

  test("a lock whose holder was killed is free, whatever its pid file says", async () => {
    const child = Bun.spawn(
      [process.execPath, "-e", `const { acquireInstanceLock } = await import(${JSON.stringify(join(import.meta.dir, "../../src/state/instance-lock.ts"))}); acquireInstanceLock(${JSON.stringify(dir)}); console.log("held"); setInterval(() => {}, 1000);`],
      { stdout: "pipe", stderr: "ignore" },
    );
    try {
      const first = await child.stdout.getReader().read();
      expect(new TextDecoder().decode(first.value)).toContain("held");
      expect(lockHolder(dir)).toBe(child.pid);
      expect(() => acquireInstanceLock(dir)).toThrow(`pid ${child.pid}`);
    } finally {
      child.kill("SIGKILL");
      await child.exited;
    }
    // The pid file still names the dead process (or a reused pid): the kernel lock decides.
    expect(readFileSync(join(dir, "instance.pid"), "utf8").trim()).toBe(String(child.pid));
    expect(lockHolder(dir)).toBeUndefined();
    const lock = acquireInstanceLock(dir);
    expect(lockHolder(dir)).toBe(process.pid);
    lock.release();
  });

  test("a pid-only lock file from an older version is taken over when its holder is dead", () => {
    const dead = Bun.spawnSync(["true"]).pid;
    writeFileSync(join(dir, "instance.lock"), `${dead}\n`);
    const lock = acquireInstanceLock(dir);
    expect(lockHolder(dir)).toBe(process.pid);
    lock.release();
  });
});
