import type { Database } from "bun:sqlite";

export interface LockKey {
  user: string;
  login: string;
}

export interface PendingLock extends LockKey {
  name: string;
  decidedAt: Date;
  attempts: number;
  notBefore: Date;
}

interface PendingLockRow {
  name: string;
  user: string;
  login: string;
  decided_at: number;
  attempts: number;
  not_before: number;
}

/**
 * Auto-locking's durable part: failed logins by event time, the last lock per user and login, and
 * the lock decisions still to send. It shares the export's connection, so what auto-locking writes
 * as a participant of an audit commit lands in the same transaction as the checkpoint.
 */
export class LockState {
  constructor(private readonly db: Database) {}

  /** Idempotent: the same event recorded twice counts once. */
  recordFailedLogin(key: LockKey, eventTime: Date, eventId: string): void {
    this.db
      .query("INSERT OR IGNORE INTO lock_failures (user, login, event_time, event_id) VALUES (?, ?, ?, ?)")
      .run(key.user, key.login, eventTime.getTime(), eventId);
  }

  /** Event times (ms) of the failures of `key` in [from, to] that no earlier lock has spent, ascending. */
  failureTimes(key: LockKey, from: Date, to: Date): number[] {
    const mark = this.lockMark(key);
    const since = Math.max(from.getTime(), mark === undefined ? -Infinity : mark + 1);
    const rows = this.db
      .query("SELECT event_time FROM lock_failures WHERE user = ? AND login = ? AND event_time >= ? AND event_time <= ? ORDER BY event_time")
      .all(key.user, key.login, since, to.getTime()) as { event_time: number }[];
    return rows.map((r) => r.event_time);
  }

  private lockMark(key: LockKey): number | undefined {
    const row = this.db.query("SELECT event_time FROM lock_marks WHERE user = ? AND login = ?").get(key.user, key.login) as {
      event_time: number;
    } | null;
    return row?.event_time;
  }

  /** Spends the failures of `key` up to `eventTime`: they never count towards another lock. */
  markLocked(key: LockKey, eventTime: Date): void {
    this.db
      .query(
        `INSERT INTO lock_marks (user, login, event_time) VALUES (?, ?, ?)
         ON CONFLICT(user, login) DO UPDATE SET event_time = max(event_time, excluded.event_time)`,
      )
      .run(key.user, key.login, eventTime.getTime());
  }

  /** Forgets failures and marks older than `before`: they can no longer count. */
  prune(before: Date): void {
    this.db.query("DELETE FROM lock_failures WHERE event_time < ?").run(before.getTime());
    this.db.query("DELETE FROM lock_marks WHERE event_time < ?").run(before.getTime());
  }

  /** Queues a lock to send; a lock of the same name already waiting is simply due again now. */
  enqueueLock(name: string, key: LockKey, decidedAt: Date): void {
    this.db
      .query(
        `INSERT INTO pending_locks (name, user, login, decided_at, attempts, not_before) VALUES (?, ?, ?, ?, 0, 0)
         ON CONFLICT(name) DO UPDATE SET decided_at = excluded.decided_at, not_before = 0`,
      )
      .run(name, key.user, key.login, decidedAt.getTime());
  }

  pendingLocks(): PendingLock[] {
    const rows = this.db.query("SELECT * FROM pending_locks ORDER BY not_before, decided_at").all() as PendingLockRow[];
    return rows.map((r) => ({
      name: r.name,
      user: r.user,
      login: r.login,
      decidedAt: new Date(r.decided_at),
      attempts: r.attempts,
      notBefore: new Date(r.not_before),
    }));
  }

  /** Done with the decision sent; a newer decision of the same name (decided meanwhile) stays queued. */
  lockSent(lock: PendingLock): void {
    this.db.query("DELETE FROM pending_locks WHERE name = ? AND decided_at = ?").run(lock.name, lock.decidedAt.getTime());
  }

  retryLockLater(name: string, attempts: number, notBefore: Date): void {
    this.db.query("UPDATE pending_locks SET attempts = ?, not_before = ? WHERE name = ?").run(attempts, notBefore.getTime(), name);
  }
}
