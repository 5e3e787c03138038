import type { Database } from "bun:sqlite";
import type { DeadLetter } from "../fluentd/types.ts";
import type { AuditEvent } from "../teleport/types.ts";
import { LockState } from "./autolock-tables.ts";
import { type AuditPosition, CheckpointState } from "./checkpoint-tables.ts";
import { openDatabase } from "./database.ts";
import { DeadLetterState } from "./dead-letter-table.ts";
import { DigestState } from "./digest-table.ts";
import { LateState } from "./late-tables.ts";
import { MetaState } from "./meta-table.ts";
import { RepairState } from "./repair-table.ts";
import { SessionQueueState, type SessionUpload } from "./session-table.ts";

/** What one acknowledged audit batch changes, written atomically. */
export interface AuditCommit {
  position: AuditPosition;
  /** Events the sink acknowledged (dead letters excluded), in delivery order. */
  delivered: readonly AuditEvent[];
  sessions: readonly SessionUpload[];
  deadLetters: readonly DeadLetter[];
  /** Uploads whose session id was refused (not a UUID): counted, never queued. */
  refusedSessions?: number;
  /** Read again by a late-event sweep. */
  late?: boolean;
}

/**
 * The export's durable state for one Teleport cluster, one room per concern on one connection.
 * Every method is one statement or one transaction, so whatever the process dies in the middle
 * of, the database holds either the state before or after a delivered batch, never a mix.
 */
export class StateStore {
  readonly meta: MetaState;
  readonly checkpoints: CheckpointState;
  readonly deadLetters: DeadLetterState;
  readonly sessions: SessionQueueState;
  /** Auto-locking's tables, on this connection, so its writes can join an audit commit. */
  readonly locking: LockState;
  readonly late: LateState;
  readonly digests: DigestState;
  readonly repairs: RepairState;

  private constructor(
    private readonly db: Database,
    path: string,
  ) {
    this.meta = new MetaState(db, path);
    this.checkpoints = new CheckpointState(db);
    this.deadLetters = new DeadLetterState(db, this.meta);
    this.sessions = new SessionQueueState(db, this.meta, this.deadLetters);
    this.locking = new LockState(db);
    this.late = new LateState(db);
    this.digests = new DigestState(db);
    this.repairs = new RepairState(db);
  }

  static open(path: string, opts: { create?: boolean; readonly?: boolean } = {}): StateStore {
    return new StateStore(openDatabase(path, { create: opts.create ?? true, readonly: opts.readonly }), path);
  }

  /** How many migrations the file has had: an instance of this version migrated it to SCHEMA_VERSION at its start. */
  schemaVersion(): number {
    return (this.db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
  }

  close(): void {
    this.db.close();
  }

  /** Runs `fn` as one transaction (nested ones become savepoints): all its writes commit or none. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /**
   * The audit log's part of an acknowledgement: position, queued sessions, dead letters, the last
   * event and the totals, together or not at all.
   */
  commitAudit(commit: AuditCommit): void {
    this.transaction(() => {
      this.checkpoints.write(commit.position);
      for (const s of commit.sessions) this.sessions.enqueue(s);
      this.deadLetters.add(commit.deadLetters);
      if (commit.position.kind === "legacy" && commit.position.seekFinished) this.meta.clearSeekAfter();
      if (commit.position.kind === "legacy" && commit.position.sweep) this.late.apply(commit.position.sweep);
      if (commit.position.kind === "repair") {
        const { repair } = commit.position;
        // The hour goes out whole again: its digest is rebuilt from this batch on (the ledger adds to it).
        if (repair.reset) this.digests.forget(repair.hour);
        this.repairs.progress(repair, commit.delivered.length, Date.now());
      }
      const last = commit.delivered.at(-1);
      // A repaired event is old: the last delivered event (how far the export got) stays where it is.
      if (last && commit.position.kind !== "repair") this.meta.setLastDelivered(last);
      this.meta.addToTotal("events_delivered", commit.delivered.length);
      this.meta.addToTotal("sessions_refused", commit.refusedSessions ?? 0);
    });
  }

  /**
   * Forgets an export still looking for its cursor event. Nothing has been delivered since the
   * storage was lost (the first delivery clears the cursor in its transaction), so this loses
   * nothing, and a wrong cursor or start-time can still be corrected, as the not-found error says.
   */
  restartSeek(): void {
    this.transaction(() => {
      this.meta.clearSeekAfter();
      this.meta.clearStartTime();
      this.checkpoints.clearLegacyCheckpoint();
    });
  }
}
