import type { FluentdSink } from "../fluentd/types.ts";
import { isAbort } from "../lib/abort.ts";
import { logger } from "../logger.ts";
import { setLagBaseline } from "../observability/metrics.ts";
import type { Engine, StateStore } from "../state/index.ts";
import { TeleportError, type TeleportSource } from "../teleport/types.ts";
import type { CommitParticipant } from "./acknowledge.ts";
import { AuditDelivery } from "./audit-delivery.ts";
import { runBulk } from "./bulk.ts";
import { daysFromNow, utcDate } from "./dates.ts";
import type { AuditJob } from "./job.ts";
import { deliveryLedger } from "./ledger.ts";
import { runLegacy } from "./legacy.ts";
import { RepairWorker } from "./repairs.ts";
import type { ExportOptions } from "./options.ts";
import { untilSuccess } from "./retry.ts";
import { SessionExporter } from "./sessions.ts";
import { ExportStats } from "./stats.ts";

export type { ExportOptions } from "./options.ts";
export { logDeadLetters, type CommitParticipant } from "./acknowledge.ts";
export { ExportStats, recentRate } from "./stats.ts";
export { deadLetterLog } from "./dead-letter-log.ts";
export { untilSuccess } from "./retry.ts";
export { unknownTypeWarnings } from "./type-names.ts";
export { auditFilter, filterFingerprint } from "./filters.ts";
export { readRange } from "./range-read.ts";
export { readHours, type HourEvents } from "./hour-read.ts";
export { isSessionId, SESSION_UPLOAD, sessionIdOf, sessionUrl, toRecord } from "./records.ts";

export interface ExportRun {
  source: TeleportSource;
  sink: FluentdSink;
  state: StateStore;
  options: ExportOptions;
  stats?: ExportStats;
  /** Parts that commit with every acknowledged audit batch (auto-locking). */
  participants?: readonly CommitParticipant[];
  /** Graceful stop: no more reading; batches in flight finish and commit. */
  stopSignal: AbortSignal;
  /** Hard stop: abandons deliveries in flight (their batches stay uncommitted and are re-sent). */
  deliverySignal?: AbortSignal;
  /** The wall clock; tests inject one instead of sleeping. */
  now?: () => number;
}

/**
 * The bulk API exists from Teleport 17; older servers answer Unimplemented. A date in the future
 * is valid and empty, so the probe costs one round trip. The choice is stored: switching engines
 * in the middle of an export would re-send or skip events.
 */
async function chooseEngine(source: TeleportSource, state: StateStore, signal: AbortSignal): Promise<Engine> {
  const stored = state.meta.engine();
  if (stored) return stored;
  const engine = await untilSuccess(
    "probing the bulk export API",
    async (): Promise<Engine> => {
      try {
        for await (const _ of source.eventExportChunks(daysFromNow(2), signal)) {
          // Draining is the probe; a future date has no chunks.
        }
        return "bulk";
      } catch (err) {
        if (err instanceof TeleportError && err.kind === "unimplemented") return "legacy";
        throw err;
      }
    },
    signal,
  );
  state.meta.setEngine(engine);
  logger.info(`using the ${engine === "bulk" ? "bulk export" : "legacy search"} API to read the audit log`);
  // Only an import from the Go tool leaves a legacy position before the engine is chosen.
  const legacy = state.checkpoints.legacyCheckpoint();
  if (engine === "bulk" && legacy) {
    const date = utcDate(legacy.windowStart);
    state.checkpoints.addBulkDate(date);
    logger.warn(
      `the legacy position imported from the Go tool cannot be resumed with the bulk export API; as the Go tool does, the export restarts at the start of ${date} (events of that day before the position are sent again)`,
    );
  }
  return engine;
}

/** Settles where the export starts; `cursor` only counts when there is no state to resume from. */
function settleStart(state: StateStore, options: ExportOptions, now: Date): Date {
  const seeking = state.meta.seekAfter();
  if (seeking !== undefined) {
    logger.info(`cursor event ${seeking} has not been found yet and nothing was delivered since: starting over with the cursor and start-time given now`);
    state.restartSeek();
  }
  const fresh = state.meta.isEmpty();
  const start = state.meta.settleStartTime(options.ingest.startTime, now);
  if (options.ingest.cursor) {
    if (fresh) {
      state.meta.setSeekAfter(options.ingest.cursor);
      logger.info(`no saved state: exporting the events after ${options.ingest.cursor}, reading from ${start.toISOString()}`);
    } else {
      logger.info("cursor ignored: the export resumes from its saved state");
    }
  }
  return start;
}

/**
 * Runs the audit log and session exports until stopped, or, with exit-on-last-event, until the
 * audit log is caught up and every queued session is delivered or parked.
 */
export async function runExport(run: ExportRun): Promise<ExportStats> {
  const { source, sink, state, options, stopSignal, deliverySignal } = run;
  const now = run.now ?? Date.now;
  const stats = run.stats ?? new ExportStats();
  const startTime = settleStart(state, options, new Date(now()));
  stats.startTime = startTime;
  setLagBaseline(startTime);
  const failed = new AbortController();
  const sessionStop = AbortSignal.any([stopSignal, failed.signal]);
  const sessions = new SessionExporter({ source, sink, state, options, stats, stopSignal: sessionStop, deliverySignal, now });
  const sessionsDone = sessions.run();
  try {
    const engine = await chooseEngine(source, state, stopSignal);
    const keepIds = engine === "legacy" && options.ingest.lateEventDelays.length > 0;
    const ledger = deliveryLedger(state, options, keepIds, now);
    const participants = [ledger, ...(run.participants ?? [])];
    const delivery = new AuditDelivery({ sink, state, stats, url: options.fluentd.url.href, sessions, participants, deliverySignal, dedupe: keepIds });
    const job: AuditJob = { source, state, options, stats, delivery, stopSignal, deliverySignal, startTime, now };
    if (engine === "bulk" && state.meta.seekAfter()) {
      logger.warn("cursor is only honoured by the legacy engine (bulk export has no event order); exporting from start-time");
      state.meta.clearSeekAfter();
    }
    const repairs = new RepairWorker({ source, state, options, delivery, engine, stopSignal, now });
    try {
      await Promise.race([engine === "bulk" ? runBulk(job) : runLegacy(job), repairs.failure]);
    } finally {
      // Queued requests are served before a cron run ends; a stop leaves them for the next start.
      await repairs.finish();
    }
    sessions.auditDone();
  } catch (err) {
    if (!isAbort(err, stopSignal)) {
      failed.abort();
      await sessionsDone;
      throw err;
    }
  }
  await sessionsDone;
  return stats;
}
