import type { Database } from "bun:sqlite";
import type { DeadLetter } from "../fluentd/types.ts";
import type { DeadLetterState } from "./dead-letter-table.ts";
import type { MetaState } from "./meta-table.ts";

export interface SessionUpload {
  sid: string;
  uploadTime: Date;
}

export type SessionStatus = "pending" | "missing" | "given-up";

export interface SessionRow {
  sid: string;
  nextIndex: number;
  uploadTime: Date;
  attempts: number;
  status: SessionStatus;
  notBefore: Date;
}

interface SessionDbRow {
  sid: string;
  next_index: number;
  upload_time: number;
  attempts: number;
  status: SessionStatus;
  not_before: number;
}

function toSession(row: SessionDbRow): SessionRow {
  return {
    sid: row.sid,
    nextIndex: row.next_index,
    uploadTime: new Date(row.upload_time),
    attempts: row.attempts,
    status: row.status,
    notBefore: new Date(row.not_before),
  };
}

/** `+not_before` keeps SQLite on sessions_pending_by_upload, read in upload order, rather than sorting (schema.ts). */
export const READY_SQL = "SELECT * FROM sessions WHERE status = 'pending' AND +not_before <= ? ORDER BY upload_time LIMIT ?";

/**
 * The queue of session recordings to export: a crash never loses a session, and a recording
 * resumes from the index after its last acknowledged batch.
 */
export class SessionQueueState {
  constructor(
    private readonly db: Database,
    private readonly meta: MetaState,
    private readonly deadLetters: DeadLetterState,
  ) {}

  enqueue(s: SessionUpload): void {
    // A repeated upload event (duplicate delivery) must not rewind a session already in progress.
    this.db
      .query("INSERT OR IGNORE INTO sessions (sid, next_index, upload_time, attempts, status, not_before) VALUES (?, 0, ?, 0, 'pending', 0)")
      .run(s.sid, s.uploadTime.getTime());
  }

  /** Puts a session in the queue as another tool left it (state/go-import): at its index, with its attempts. */
  restore(row: SessionRow): void {
    this.db
      .query("INSERT OR REPLACE INTO sessions (sid, next_index, upload_time, attempts, status, not_before) VALUES (?, ?, ?, ?, ?, ?)")
      .run(row.sid, row.nextIndex, row.uploadTime.getTime(), row.attempts, row.status, row.notBefore.getTime());
  }

  /** Sessions ready to stream now, oldest upload first. */
  ready(now: Date, limit: number): SessionRow[] {
    const rows = this.db.query(READY_SQL).all(now.getTime(), limit) as SessionDbRow[];
    return rows.map(toSession);
  }

  /** Missing recordings due for another look. */
  dueMissing(now: Date): SessionRow[] {
    const rows = this.db
      .query("SELECT * FROM sessions WHERE status = 'missing' AND not_before <= ? ORDER BY upload_time")
      .all(now.getTime()) as SessionDbRow[];
    return rows.map(toSession);
  }

  list(status?: SessionStatus): SessionRow[] {
    const rows = (
      status === undefined
        ? this.db.query("SELECT * FROM sessions ORDER BY upload_time").all()
        : this.db.query("SELECT * FROM sessions WHERE status = ? ORDER BY upload_time").all(status)
    ) as SessionDbRow[];
    return rows.map(toSession);
  }

  count(status: SessionStatus): number {
    return (this.db.query("SELECT count(*) AS n FROM sessions WHERE status = ?").get(status) as { n: number }).n;
  }

  /**
   * After an acknowledged batch of recording events: resume from `nextIndex` (inclusive), or, with
   * `completed` (the stream ended with this batch), the session leaves the queue. One transaction
   * either way: a recording costs one commit per batch, its completion included.
   */
  commitProgress(sid: string, nextIndex: number, deadLetters: readonly DeadLetter[], completed: boolean): void {
    this.db.transaction(() => {
      if (completed) {
        this.db.query("DELETE FROM sessions WHERE sid = ?").run(sid);
        this.meta.addToTotal("sessions_delivered", 1);
      } else this.db.query("UPDATE sessions SET next_index = ? WHERE sid = ?").run(nextIndex, sid);
      this.deadLetters.add(deadLetters);
    })();
  }

  /** When the earliest queued session not ready now becomes due; undefined when none waits. */
  nextDue(now: Date): Date | undefined {
    const row = this.db
      .query("SELECT min(not_before) AS at FROM sessions WHERE status IN ('pending', 'missing') AND not_before > ?")
      .get(now.getTime()) as { at: number | null };
    return row.at === null ? undefined : new Date(row.at);
  }

  /** Parks a session: `missing` is retried after `notBefore`, `given-up` never again. */
  park(sid: string, status: "missing" | "given-up", attempts: number, notBefore: Date): void {
    this.db.query("UPDATE sessions SET status = ?, attempts = ?, not_before = ? WHERE sid = ?").run(status, attempts, notBefore.getTime(), sid);
  }

  /** Puts a session back in the queue, not to be tried before `notBefore`. */
  retryLater(sid: string, notBefore: Date): void {
    this.db.query("UPDATE sessions SET status = 'pending', not_before = ? WHERE sid = ?").run(notBefore.getTime(), sid);
  }
}
