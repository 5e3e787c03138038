import { afterEach, beforeEach, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../src/state/database.ts";
import { StateStore } from "../../src/state/index.ts";
import type { AuditEvent } from "../../src/teleport/types.ts";

/**
 * The state database runs WAL with synchronous=NORMAL: a commit reaches the operating system but
 * is not fsynced, so a power loss (not a process crash) may lose the tail of the WAL. What makes
 * that safe is that a transaction then rolls back whole: checkpoint, session queue and dead
 * letters together, so the export re-sends (duplicates) and never skips. These tests cut and
 * damage the WAL of a real commit in every way a lost write can, and reopen it.
 */

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "durability-test-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const WAL_HEADER = 32;
const FRAME_HEADER = 24;

function event(id: string, time: string): AuditEvent {
  return { id, type: "session.upload", time: new Date(time), index: 0, json: { uid: id, sid: `s-${id}` } };
}

/** Everything a commit of the audit log touches, as a reopened store reads it. */
function snapshot(store: StateStore) {
  return {
    checkpoint: store.checkpoints.legacyCheckpoint()?.pageKey,
    sessions: store.sessions.list().map((s) => s.sid),
    deadLetters: store.deadLetters.list().map((d) => d.eventId),
    totals: store.meta.totals(),
  };
}

function commitBatch(store: StateStore, n: number): void {
  const delivered = [event(`e${n}`, `2025-01-01T00:00:0${n}Z`)];
  store.commitAudit({
    position: { kind: "legacy", checkpoint: { windowStart: new Date("2025-01-01T00:00:00Z"), pageKey: `page-${n}`, lastEventId: `e${n}` }, seekFinished: false },
    delivered,
    sessions: [{ sid: `s-e${n}`, uploadTime: delivered[0]!.time }],
    // A large body spreads the transaction over several WAL frames (pages).
    deadLetters: [{ record: { id: `d${n}`, body: "x".repeat(10_000) }, url: "https://fluentd/events.log", status: 400, reason: "bad" }],
  });
}

test("the state database commits without fsync (synchronous=NORMAL) in WAL mode", () => {
  const db = openDatabase(join(dir, "s.sqlite"), { create: true });
  try {
    expect(db.query("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    expect(db.query("PRAGMA synchronous").get()).toEqual({ synchronous: 1 });
  } finally {
    db.close();
  }
});

test("a commit whose WAL tail is lost or damaged rolls back whole: checkpoint, sessions and dead letters together", () => {
  const path = join(dir, "live.sqlite");
  const store = StateStore.open(path);
  commitBatch(store, 1);
  const before = snapshot(store);
  const walBefore = statSync(`${path}-wal`).size;
  commitBatch(store, 2);
  const after = snapshot(store);
  // Copied while the store is open: closing would checkpoint the WAL into the main file.
  const main = readFileSync(path);
  const wal = readFileSync(`${path}-wal`);
  store.close();
  expect(after).not.toEqual(before);

  const pageSize = new DataView(wal.buffer, wal.byteOffset).getUint32(8);
  const frame = FRAME_HEADER + pageSize;
  const newFrames = (wal.length - walBefore) / frame;
  expect(walBefore).toBeGreaterThanOrEqual(WAL_HEADER);
  expect(newFrames).toBeGreaterThan(1);

  /** Reopens the database as a power loss could have left it: the main file and this WAL. */
  const reopen = (label: string, damagedWal: Buffer) => {
    const at = join(dir, label);
    mkdirSync(at);
    writeFileSync(join(at, "s.sqlite"), main);
    writeFileSync(join(at, "s.sqlite-wal"), damagedWal);
    const reopened = StateStore.open(join(at, "s.sqlite"));
    try {
      return snapshot(reopened);
    } finally {
      reopened.close();
    }
  };

  const outcomes: string[] = [];
  const check = (label: string, damaged: Buffer) => {
    const seen = reopen(label, damaged);
    // Whole or nothing: never the checkpoint without its sessions or dead letters, or the reverse.
    if (JSON.stringify(seen) === JSON.stringify(after)) outcomes.push("kept");
    else {
      expect(seen).toEqual(before);
      outcomes.push("rolled back");
    }
  };

  // The write stopped anywhere inside the new frames (each frame boundary, and mid-frame).
  for (let k = 0; k < newFrames; k++) {
    check(`cut-${k}`, wal.subarray(0, walBefore + k * frame));
    check(`cut-mid-${k}`, wal.subarray(0, walBefore + k * frame + FRAME_HEADER + 100));
  }
  // One page of the commit never reached the disk while the ones after it did.
  for (let k = 0; k < newFrames; k++) {
    const lost = Buffer.from(wal);
    lost.fill(0, walBefore + k * frame, walBefore + (k + 1) * frame);
    check(`lost-${k}`, lost);
  }
  check("intact", wal);

  expect(outcomes.at(-1)).toBe("kept");
  expect(outcomes.slice(0, -1).every((o) => o === "rolled back")).toBe(true);
});

test("a process killed after a commit keeps it: the WAL in the page cache is read back on open", () => {
  const path = join(dir, "crash.sqlite");
  const store = StateStore.open(path);
  commitBatch(store, 1);
  const committed = snapshot(store);
  // What a kill -9 leaves: the files as they are, with no close and no checkpoint.
  const at = join(dir, "after-kill");
  mkdirSync(at);
  copyFileSync(path, join(at, "s.sqlite"));
  copyFileSync(`${path}-wal`, join(at, "s.sqlite-wal"));
  store.close();
  const reopened = StateStore.open(join(at, "s.sqlite"));
  try {
    expect(snapshot(reopened)).toEqual(committed);
  } finally {
    reopened.close();
  }
});
