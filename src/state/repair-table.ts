import type { Database } from "bun:sqlite";
import { createHash } from "node:crypto";

/** What one hour of a repair asks for, and how far it got. */
export interface RepairHour {
  /** Hours since the epoch (UTC). */
  hour: number;
  /** "missing": only `ids` (they were kept); "whole": every event of the hour again. */
  mode: "missing" | "whole";
  ids?: string[];
  /**
   * The hour's delivery digest verify compared (null: none) and the filters verify judged with:
   * the request is only served against that state, so serving it twice cannot send twice.
   */
  seen: { count: number; digest: string } | null;
  filters: string;
  sent: number;
  done: boolean;
  /** Why the hour was not served (the state moved on since verify read it). */
  skipped?: string;
}

export type RepairStatus = "pending" | "running" | "done" | "withdrawn";

export interface RepairRequest {
  id: number;
  status: RepairStatus;
  hours: RepairHour[];
}

/** One acknowledged batch of a repair: which request and hour, the ids it handled (sent or dead-lettered), and whether the hour is finished. */
export interface RepairProgress {
  request: number;
  hour: number;
  handled: readonly string[];
  done: boolean;
  /** The first batch of a whole hour sent again: the hour's progress (and digest) start over. */
  reset: boolean;
}

/**
 * Repair requests: `verify --repair` writes one while `start` runs (the instance lock is taken),
 * the running instance serves it through its acknowledged delivery path and writes the outcome
 * back. Pending and running requests survive restarts: the next start serves them.
 */
export class RepairState {
  constructor(private readonly db: Database) {}

  /** Queues a request, or returns the active one that asks the same (so asking twice sends once). */
  request(hours: readonly Omit<RepairHour, "sent" | "done">[], now: number): { id: number; queued: boolean } {
    const ask = hours.map((h) => ({ ...h, ids: h.ids ? [...h.ids].sort() : undefined }));
    const key = createHash("sha256").update(JSON.stringify(ask)).digest("hex");
    return this.db.transaction(() => {
      const active = this.db.query("SELECT id FROM repair_requests WHERE key = ? AND status IN ('pending', 'running')").get(key) as { id: number } | null;
      if (active) return { id: active.id, queued: false };
      const row = this.db
        .query("INSERT INTO repair_requests (key, hours, status, created_at, updated_at) VALUES (?, ?, 'pending', ?, ?) RETURNING id")
        .get(key, JSON.stringify(ask.map((h) => ({ ...h, sent: 0, done: false }))), now, now) as { id: number };
      return { id: row.id, queued: true };
    })();
  }

  get(id: number): RepairRequest | undefined {
    const row = this.db.query("SELECT id, status, hours FROM repair_requests WHERE id = ?").get(id) as { id: number; status: RepairStatus; hours: string } | null;
    return row ? { id: row.id, status: row.status, hours: JSON.parse(row.hours) as RepairHour[] } : undefined;
  }

  /** The oldest request still to serve (one a crash interrupted first). */
  next(): RepairRequest | undefined {
    const row = this.db.query("SELECT id FROM repair_requests WHERE status IN ('pending', 'running') ORDER BY status = 'pending', id LIMIT 1").get() as {
      id: number;
    } | null;
    return row ? this.get(row.id) : undefined;
  }

  /** Taken by the running instance: from now on verify can no longer withdraw it. */
  start(id: number, hours: readonly RepairHour[], now: number): void {
    this.db.query("UPDATE repair_requests SET status = 'running', hours = ?, updated_at = ? WHERE id = ? AND status = 'pending'").run(JSON.stringify(hours), now, id);
  }

  /** Part of an acknowledgement (see `StateStore.commitAudit`). */
  progress(p: RepairProgress, sent: number, now: number): void {
    const req = this.get(p.request);
    const h = req?.hours.find((x) => x.hour === p.hour);
    if (!req || !h) return;
    h.sent = (p.reset ? 0 : h.sent) + sent;
    if (h.ids) {
      const handled = new Set(p.handled);
      h.ids = h.ids.filter((id) => !handled.has(id));
    }
    h.done ||= p.done;
    this.db.query("UPDATE repair_requests SET hours = ?, updated_at = ? WHERE id = ?").run(JSON.stringify(req.hours), now, p.request);
  }

  finish(id: number, now: number): void {
    this.db.query("UPDATE repair_requests SET status = 'done', updated_at = ? WHERE id = ? AND status = 'running'").run(now, id);
  }

  /** Withdraws a request nobody took; false once an instance is serving it. */
  withdraw(id: number, now: number): boolean {
    return this.db.query("UPDATE repair_requests SET status = 'withdrawn', updated_at = ? WHERE id = ? AND status = 'pending'").run(now, id).changes > 0;
  }

  pending(): number {
    return (this.db.query("SELECT count(*) AS n FROM repair_requests WHERE status IN ('pending', 'running')").get() as { n: number }).n;
  }
}
