import type { DeadLetter, FluentdSink } from "../fluentd/types.ts";
import type { AuditPosition, SessionUpload, StateStore } from "../state/index.ts";
import type { AuditEvent } from "../teleport/types.ts";
import { type CommitParticipant, commitAuditBatch, recordBatch } from "./acknowledge.ts";
import { quoteUntrusted } from "../lib/untrusted.ts";
import { logger } from "../logger.ts";
import { refusedSessions as refusedSessionsMetric } from "../observability/metrics.ts";
import { isSessionId, SESSION_UPLOAD, sessionIdOf, toRecord, unreadableLetter } from "./records.ts";
import type { BatchSender, SentBatch } from "./batches.ts";
import type { ExportStats } from "./stats.ts";

export interface SessionQueue {
  /** Resolves once the session backlog leaves room for more audit events. */
  waitForRoom(signal?: AbortSignal): Promise<void>;
  /** New sessions were committed. */
  wake(): void;
}

/**
 * Delivers audit batches to Fluentd and acknowledges them: the position only moves past what the
 * sink acknowledged or dead-lettered, in the same transaction as the sessions it enqueues and the
 * participants' writes. `send` hands a batch to the sink; the pipeline (batches.ts) calls `commit`
 * in batch order once it was acknowledged.
 */
export class AuditDelivery implements BatchSender {
  /**
   * The ids of each batch sent and not yet committed, while delivered ids are kept (see `send`).
   * One set per batch, dropped whole at its commit: a single process-long map of ids, added and
   * deleted batch by batch, measured ~15 MB more peak RSS over 50,000 events.
   */
  private readonly sending = new Set<ReadonlySet<string>>();

  constructor(
    private readonly deps: {
      sink: FluentdSink;
      state: StateStore;
      stats: ExportStats;
      url: string;
      sessions: SessionQueue;
      participants: readonly CommitParticipant[];
      /** Aborts in-flight deliveries (shutdown deadline), not the reading. */
      deliverySignal?: AbortSignal;
      /** Delivered ids are kept (late-event sweeps are on): never send one of them again. */
      dedupe?: boolean;
    },
  ) {}

  /**
   * `late`: the events were read again by a sweep. While ids are kept, those delivered before are
   * dropped here, when the batch is sent: those of committed batches are in the state, those of
   * batches still in flight in `sending` (batches are sent in order, and none commits after one
   * that fails). This also spares the duplicates of a page the walk reads again.
   */
  async send(all: readonly AuditEvent[], position: AuditPosition, late = false, signal?: AbortSignal): Promise<SentBatch> {
    const { sink, state, stats, url, sessions } = this.deps;
    // The pipeline's signal already follows the shutdown deadline.
    const abandon = signal ?? this.deps.deliverySignal;
    await sessions.waitForRoom(abandon);
    // A repair sends what it was asked to: a whole hour again, or ids known missing.
    const events = this.deps.dedupe && all.length > 0 && position.kind !== "repair" ? this.withoutDelivered(all) : all;
    const held = this.deps.dedupe ? this.hold(events) : () => undefined;
    // An event the source could not read is never sent: it becomes a dead letter with the reason.
    const readable = events.filter((e) => e.invalid === undefined);
    let deadLetters: DeadLetter[] = readable.length === events.length ? [] : events.filter((e) => e.invalid !== undefined).map((e) => unreadableLetter(e, url));
    let retried = 0;
    let acknowledged = Promise.resolve();
    if (readable.length > 0) {
      acknowledged = sink.deliver(url, readable.map(toRecord), abandon).then((report) => {
        deadLetters = deadLetters.concat(report.deadLettered);
        retried = report.retried;
        stats.awaitingCommit++;
      });
    } else stats.awaitingCommit++;
    const commit = () => {
      stats.awaitingCommit--;
      const rejected = new Set(deadLetters.map((d) => d.record.id));
      const delivered = rejected.size === 0 ? events : events.filter((e) => !rejected.has(e.id));
      const { uploads, refusedSessions } = sessionsAnnounced(events);
      commitAuditBatch(state, { position, delivered, sessions: uploads, deadLetters, refusedSessions, late }, this.deps.participants);
      held();
      refusedSessionsMetric.inc(refusedSessions);
      recordBatch("audit", stats, { delivered: delivered.length, late: late ? delivered.length : 0, newest: delivered.at(-1)?.time, deadLettered: deadLetters, retried });
      if (uploads.length > 0) sessions.wake();
    };
    return { acknowledged, commit };
  }

  /** One batch outside the pipeline (repairs): sent, acknowledged and committed before it returns. */
  async deliver(events: readonly AuditEvent[], position: AuditPosition): Promise<void> {
    const batch = await this.send(events, position);
    await batch.acknowledged;
    batch.commit();
  }

  private withoutDelivered(events: readonly AuditEvent[]): AuditEvent[] {
    const known = this.deps.state.late.delivered(events.map((e) => e.id));
    const seen = new Set<string>();
    return events.filter((e) => !known.has(e.id) && !this.inFlight(e.id) && !seen.has(e.id) && seen.add(e.id));
  }

  /** Notes the batch's ids as in flight; the returned function forgets them once it committed. */
  private hold(events: readonly AuditEvent[]): () => void {
    const ids = new Set(events.map((e) => e.id));
    this.sending.add(ids);
    return () => this.sending.delete(ids);
  }

  private inFlight(id: string): boolean {
    for (const ids of this.sending) if (ids.has(id)) return true;
    return false;
  }
}

/** A rejected upload event still means the recording exists: export it anyway. */
function sessionsAnnounced(events: readonly AuditEvent[]): { uploads: SessionUpload[]; refusedSessions: number } {
  const uploads: SessionUpload[] = [];
  let refusedSessions = 0;
  for (const e of events) {
    const sid = e.type === SESSION_UPLOAD ? sessionIdOf(e) : undefined;
    if (sid === undefined) continue;
    if (isSessionId(sid)) uploads.push({ sid, uploadTime: e.time });
    else {
      refusedSessions++;
      logger.warn(
        `session.upload event ${quoteUntrusted(e.id)} names session id ${quoteUntrusted(sid)}, which is not a Teleport session id (a UUID); its recording is not exported (counted in status as refused)`,
      );
    }
  }
  return { uploads, refusedSessions };
}
