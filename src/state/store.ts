import type { Database } from "bun:sqlite";
import type { DeadLetter } from "../fluentd/types.ts";
import type { AuditEvent } from "../teleport/types.ts";
import { isDiskFull, openDatabase, StateFullError } from "./database.ts";
import { LockState } from "./autolock-tables.ts";

export type Engine = "legacy" | "bulk";

export interface LegacyCheckpoint {
  windowStart: Date;
  /** The start key of the page being read; "" for the first page of the window. */
  pageKey: string;
  /** The last event consumed from that page (delivered or filtered); "" when none. */
  lastEventId: string;
}

export interface ChunkProgress {
  date: string;
  chunk: string;
  cursor: string;
  completed: boolean;
}

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

export interface StoredDeadLetter {
  id: number;
  eventId: string;
  url: string;
  status: number;
  reason: string;
  body: string;
  time: Date;
}

/** What one acknowledged audit batch changes, written atomically. */
export interface AuditCommit {
  legacy?: LegacyCheckpoint;
  chunk?: ChunkProgress;
  /** Events the sink acknowledged (dead letters excluded), in delivery order. */
  delivered: readonly AuditEvent[];
  sessions: readonly SessionUpload[];
  deadLetters: readonly DeadLetter[];
  /** Uploads whose session id was refused (not a UUID): counted, never queued. */
  refusedSessions?: number;
  /** The cursor event (see `seekAfter`) was found: stop skipping from now on. */
  seekFinished?: boolean;
}

export class StartTimeChangedError extends Error {
  constructor(stored: Date, requested: Date, dbPath: string) {
    super(
      `start-time ${requested.toISOString()} differs from ${stored.toISOString()} stored in ${dbPath}; the start time cannot change in the middle of an export: remove start-time to continue, or delete ${dbPath} to restart the export from scratch`,
    );
    this.name = "StartTimeChangedError";
  }
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

/**
 * The export's durable state for one Teleport cluster. Every method is one statement or one
 * transaction, so whatever the process dies in the middle of, the database holds either the state
 * before or after a delivered batch, never a mix.
 */
export class StateStore {
  private lockState?: LockState;

  private constructor(
    private readonly db: Database,
    readonly path: string,
  ) {}

  static open(path: string, opts: { create?: boolean; readonly?: boolean } = {}): StateStore {
    return new StateStore(openDatabase(path, { create: opts.create ?? true, readonly: opts.readonly }), path);
  }

  close(): void {
    this.db.close();
  }

  /** The export's writes: a full disk is reported with this file's path. */
  private write<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (isDiskFull(err)) throw new StateFullError(this.path, err);
      throw err;
    }
  }

  // --- meta -------------------------------------------------------------------------------

  private meta(key: string): string | undefined {
    const row = this.db.query("SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | null;
    return row?.value;
  }

  private setMeta(key: string, value: string): void {
    this.db.query("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(key, value);
  }

  private deleteMeta(key: string): void {
    this.db.query("DELETE FROM meta WHERE key = ?").run(key);
  }

  private addToCounter(key: string, n: number): void {
    if (n === 0) return;
    this.db
      .query("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + excluded.value")
      .run(key, String(n));
  }

  private counter(key: string): number {
    return Number(this.meta(key) ?? 0);
  }

  /** True before the first run stored anything: the only time `cursor` may be honoured. */
  isEmpty(): boolean {
    return this.meta("start_time") === undefined;
  }

  startTime(): Date | undefined {
    const value = this.meta("start_time");
    return value === undefined ? undefined : new Date(Number(value));
  }

  /**
   * Stores the start time on the first run; afterwards refuses a different one. Instants are
   * compared (the same time written with another offset is the same start time).
   */
  settleStartTime(requested: Date | undefined, now: Date): Date {
    const stored = this.startTime();
    if (stored === undefined) {
      const start = requested ?? new Date(Math.floor(now.getTime() / 1000) * 1000);
      this.setMeta("start_time", String(start.getTime()));
      return start;
    }
    if (requested !== undefined && requested.getTime() !== stored.getTime()) {
      throw new StartTimeChangedError(stored, requested, this.path);
    }
    return stored;
  }

  engine(): Engine | undefined {
    return this.meta("engine") as Engine | undefined;
  }

  setEngine(engine: Engine): void {
    this.setMeta("engine", engine);
  }

  clusterName(): string | undefined {
    return this.meta("cluster");
  }

  setClusterName(name: string): void {
    this.setMeta("cluster", name);
  }

  /** The id of the last event known delivered before the state was lost; events up to it are skipped. */
  seekAfter(): string | undefined {
    return this.meta("seek_after_id");
  }

  setSeekAfter(eventId: string): void {
    this.setMeta("seek_after_id", eventId);
  }

  clearSeekAfter(): void {
    this.deleteMeta("seek_after_id");
  }

  /**
   * Forgets an export still looking for its cursor event. Nothing has been delivered since the
   * storage was lost (the first delivery clears the cursor in its transaction), so this loses
   * nothing, and a wrong cursor or start-time can still be corrected, as the not-found error says.
   */
  restartSeek(): void {
    this.db.transaction(() => {
      this.deleteMeta("seek_after_id");
      this.deleteMeta("start_time");
      this.db.query("DELETE FROM legacy_checkpoint").run();
    })();
  }

  lastDelivered(): { id: string; time: Date } | undefined {
    const id = this.meta("last_event_id");
    const time = this.meta("last_event_time");
    return id === undefined || time === undefined ? undefined : { id, time: new Date(Number(time)) };
  }

  totals(): { events: number; sessions: number; deadLettered: number; sessionsRefused: number } {
    return {
      events: this.counter("events_delivered"),
      sessions: this.counter("sessions_delivered"),
      deadLettered: this.counter("dead_lettered"),
      sessionsRefused: this.counter("sessions_refused"),
    };
  }

  // --- audit checkpoints -----------------------------------------------------------------------

  legacyCheckpoint(): LegacyCheckpoint | undefined {
    const row = this.db.query("SELECT window_start, page_key, last_event_id FROM legacy_checkpoint").get() as {
      window_start: number;
      page_key: string;
      last_event_id: string;
    } | null;
    return row ? { windowStart: new Date(row.window_start), pageKey: row.page_key, lastEventId: row.last_event_id } : undefined;
  }

  private writeLegacy(cp: LegacyCheckpoint): void {
    this.db
      .query(
        `INSERT INTO legacy_checkpoint (singleton, window_start, page_key, last_event_id) VALUES (1, ?, ?, ?)
         ON CONFLICT(singleton) DO UPDATE SET window_start = excluded.window_start, page_key = excluded.page_key, last_event_id = excluded.last_event_id`,
      )
      .run(cp.windowStart.getTime(), cp.pageKey, cp.lastEventId);
  }

  /** Records legacy progress through events that were all filtered out (nothing to deliver). */
  saveLegacyCheckpoint(cp: LegacyCheckpoint): void {
    this.write(() => this.writeLegacy(cp));
  }

  bulkDates(): string[] {
    return (this.db.query("SELECT date FROM bulk_dates ORDER BY date").all() as { date: string }[]).map((r) => r.date);
  }

  addBulkDate(date: string): void {
    this.db.query("INSERT OR IGNORE INTO bulk_dates (date) VALUES (?)").run(date);
  }

  /** Forgets a date that left the backlog, with its chunk records. */
  dropBulkDate(date: string): void {
    this.db.transaction(() => {
      this.db.query("DELETE FROM bulk_chunks WHERE date = ?").run(date);
      this.db.query("DELETE FROM bulk_dates WHERE date = ?").run(date);
    })();
  }

  chunks(date: string): ChunkProgress[] {
    const rows = this.db.query("SELECT date, chunk, cursor, completed FROM bulk_chunks WHERE date = ?").all(date) as {
      date: string;
      chunk: string;
      cursor: string;
      completed: number;
    }[];
    return rows.map((r) => ({ date: r.date, chunk: r.chunk, cursor: r.cursor, completed: r.completed === 1 }));
  }

  private writeChunk(p: ChunkProgress): void {
    this.db
      .query(
        `INSERT INTO bulk_chunks (date, chunk, cursor, completed) VALUES (?, ?, ?, ?)
         ON CONFLICT(date, chunk) DO UPDATE SET cursor = excluded.cursor, completed = excluded.completed`,
      )
      .run(p.date, p.chunk, p.cursor, p.completed ? 1 : 0);
  }

  /** Records chunk progress without deliveries (filtered events, or the end of the stream). */
  saveChunk(p: ChunkProgress): void {
    this.write(() => this.writeChunk(p));
  }

  /**
   * The one write that follows a sink acknowledgement: position, queued sessions, dead letters,
   * counters and whatever `inTransaction` adds (auto-locking) commit together or not at all.
   */
  commitAudit(commit: AuditCommit, inTransaction?: (event: AuditEvent) => void): void {
    this.write(() => this.db.transaction(() => {
      if (commit.legacy) this.writeLegacy(commit.legacy);
      if (commit.chunk) this.writeChunk(commit.chunk);
      for (const s of commit.sessions) this.enqueueSession(s);
      this.writeDeadLetters(commit.deadLetters);
      if (commit.seekFinished) this.deleteMeta("seek_after_id");
      const last = commit.delivered.at(-1);
      if (last) {
        this.setMeta("last_event_id", last.id);
        this.setMeta("last_event_time", String(last.time.getTime()));
      }
      this.addToCounter("events_delivered", commit.delivered.length);
      this.addToCounter("sessions_refused", commit.refusedSessions ?? 0);
      if (inTransaction) for (const e of commit.delivered) inTransaction(e);
    })());
  }

  // --- sessions ------------------------------------------------------------------------------

  private enqueueSession(s: SessionUpload): void {
    // A repeated upload event (duplicate delivery) must not rewind a session already in progress.
    this.db
      .query("INSERT OR IGNORE INTO sessions (sid, next_index, upload_time, attempts, status, not_before) VALUES (?, 0, ?, 0, 'pending', 0)")
      .run(s.sid, s.uploadTime.getTime());
  }

  /** Sessions ready to stream now, oldest upload first. */
  readySessions(now: Date, limit: number): SessionRow[] {
    const rows = this.db
      .query("SELECT * FROM sessions WHERE status = 'pending' AND not_before <= ? ORDER BY upload_time LIMIT ?")
      .all(now.getTime(), limit) as SessionDbRow[];
    return rows.map(toSession);
  }

  /** Missing recordings due for another look. */
  dueMissingSessions(now: Date): SessionRow[] {
    const rows = this.db
      .query("SELECT * FROM sessions WHERE status = 'missing' AND not_before <= ? ORDER BY upload_time")
      .all(now.getTime()) as SessionDbRow[];
    return rows.map(toSession);
  }

  session(sid: string): SessionRow | undefined {
    const row = this.db.query("SELECT * FROM sessions WHERE sid = ?").get(sid) as SessionDbRow | null;
    return row ? toSession(row) : undefined;
  }

  sessions(status?: SessionStatus): SessionRow[] {
    const rows = (
      status === undefined
        ? this.db.query("SELECT * FROM sessions ORDER BY upload_time").all()
        : this.db.query("SELECT * FROM sessions WHERE status = ? ORDER BY upload_time").all(status)
    ) as SessionDbRow[];
    return rows.map(toSession);
  }

  countSessions(status: SessionStatus): number {
    return (this.db.query("SELECT count(*) AS n FROM sessions WHERE status = ?").get(status) as { n: number }).n;
  }

  /** After an acknowledged batch of recording events: resume from `nextIndex` (inclusive). */
  commitSessionProgress(sid: string, nextIndex: number, deadLetters: readonly DeadLetter[]): void {
    this.write(() => this.db.transaction(() => {
      this.db.query("UPDATE sessions SET next_index = ? WHERE sid = ?").run(nextIndex, sid);
      this.writeDeadLetters(deadLetters);
    })());
  }

  sessionDelivered(sid: string): void {
    this.db.transaction(() => {
      this.db.query("DELETE FROM sessions WHERE sid = ?").run(sid);
      this.addToCounter("sessions_delivered", 1);
    })();
  }

  /** Parks a session: `missing` is retried after `notBefore`, `given-up` never again. */
  parkSession(sid: string, status: "missing" | "given-up", attempts: number, notBefore: Date): void {
    this.db.query("UPDATE sessions SET status = ?, attempts = ?, not_before = ? WHERE sid = ?").run(status, attempts, notBefore.getTime(), sid);
  }

  /** Puts a session back in the queue, not to be tried before `notBefore`. */
  retrySessionLater(sid: string, notBefore: Date): void {
    this.db.query("UPDATE sessions SET status = 'pending', not_before = ? WHERE sid = ?").run(notBefore.getTime(), sid);
  }

  // --- dead letters --------------------------------------------------------------------------

  private writeDeadLetters(letters: readonly DeadLetter[]): void {
    if (letters.length === 0) return;
    this.insertDeadLetters(letters);
    this.addToCounter("dead_lettered", letters.length);
  }

  private insertDeadLetters(letters: readonly DeadLetter[]): void {
    const insert = this.db.query("INSERT INTO dead_letters (event_id, url, status, reason, body, time) VALUES (?, ?, ?, ?, ?, ?)");
    const now = Date.now();
    for (const d of letters) insert.run(d.record.id, d.url, d.status, d.reason, d.record.body, now);
  }

  deadLetters(limit = -1): StoredDeadLetter[] {
    const rows = this.db.query("SELECT * FROM dead_letters ORDER BY id LIMIT ?").all(limit) as {
      id: number;
      event_id: string;
      url: string;
      status: number;
      reason: string;
      body: string;
      time: number;
    }[];
    return rows.map((r) => ({ id: r.id, eventId: r.event_id, url: r.url, status: r.status, reason: r.reason, body: r.body, time: new Date(r.time) }));
  }

  countDeadLetters(): number {
    return (this.db.query("SELECT count(*) AS n FROM dead_letters").get() as { n: number }).n;
  }

  /** Removes resent letters; failed resends come back as new rows with their new status. */
  replaceDeadLetters(resolvedIds: readonly number[], stillDead: readonly DeadLetter[]): void {
    this.db.transaction(() => {
      const del = this.db.query("DELETE FROM dead_letters WHERE id = ?");
      for (const id of resolvedIds) del.run(id);
      this.insertDeadLetters(stillDead);
    })();
  }

  purgeDeadLetters(): number {
    return this.db.query("DELETE FROM dead_letters").run().changes;
  }

  // --- auto-locking ---------------------------------------------------------------------------

  /** Auto-locking's tables, on this connection (so writes from the delivery hook join its transaction). */
  get locking(): LockState {
    this.lockState ??= new LockState(this.db);
    return this.lockState;
  }
}
