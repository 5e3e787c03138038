import type { Database } from "bun:sqlite";
import type { DeadLetter } from "../fluentd/types.ts";
import type { MetaState } from "./meta-table.ts";

export interface StoredDeadLetter {
  id: number;
  eventId: string;
  url: string;
  status: number;
  reason: string;
  body: string;
  time: Date;
}

/** Records Fluentd rejected permanently, kept for `dead-letters retry`, and counted in the totals. */
export class DeadLetterState {
  constructor(
    private readonly db: Database,
    private readonly meta: MetaState,
  ) {}

  /** Part of an acknowledgement: the letters join the totals. */
  add(letters: readonly DeadLetter[]): void {
    if (letters.length === 0) return;
    this.insert(letters);
    this.meta.addToTotal("dead_lettered", letters.length);
  }

  private insert(letters: readonly DeadLetter[]): void {
    const insert = this.db.query("INSERT INTO dead_letters (event_id, url, status, reason, body, time) VALUES (?, ?, ?, ?, ?, ?)");
    const now = Date.now();
    for (const d of letters) insert.run(d.record.id, d.url, d.status, d.reason, d.record.body, now);
  }

  list(limit = -1): StoredDeadLetter[] {
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

  count(): number {
    return (this.db.query("SELECT count(*) AS n FROM dead_letters").get() as { n: number }).n;
  }

  /** Removes resent letters; failed resends come back as new rows with their new status (already counted once). */
  replace(resolvedIds: readonly number[], stillDead: readonly DeadLetter[]): void {
    this.db.transaction(() => {
      const del = this.db.query("DELETE FROM dead_letters WHERE id = ?");
      for (const id of resolvedIds) del.run(id);
      this.insert(stillDead);
    })();
  }

  purge(): number {
    return this.db.query("DELETE FROM dead_letters").run().changes;
  }
}
