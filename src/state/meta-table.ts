import type { Database } from "bun:sqlite";
import { UserError } from "../errors.ts";

export type Engine = "legacy" | "bulk";

/** The user changed start-time mid-export: they remove the setting or restart from scratch. */
export class StartTimeChangedError extends UserError {
  constructor(stored: Date, requested: Date, dbPath: string, importedFrom?: string) {
    const origin = importedFrom ? ` (imported from the Go tool's state in ${importedFrom})` : "";
    // Deleting only our file would import the Go state again at the next start.
    const restart = importedFrom ? `delete ${dbPath} and move ${importedFrom} away` : `delete ${dbPath}`;
    super(
      `start-time ${requested.toISOString()} differs from ${stored.toISOString()} stored in ${dbPath}${origin}; the start time cannot change in the middle of an export: remove start-time to continue, or ${restart} to restart the export from scratch`,
    );
  }
}

/** The delivery totals kept across runs (what `status` reports). */
export type TotalName = "events_delivered" | "sessions_delivered" | "dead_lettered" | "sessions_refused";

/**
 * The export's settings and totals, one key-value table: the start time, the engine chosen, the
 * cluster, the cursor still being looked for, the last event delivered and the delivery totals.
 */
export class MetaState {
  constructor(
    private readonly db: Database,
    private readonly path: string,
  ) {}

  private get(key: string): string | undefined {
    const row = this.db.query("SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | null;
    return row?.value;
  }

  private set(key: string, value: string): void {
    this.db.query("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(key, value);
  }

  private delete(key: string): void {
    this.db.query("DELETE FROM meta WHERE key = ?").run(key);
  }

  addToTotal(name: TotalName, n: number): void {
    if (n === 0) return;
    this.db
      .query("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + excluded.value")
      .run(name, String(n));
  }

  private total(name: TotalName): number {
    return Number(this.get(name) ?? 0);
  }

  /** True before the first run stored anything: the only time `cursor` may be honoured. */
  isEmpty(): boolean {
    return this.get("start_time") === undefined;
  }

  startTime(): Date | undefined {
    const value = this.get("start_time");
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
      this.set("start_time", String(start.getTime()));
      return start;
    }
    if (requested !== undefined && requested.getTime() !== stored.getTime()) {
      throw new StartTimeChangedError(stored, requested, this.path, this.goImport()?.dir);
    }
    return stored;
  }

  /** Forgets the start time: only while the cursor is still being looked for (see `StateStore.restartSeek`). */
  clearStartTime(): void {
    this.delete("start_time");
  }

  /** Where the position came from, when it was imported from the Go tool's state. */
  goImport(): { dir: string; at: Date } | undefined {
    const value = this.get("go_import");
    if (value === undefined) return undefined;
    const { dir, at } = JSON.parse(value) as { dir: string; at: number };
    return { dir, at: new Date(at) };
  }

  /** Records the import, so that it runs once (see state/go-import). */
  setGoImport(dir: string, at: Date): void {
    this.set("go_import", JSON.stringify({ dir, at: at.getTime() }));
  }

  engine(): Engine | undefined {
    return this.get("engine") as Engine | undefined;
  }

  setEngine(engine: Engine): void {
    this.set("engine", engine);
  }

  clusterName(): string | undefined {
    return this.get("cluster");
  }

  setClusterName(name: string): void {
    this.set("cluster", name);
  }

  /** The id of the last event known delivered before the state was lost; events up to it are skipped. */
  seekAfter(): string | undefined {
    return this.get("seek_after_id");
  }

  setSeekAfter(eventId: string): void {
    this.set("seek_after_id", eventId);
  }

  clearSeekAfter(): void {
    this.delete("seek_after_id");
  }

  lastDelivered(): { id: string; time: Date } | undefined {
    const id = this.get("last_event_id");
    const time = this.get("last_event_time");
    return id === undefined || time === undefined ? undefined : { id, time: new Date(Number(time)) };
  }

  setLastDelivered(event: { id: string; time: Date }): void {
    this.set("last_event_id", event.id);
    this.set("last_event_time", String(event.time.getTime()));
  }

  /**
   * Why Fluentd deliveries are failing, written by the running instance (and left by a run that
   * ended on exit-timeout), so `status` can tell a stalled export from a quiet cluster.
   */
  deliveryFailure(): { since: Date; reason: string } | undefined {
    const since = this.get("delivery_failing_since");
    return since === undefined ? undefined : { since: new Date(Number(since)), reason: this.get("delivery_failure") ?? "" };
  }

  setDeliveryFailure(failure: { since: Date; reason: string } | undefined): void {
    this.db.transaction(() => {
      if (!failure) {
        this.delete("delivery_failing_since");
        this.delete("delivery_failure");
        return;
      }
      this.set("delivery_failing_since", String(failure.since.getTime()));
      // Network error text: bounded before it is stored.
      this.set("delivery_failure", failure.reason.slice(0, 300));
    })();
  }

  totals(): { events: number; sessions: number; deadLettered: number; sessionsRefused: number } {
    return {
      events: this.total("events_delivered"),
      sessions: this.total("sessions_delivered"),
      deadLettered: this.total("dead_lettered"),
      sessionsRefused: this.total("sessions_refused"),
    };
  }
}
