import type { DeadLetter } from "../fluentd/types.ts";
import { countStateErrors, lateEventsFound, recordDelivered, streamMetrics } from "../observability/metrics.ts";
import type { AuditCommit, StateStore } from "../state/index.ts";
import type { AuditEvent } from "../teleport/types.ts";
import { deadLetterLog } from "./dead-letter-log.ts";
import type { ExportStats } from "./stats.ts";

/**
 * A part of the handler that commits with every acknowledged audit batch (auto-locking), the way
 * a listener joins beats' acker chain: the export calls it, the state store does not know it.
 */
export interface CommitParticipant {
  /**
   * Inside the checkpoint transaction: what it writes is durable exactly when the batch is, and a
   * crash replays neither. Throwing rolls the whole batch back.
   */
  inCommit(delivered: readonly AuditEvent[], commit: AuditCommit): void;
  /** After the transaction committed (wake a worker that reads what `inCommit` wrote). */
  committed?(): void;
}

/** Commits an acknowledged audit batch and every participant's writes in one transaction. */
export function commitAuditBatch(state: StateStore, commit: AuditCommit, participants: readonly CommitParticipant[]): void {
  countStateErrors(() =>
    state.transaction(() => {
      state.commitAudit(commit);
      for (const p of participants) p.inCommit(commit.delivered, commit);
    }),
  );
  for (const p of participants) p.committed?.();
}

/** Reports dead letters through the process's rate-limited dead-letter log (never the bodies). */
export function logDeadLetters(letters: readonly DeadLetter[]): void {
  deadLetterLog.note(letters);
}

/** One acknowledged sink call, as the accounting sees it. */
export interface BatchOutcome {
  /** Records the sink acknowledged (dead letters excluded). */
  delivered: number;
  /** Of those, audit events a late-event sweep found. */
  late?: number;
  /** Time of the newest delivered audit event (the lag). */
  newest?: Date;
  deadLettered: readonly DeadLetter[];
  retried: number;
}

/**
 * The accounting of one committed batch of either stream: the run's stats (summary, progress
 * line), the Prometheus counters and the dead-letter log all move here and only here.
 */
export function recordBatch(stream: "audit" | "session", stats: ExportStats, batch: BatchOutcome): void {
  logDeadLetters(batch.deadLettered);
  const metrics = streamMetrics[stream];
  metrics.retried.inc(batch.retried);
  metrics.deadLettered.inc(batch.deadLettered.length);
  recordDelivered(stream, batch.delivered, batch.newest);
  stats.deadLettered += batch.deadLettered.length;
  if (stream === "audit") {
    stats.eventsDelivered += batch.delivered;
    stats.lateEvents += batch.late ?? 0;
    lateEventsFound.inc(batch.late ?? 0);
    if (batch.newest) stats.lastEventTime = batch.newest;
  }
}
