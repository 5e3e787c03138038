import type { Database } from "bun:sqlite";

/** A stretch of event time the legacy engine has read once, and when it finished reading it. */
export interface ReadSlice {
  from: Date;
  to: Date;
  readAt: Date;
}

/** A slice whose next re-read is due; `next` indexes late-event-delays. */
export interface DueSweep {
  from: Date;
  to: Date;
  next: number;
}

/** What one acknowledged batch changes in the sweep schedule (it travels with the legacy position). */
export interface SweepProgress {
  /** Slices read to their end by this batch's reads: schedule their sweeps. */
  read: ReadSlice[];
  /** Sweeps whose re-read this batch completes; `last` when it was the slice's final one. */
  swept: { from: Date; next: number; last: boolean }[];
}

/**
 * Late-event sweeps (legacy engine): the slices still to be read again, with the next delay due,
 * and the ids of events delivered in them, so a sweep delivers only what was not delivered
 * before. Ids are only kept while a sweep of their slice is pending (the longest delay plus the
 * time to read it), so the table follows the delays, not the backlog.
 */
export class LateState {
  constructor(private readonly db: Database) {}

  /** Where the next slice begins: the end of the last one scheduled. */
  frontier(): Date | undefined {
    const row = this.db.query("SELECT value FROM meta WHERE key = 'late_frontier'").get() as { value: string } | null;
    return row ? new Date(Number(row.value)) : undefined;
  }

  /** Part of an acknowledgement (see `StateStore.commitAudit`). */
  apply(progress: SweepProgress): void {
    const insert = this.db.query("INSERT OR IGNORE INTO late_sweeps (slice_from, slice_to, read_at, next) VALUES (?, ?, ?, 0)");
    for (const s of progress.read) {
      insert.run(s.from.getTime(), s.to.getTime(), s.readAt.getTime());
      this.db
        .query(
          `INSERT INTO meta (key, value) VALUES ('late_frontier', ?)
           ON CONFLICT(key) DO UPDATE SET value = CAST(max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER)) AS TEXT)`,
        )
        .run(String(s.to.getTime()));
    }
    for (const s of progress.swept) {
      if (s.last) this.db.query("DELETE FROM late_sweeps WHERE slice_from = ?").run(s.from.getTime());
      else this.db.query("UPDATE late_sweeps SET next = max(next, ?) WHERE slice_from = ?").run(s.next, s.from.getTime());
    }
    if (progress.swept.some((s) => s.last)) this.pruneIds();
  }

  /** Sweeps due at `now`, oldest slice first; a sweep past the end of `delaysMs` (the list shrank) is dropped. */
  due(now: number, delaysMs: readonly number[]): DueSweep[] {
    this.db.query("DELETE FROM late_sweeps WHERE next >= ?").run(delaysMs.length);
    const rows = this.db.query("SELECT slice_from, slice_to, read_at, next FROM late_sweeps ORDER BY slice_from").all() as {
      slice_from: number;
      slice_to: number;
      read_at: number;
      next: number;
    }[];
    const due: DueSweep[] = [];
    for (const r of rows) {
      if (r.read_at + delaysMs[r.next]! > now) continue;
      due.push({ from: new Date(r.slice_from), to: new Date(r.slice_to), next: r.next });
    }
    return due;
  }

  pending(): number {
    return (this.db.query("SELECT count(*) AS n FROM late_sweeps").get() as { n: number }).n;
  }

  rememberDelivered(events: readonly { id: string; time: Date }[]): void {
    const insert = this.db.query("INSERT OR IGNORE INTO delivered_ids (id, event_time) VALUES (?, ?)");
    for (const e of events) insert.run(e.id, e.time.getTime());
  }

  /**
   * The ids among `ids` that are known delivered. One statement for the whole list: outside a
   * transaction every statement opens a read of the WAL of its own, and one per id cost ~10 µs an
   * event, a tenth of the export's CPU.
   */
  delivered(ids: readonly string[]): Set<string> {
    if (ids.length === 0) return new Set();
    const rows = this.db.query("SELECT id FROM delivered_ids WHERE id IN (SELECT value FROM json_each(?))").values(JSON.stringify(ids));
    return new Set(rows.map((r) => r[0] as string));
  }

  /** The kept ids of events in [from, to), and how many. */
  idsBetween(from: Date, to: Date): Set<string> {
    const rows = this.db.query("SELECT id FROM delivered_ids WHERE event_time >= ? AND event_time < ?").all(from.getTime(), to.getTime()) as {
      id: string;
    }[];
    return new Set(rows.map((r) => r.id));
  }

  /** Ids before the oldest slice still to sweep (or the frontier) are no longer needed. */
  private pruneIds(): void {
    const oldest = this.db.query("SELECT min(slice_from) AS t FROM late_sweeps").get() as { t: number | null };
    const until = oldest.t ?? this.frontier()?.getTime();
    if (until !== undefined) this.db.query("DELETE FROM delivered_ids WHERE event_time < ?").run(until);
  }

  /** Sweeps turned off: nothing is scheduled and no id needs keeping. */
  clear(): void {
    this.db.query("DELETE FROM late_sweeps").run();
    this.db.query("DELETE FROM delivered_ids").run();
    this.db.query("DELETE FROM meta WHERE key = 'late_frontier'").run();
  }
}
