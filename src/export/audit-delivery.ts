import type { DeadLetter, FluentdSink } from "../fluentd/types.ts";
import type { AuditPosition, SessionUpload, StateStore } from "../state/index.ts";
import type { AuditEvent } from "../teleport/types.ts";
import { type CommitParticipant, commitAuditBatch, recordBatch } from "./acknowledge.ts";
import { quoteUntrusted } from "../lib/untrusted.ts";
import { logger } from "../logger.ts";
import { refusedSessions as refusedSessionsMetric } from "../observability/metrics.ts";
import { isSessionId, SESSION_UPLOAD, sessionIdOf, toRecord, unreadableLetter } from "./records.ts";
import type { ExportStats } from "./stats.ts";

export interface SessionQueue {
  /** Resolves once the session backlog leaves room for more audit events. */
  waitForRoom(signal?: AbortSignal): Promise<void>;
  /** New sessions were committed. */
  wake(): void;
}

/**
 * Delivers one audit batch to Fluentd and acknowledges it: the position only moves past what the
 * sink acknowledged or dead-lettered, in the same transaction as the sessions it enqueues and the
 * participants' writes.
 */
export class AuditDelivery {
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
   * dropped here, at delivery, because every earlier batch is committed by now (at read time some
   * were still in flight); this also spares the duplicates of a page the walk reads again.
   */
  async deliver(all: readonly AuditEvent[], position: AuditPosition, late = false): Promise<void> {
    const { sink, state, stats, url, sessions } = this.deps;
    await sessions.waitForRoom(this.deps.deliverySignal);
    // A repair sends what it was asked to: a whole hour again, or ids known missing.
    const events = this.deps.dedupe && all.length > 0 && position.kind !== "repair" ? withoutDelivered(state, all) : all;
    // An event the source could not read is never sent: it becomes a dead letter with the reason.
    const readable = events.filter((e) => e.invalid === undefined);
    let deadLetters: DeadLetter[] = readable.length === events.length ? [] : events.filter((e) => e.invalid !== undefined).map((e) => unreadableLetter(e, url));
    let retried = 0;
    if (readable.length > 0) {
      const report = await sink.deliver(url, readable.map(toRecord), this.deps.deliverySignal);
      deadLetters = deadLetters.concat(report.deadLettered);
      retried = report.retried;
    }
    const rejected = new Set(deadLetters.map((d) => d.record.id));
    const delivered = rejected.size === 0 ? events : events.filter((e) => !rejected.has(e.id));
    // A rejected upload event still means the recording exists: export it anyway.
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
    commitAuditBatch(state, { position, delivered, sessions: uploads, deadLetters, refusedSessions }, this.deps.participants);
    refusedSessionsMetric.inc(refusedSessions);
    recordBatch("audit", stats, { delivered: delivered.length, late: late ? delivered.length : 0, newest: delivered.at(-1)?.time, deadLettered: deadLetters, retried });
    if (uploads.length > 0) sessions.wake();
  }
}

function withoutDelivered(state: StateStore, events: readonly AuditEvent[]): AuditEvent[] {
  const known = state.late.delivered(events.map((e) => e.id));
  const seen = new Set<string>();
  return events.filter((e) => !known.has(e.id) && !seen.has(e.id) && seen.add(e.id));
}
