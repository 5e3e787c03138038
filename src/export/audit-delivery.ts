import type { DeadLetter, FluentdSink } from "../fluentd/types.ts";
import { logger } from "../logger.ts";
import { countStateErrors, recordDelivered, refusedSessions, streamMetrics } from "../observability/metrics.ts";
import type { ChunkProgress, LegacyCheckpoint, SessionUpload, StateStore } from "../state/index.ts";
import type { AuditEvent } from "../teleport/types.ts";
import { quoteUntrusted } from "../lib/untrusted.ts";
import { isSessionId, SESSION_UPLOAD, sessionIdOf, toRecord, unreadableLetter } from "./filters.ts";
import type { ExportStats } from "./stats.ts";

/** Called for each delivered audit event inside the checkpoint transaction (auto-locking). */
export type DeliveredEventHook = (event: AuditEvent) => void;

export interface AuditPosition {
  legacy?: LegacyCheckpoint;
  chunk?: ChunkProgress;
  seekFinished?: boolean;
}

export interface SessionQueue {
  /** Resolves once the session backlog leaves room for more audit events. */
  waitForRoom(signal?: AbortSignal): Promise<void>;
  /** New sessions were committed. */
  wake(): void;
}

export function logDeadLetters(letters: readonly DeadLetter[]): void {
  for (const d of letters) {
    // Never the body: it may carry secrets or terminal output. Status 0: Fluentd never saw it.
    const what = d.status === 0 ? `Event ${quoteUntrusted(d.record.id)} not exported (${d.reason})` : `Fluentd rejected event ${d.record.id} permanently (HTTP ${d.status}: ${d.reason})`;
    logger.warn(`${what}; kept in dead letters`, {
      id: d.record.id,
      url: d.url,
      status: d.status,
    });
  }
}

/**
 * Delivers one audit batch and commits it: the position only moves past what the sink
 * acknowledged or dead-lettered, in the same transaction as the sessions it enqueues.
 */
export class AuditCommitter {
  constructor(
    private readonly deps: {
      sink: FluentdSink;
      state: StateStore;
      stats: ExportStats;
      url: string;
      sessions: SessionQueue;
      hook?: DeliveredEventHook;
      /** Aborts in-flight deliveries (shutdown deadline), not the reading. */
      deliverySignal?: AbortSignal;
    },
  ) {}

  async deliver(events: readonly AuditEvent[], position: AuditPosition): Promise<void> {
    const { sink, state, stats, url, sessions } = this.deps;
    await sessions.waitForRoom(this.deps.deliverySignal);
    const readable = events.filter((e) => e.invalid === undefined);
    let deadLetters: DeadLetter[] = readable.length === events.length ? [] : events.filter((e) => e.invalid !== undefined).map((e) => unreadableLetter(e, url));
    if (readable.length > 0) {
      const report = await sink.deliver(url, readable.map(toRecord), this.deps.deliverySignal);
      deadLetters = deadLetters.concat(report.deadLettered);
      streamMetrics.audit.retried.inc(report.retried);
    }
    const rejected = new Set(deadLetters.map((d) => d.record.id));
    const delivered = rejected.size === 0 ? events : events.filter((e) => !rejected.has(e.id));
    // A rejected upload event still means the recording exists: export it anyway.
    const uploads: SessionUpload[] = [];
    let refused = 0;
    for (const e of events) {
      const sid = e.type === SESSION_UPLOAD ? sessionIdOf(e) : undefined;
      if (sid === undefined) continue;
      if (isSessionId(sid)) uploads.push({ sid, uploadTime: e.time });
      else {
        refused++;
        logger.warn(
          `session.upload event ${quoteUntrusted(e.id)} names session id ${quoteUntrusted(sid)}, which is not a Teleport session id (a UUID); its recording is not exported (counted in status as refused)`,
        );
      }
    }
    countStateErrors(() => state.commitAudit({ ...position, delivered, sessions: uploads, deadLetters, refusedSessions: refused }, this.deps.hook));
    refusedSessions.inc(refused);
    logDeadLetters(deadLetters);
    streamMetrics.audit.deadLettered.inc(deadLetters.length);
    recordDelivered("audit", delivered.length, delivered.at(-1)?.time);
    stats.eventsDelivered += delivered.length;
    stats.deadLettered += deadLetters.length;
    const last = delivered.at(-1);
    if (last) stats.lastEventTime = last.time;
    if (uploads.length > 0) sessions.wake();
  }
}
