import type { ExportRun } from "./index.ts";
import { isAbort } from "../lib/abort.ts";
import { Wakeup } from "../lib/wakeup.ts";
import { Backoff } from "../lib/backoff.ts";
import type { DeadLetter, SinkRecord } from "../fluentd/types.ts";
import { logger, rateLimited } from "../logger.ts";
import { countStateErrors, missingRecordings, pendingSessions, streamMetrics } from "../observability/metrics.ts";
import type { SessionRow } from "../state/index.ts";
import { TeleportError } from "../teleport/types.ts";
import { recordBatch } from "./acknowledge.ts";
import type { SessionQueue } from "./audit-delivery.ts";
import { quoteUntrusted } from "../lib/untrusted.ts";
import { isSessionId, sessionUrl, toRecord, unreadableLetter } from "./records.ts";
import { afterLargeGarbage } from "../lib/memory.ts";
import {
  MISSING_RECORDING_ATTEMPTS,
  MISSING_RECORDING_CUTOFF_MS,
  MISSING_RECORDING_RETRY_MS,
  SESSION_BACKLOG_MULTIPLIER,
} from "./options.ts";
import type { ExportStats } from "./stats.ts";

/** A run that has failed this often on one session stops waiting for it before exiting (cron mode). */
const FAILURES_BEFORE_PARKING_AT_EXIT = 5;
/**
 * Both loops wake on events (a session enqueued, finished or parked); this only bounds a wait
 * nothing announces, e.g. a clock jump past a retry time.
 */
const SAFETY_NET_MS = 60_000;

const warnOncePerMinute = rateLimited(60_000);
/**
 * The queue gauges are counted at most this often: the loop wakes once or twice per session, and
 * its queries were a fifth of a session's cost in scenario (f).
 */
const GAUGE_INTERVAL_MS = 1_000;

/** What the session job shares with the whole run, plus its own stats and clock. */
export type SessionJobDeps = Pick<ExportRun, "source" | "sink" | "state" | "options" | "stopSignal" | "deliverySignal"> & {
  stats: ExportStats;
  /** The wall clock: when a session is due, when a missing recording is given up. */
  now: () => number;
};

/**
 * Streams queued session recordings to Fluentd, `concurrency` at a time. The queue lives in the
 * state database, so a crash never loses a session; a failing session is parked or retried later
 * and never stops the audit log or the process.
 */
export class SessionExporter implements SessionQueue {
  private readonly active = new Map<string, Promise<void>>();
  private readonly failures = new Map<string, Backoff>();
  /** New or finished work for the loop. */
  private readonly loopWakeup = new Wakeup();
  /** Room in the backlog for the audit log waiting in `waitForRoom`. */
  private readonly roomWakeup = new Wakeup();
  private auditFinished = false;
  private gaugesAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly deps: SessionJobDeps) {}

  wake(): void {
    this.loopWakeup.wake();
  }

  async waitForRoom(signal?: AbortSignal): Promise<void> {
    const limit = this.deps.options.ingest.concurrency * SESSION_BACKLOG_MULTIPLIER;
    while (this.deps.state.sessions.count("pending") > limit) {
      warnOncePerMinute("session-backpressure", () =>
        logger.warn(`more than ${limit} session recordings are waiting; the audit log pauses until they are exported (consider a higher concurrency)`),
      );
      this.wake();
      await this.roomWakeup.wait(SAFETY_NET_MS, signal);
    }
  }

  /** In exit-on-last-event mode: no more sessions will be enqueued; finish what is queued, then return. */
  auditDone(): void {
    this.auditFinished = true;
    this.wake();
  }

  async run(): Promise<void> {
    const { state, options, stopSignal } = this.deps;
    const retryMissingMs = options.missingRecordingRetryMs ?? MISSING_RECORDING_RETRY_MS;
    while (!stopSignal.aborted) {
      const now = new Date(this.deps.now());
      const gaugesStale = now.getTime() - this.gaugesAt < GAUGE_INTERVAL_MS;
      if (!gaugesStale) {
        this.gaugesAt = now.getTime();
        pendingSessions.set(state.sessions.count("pending"));
        missingRecordings.set(state.sessions.count("missing"));
      }
      const room = options.ingest.concurrency - this.active.size;
      if (room > 0) {
        const ready = [...state.sessions.ready(now, options.ingest.concurrency * 2), ...(this.auditFinished && options.ingest.exitOnLastEvent ? [] : state.sessions.dueMissing(now))];
        for (const s of ready.filter((s) => !this.active.has(s.sid)).slice(0, room)) this.start(s, retryMissingMs);
      }
      if (this.auditFinished && options.ingest.exitOnLastEvent && this.active.size === 0 && this.nothingLeftForThisRun()) {
        // Otherwise a cron run ends with recordings silently left behind (the summary only counts successes).
        const left = state.sessions.count("pending");
        if (left > 0) {
          logger.warn(`${left} session recording(s) kept failing in this run and stay queued; the next run retries them (causes logged above)`);
        }
        return;
      }
      // Until a retry or a missing recording's next look falls due, unless an event comes first.
      // With every slot busy, the next session to finish wakes the loop anyway.
      const due = this.active.size < options.ingest.concurrency ? state.sessions.nextDue(now) : undefined;
      let idleMs = due === undefined ? SAFETY_NET_MS : Math.min(SAFETY_NET_MS, Math.max(0, due.getTime() - this.deps.now()));
      // Skipped counts are taken within the interval, so the gauges settle once the queue does.
      if (gaugesStale) idleMs = Math.min(idleMs, Math.max(0, this.gaugesAt + GAUGE_INTERVAL_MS - this.deps.now()));
      await this.loopWakeup.wait(idleMs, stopSignal).catch(() => undefined);
    }
    await Promise.all(this.active.values());
  }

  private nothingLeftForThisRun(): boolean {
    return this.deps.state.sessions.list("pending").every((s) => (this.failures.get(s.sid)?.attempts ?? 0) >= FAILURES_BEFORE_PARKING_AT_EXIT);
  }

  private start(s: SessionRow, retryMissingMs: number): void {
    const task = this.export(s, retryMissingMs).finally(() => {
      this.active.delete(s.sid);
      this.wake();
      this.roomWakeup.wake();
    });
    this.active.set(s.sid, task);
  }

  private async export(s: SessionRow, retryMissingMs: number): Promise<void> {
    const { state, stats, stopSignal } = this.deps;
    if (!isSessionId(s.sid)) {
      // Queued by a version that did not check ids: never put it into a URL.
      state.sessions.park(s.sid, "given-up", s.attempts, new Date());
      logger.warn(`queued session id ${quoteUntrusted(s.sid)} is not a UUID; its recording is not exported`);
      return;
    }
    // A batch checkpointed before the failure ends the run of failures: a stream cut now and then
    // (a proxy's maximum stream age) would otherwise wait longer after each cut, up to a minute,
    // while every attempt gets further.
    let progressed = false;
    try {
      await this.stream(s, () => (progressed = true));
      this.failures.delete(s.sid);
      stats.sessionsDelivered++;
      logger.debug(`session ${s.sid} exported`);
    } catch (err) {
      if (isAbort(err, stopSignal) || this.deps.deliverySignal?.aborted) return;
      if (err instanceof TeleportError && err.kind === "not-found") return this.missing(s, retryMissingMs);
      if (progressed) this.failures.delete(s.sid);
      const backoff = this.failures.get(s.sid) ?? new Backoff(1_000, 60_000);
      this.failures.set(s.sid, backoff);
      const delay = backoff.nextDelayMs();
      state.sessions.retryLater(s.sid, new Date(this.deps.now() + delay));
      warnOncePerMinute(`session-${s.sid}`, () =>
        logger.warn(`exporting session ${s.sid} failed, retrying in ${Math.round(delay / 1000)}s: ${err instanceof Error ? err.message : String(err)}`),
      );
    }
  }

  private missing(s: SessionRow, retryMissingMs: number): void {
    const attempts = s.attempts + 1;
    const now = this.deps.now();
    const expired = now - s.uploadTime.getTime() > MISSING_RECORDING_CUTOFF_MS;
    if (attempts >= MISSING_RECORDING_ATTEMPTS || expired) {
      this.deps.state.sessions.park(s.sid, "given-up", attempts, new Date(now));
      logger.warn(`recording of session ${s.sid} not found after ${attempts} attempts; giving up on it`);
      return;
    }
    this.deps.state.sessions.park(s.sid, "missing", attempts, new Date(now + retryMissingMs));
    logger.info(`recording of session ${s.sid} not found yet; looking again later (attempt ${attempts} of ${MISSING_RECORDING_ATTEMPTS})`);
  }

  /** Streams from the saved index (inclusive), checkpointing after each acknowledged batch (`progressed`). */
  private async stream(s: SessionRow, progressed: () => void): Promise<void> {
    const { source, sink, state, options, stats, stopSignal, deliverySignal } = this.deps;
    const skip = new Set(options.ingest.skipSessionTypes);
    const url = sessionUrl(options.fluentd.sessionUrl.href, s.sid);
    const metrics = streamMetrics.session;
    let records: SinkRecord[] = [];
    let pendingChars = 0;
    const maxChars = options.fluentd.batchBytes ?? Number.POSITIVE_INFINITY;
    let nextIndex = s.nextIndex;
    let received = 0;
    let unreadable: DeadLetter[] = [];
    let belowStart = 0;
    const flush = async (completed: boolean) => {
      const report = records.length > 0 ? await sink.deliver(url, records, deliverySignal) : { deadLettered: [], retried: 0 };
      const deadLettered = unreadable.concat(report.deadLettered);
      // One transaction per batch: progress (or, with the last batch, the session's completion)
      // and its dead letters, the unreadable events included.
      countStateErrors(() => state.transaction(() => state.sessions.commitProgress(s.sid, nextIndex, deadLettered, completed)));
      progressed();
      metrics.received.inc(received);
      metrics.filtered.inc(received - records.length - unreadable.length);
      recordBatch("session", stats, { delivered: records.length - report.deadLettered.length, deadLettered, retried: report.retried });
      afterLargeGarbage(pendingChars);
      records = [];
      unreadable = [];
      pendingChars = 0;
      received = 0;
    };
    // Recordings carry large print events: flushing on bytes too keeps what one stream holds at
    // about one request body, instead of fluentd-batch-size events of any size. A full batch goes
    // when the next event arrives, so the last one carries the session's completion.
    const full = () => records.length >= options.fluentd.batchSize || unreadable.length >= options.fluentd.batchSize || pendingChars >= maxChars;
    for await (const e of source.sessionEvents(s.sid, s.nextIndex, stopSignal)) {
      if (full()) await flush(false);
      received++;
      // Reading `invalid` decodes the payload, so it is asked only of events that are exported: a
      // skipped type (print) is never decoded, and a hostile payload in one is simply skipped. An
      // index beyond 2^53 (index -1) is known without decoding and is dead-lettered whatever the
      // type, since it must not move the checkpoint.
      if ((e.index < 0 || !skip.has(e.type)) && e.invalid !== undefined) {
        unreadable.push(unreadableLetter(e, url));
        continue;
      }
      // The start is inclusive, so nothing below it should come; what does was acknowledged before.
      if (e.index < s.nextIndex) {
        belowStart++;
        continue;
      }
      // An index lower than the last one (…,10,4,11) is still delivered, in arrival order; the
      // checkpoint only moves forward.
      nextIndex = Math.max(nextIndex, e.index + 1);
      if (!skip.has(e.type)) {
        const record = toRecord(e);
        records.push(record);
        pendingChars += record.body.length;
      }
    }
    if (belowStart > 0) {
      logger.warn(`session ${s.sid}: Teleport resent ${belowStart} event(s) below the resume index ${s.nextIndex}; they were delivered before and are not sent again`);
    }
    await flush(true);
  }
}
