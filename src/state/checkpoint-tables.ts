import type { Database } from "bun:sqlite";
import type { SweepProgress } from "./late-tables.ts";
import type { RepairProgress } from "./repair-table.ts";

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

/**
 * Where an audit engine resumes once a batch is acknowledged: each engine has its own kind, so a
 * position is always exactly one of them. `seekFinished`: the cursor event (see
 * `MetaState.seekAfter`) was found, so skipping ends with this batch (legacy only: bulk export has
 * no event order to seek in). `sweep`: late-event sweeps scheduled or completed by the batch
 * (legacy only), so the schedule moves exactly when the deliveries it stands for are acknowledged.
 * `repair`: a batch a repair request re-delivers, off either engine's position, which it never moves.
 */
export type AuditPosition =
  | {
      kind: "legacy";
      checkpoint: LegacyCheckpoint;
      seekFinished: boolean;
      sweep?: SweepProgress;
      /**
       * When the earliest of its events was read (ms): which of them a sweep can still read again
       * depends on that, not on when Fluentd acknowledged them (see export/ledger.ts). Not stored.
       */
      readAt?: number;
    }
  | { kind: "chunk"; progress: ChunkProgress }
  | { kind: "repair"; repair: RepairProgress };

/** The audit engines' positions: the legacy checkpoint, and the bulk engine's dates and chunks. */
export class CheckpointState {
  constructor(private readonly db: Database) {}

  legacyCheckpoint(): LegacyCheckpoint | undefined {
    const row = this.db.query("SELECT window_start, page_key, last_event_id FROM legacy_checkpoint").get() as {
      window_start: number;
      page_key: string;
      last_event_id: string;
    } | null;
    return row ? { windowStart: new Date(row.window_start), pageKey: row.page_key, lastEventId: row.last_event_id } : undefined;
  }

  clearLegacyCheckpoint(): void {
    this.db.query("DELETE FROM legacy_checkpoint").run();
  }

  write(position: AuditPosition): void {
    if (position.kind === "legacy") this.writeLegacy(position.checkpoint);
    else if (position.kind === "chunk") this.writeChunk(position.progress);
  }

  private writeLegacy(cp: LegacyCheckpoint): void {
    this.db
      .query(
        `INSERT INTO legacy_checkpoint (singleton, window_start, page_key, last_event_id) VALUES (1, ?, ?, ?)
         ON CONFLICT(singleton) DO UPDATE SET window_start = excluded.window_start, page_key = excluded.page_key, last_event_id = excluded.last_event_id`,
      )
      .run(cp.windowStart.getTime(), cp.pageKey, cp.lastEventId);
  }

  private writeChunk(p: ChunkProgress): void {
    this.db
      .query(
        `INSERT INTO bulk_chunks (date, chunk, cursor, completed) VALUES (?, ?, ?, ?)
         ON CONFLICT(date, chunk) DO UPDATE SET cursor = excluded.cursor, completed = excluded.completed`,
      )
      .run(p.date, p.chunk, p.cursor, p.completed ? 1 : 0);
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
}
