import type { Database } from "bun:sqlite";

export const HOUR_MS = 3_600_000;
const MASK = (1n << 64n) - 1n;

/** One UTC hour of deliveries: how many, the sum of their ids' 64-bit hashes, the filters in force. */
export interface HourDigest {
  hour: Date;
  count: number;
  digest: bigint;
  /** The filter fingerprint of every delivery in the hour, or "mixed" when it changed within it. */
  filters: string;
}

/** Order-independent: the sum modulo 2^64 of each id's xxHash64, so any delivery order gives the same digest. */
export function idDigest(ids: Iterable<string>): { count: number; digest: bigint } {
  let digest = 0n;
  let count = 0;
  for (const id of ids) {
    digest = (digest + BigInt(Bun.hash.xxHash64(id))) & MASK;
    count++;
  }
  return { count, digest };
}

export function hourOf(t: Date): number {
  return Math.floor(t.getTime() / HOUR_MS);
}

/**
 * Per-hour delivery digests, what `verify` compares against Teleport. A few bytes per hour, written
 * in the checkpoint's transaction, so they count exactly what was acknowledged.
 */
export class DigestState {
  constructor(private readonly db: Database) {}

  add(events: readonly { id: string; time: Date }[], filters: string): void {
    const byHour = new Map<number, string[]>();
    for (const e of events) {
      const h = hourOf(e.time);
      const ids = byHour.get(h);
      if (ids) ids.push(e.id);
      else byHour.set(h, [e.id]);
    }
    for (const [hour, ids] of byHour) {
      const row = this.row(hour);
      const add = idDigest(ids);
      const count = (row?.count ?? 0) + add.count;
      const digest = ((row?.digest ?? 0n) + add.digest) & MASK;
      const fp = row === undefined || row.filters === filters ? filters : "mixed";
      this.write(hour, count, digest, fp);
    }
  }

  /** After a whole hour was delivered again (`verify --repair`): it now holds what Teleport holds. */
  replace(hour: number, count: number, digest: bigint, filters: string): void {
    this.write(hour, count, digest, filters);
  }

  /** Before a whole hour is delivered again batch by batch (a repair the running instance serves). */
  forget(hour: number): void {
    this.db.query("DELETE FROM hour_digests WHERE hour = ?").run(hour);
  }

  private write(hour: number, count: number, digest: bigint, filters: string): void {
    this.db
      .query(
        `INSERT INTO hour_digests (hour, count, digest, filters) VALUES (?, ?, ?, ?)
         ON CONFLICT(hour) DO UPDATE SET count = excluded.count, digest = excluded.digest, filters = excluded.filters`,
      )
      .run(hour, count, digest.toString(16), filters);
  }

  private row(hour: number): HourDigest | undefined {
    const r = this.db.query("SELECT hour, count, digest, filters FROM hour_digests WHERE hour = ?").get(hour) as {
      hour: number;
      count: number;
      digest: string;
      filters: string;
    } | null;
    return r ? { hour: new Date(r.hour * HOUR_MS), count: r.count, digest: BigInt(`0x${r.digest}`), filters: r.filters } : undefined;
  }

  /** The digests of the hours in [from, to), by hour number. */
  between(from: Date, to: Date): Map<number, HourDigest> {
    const rows = this.db
      .query("SELECT hour FROM hour_digests WHERE hour >= ? AND hour < ? ORDER BY hour")
      .all(hourOf(from), Math.ceil(to.getTime() / HOUR_MS)) as { hour: number }[];
    return new Map(rows.map((r) => [r.hour, this.row(r.hour)!]));
  }

  /** Forgets hours before `before` (digest-retention-days). */
  prune(before: Date): void {
    this.db.query("DELETE FROM hour_digests WHERE hour < ?").run(hourOf(before));
  }
}
