import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ExportOptions, ExportStats, runExport, deadLetterLog, untilSuccess } from "../export/index.ts";
import { type AutoLock, startAutoLock } from "../autolock/index.ts";
import type { Config } from "../config/options.ts";
import type { DeliveryReport, FluentdSink, SinkRecord } from "../fluentd/types.ts";
import { OutageError, UserError } from "../errors.ts";
import { isAbort } from "../lib/abort.ts";
import { governMemory } from "../lib/memory.ts";
import { logger } from "../logger.ts";
import { acquireInstanceLock, ensureStorageDir, type InstanceLock, openClusterState, type StateStore, storageError } from "../state/index.ts";
import type { TeleportSource } from "../teleport/types.ts";
import { importGoState } from "../state/go-import/index.ts";
import { recordDeliveryFailures } from "./delivery-failure.ts";
import { DryRunSink } from "./dry-run-sink.ts";
import { watchForStall } from "./exit-timeout.ts";
import { watchFilters } from "./filter-watch.ts";
import { reportImport } from "./migrate.ts";
import { reportRecoveries } from "./recovery.ts";
import { startReporting, summary } from "./reporting.ts";
import { createShutdown, type Shutdown } from "./shutdown.ts";

export interface AppParts {
  source: TeleportSource;
  sink: FluentdSink;
  /**
   * The groups the run reads: ingest (storage, filters, modes, exit-timeout), fluentd (URLs,
   * batching), locking, observability (how often progress and filter warnings are logged).
   */
  config: ExportOptions & Pick<Config, "locking" | "observability">;
  /** Where the Go tool kept its state for this teleport-addr: imported at first start when present. */
  goStateDir?: string;
  /** Install SIGTERM/SIGINT handlers (the binary); tests drive `shutdown` instead. */
  handleSignals?: boolean;
  shutdown?: Shutdown;
}

/** A run that ended because it stopped making progress (exit-timeout), with what failed as its message. */
export class StalledRun extends OutageError {}

/** Counts deliveries waiting for Fluentd, so shutdown only warns about abandoned ones when there are some. */
class InFlightSink implements FluentdSink {
  inFlight = 0;
  constructor(private readonly inner: FluentdSink) {}
  async deliver(url: string, records: SinkRecord[], signal?: AbortSignal): Promise<DeliveryReport> {
    this.inFlight++;
    try {
      return await this.inner.deliver(url, records, signal);
    } finally {
      this.inFlight--;
    }
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * One export run from already-built parts: lock the storage, open the cluster's state, export
 * until stopped (or caught up with exit-on-last-event), and always leave a committed state and a
 * summary line behind. The caller owns (and closes) the source and the sink.
 */
export async function runWithParts(parts: AppParts): Promise<ExportStats> {
  const { source, config: options } = parts;
  const sink = new InFlightSink(options.ingest.dryRun ? new DryRunSink() : parts.sink);
  const stats = new ExportStats();
  const stopGoverningMemory = governMemory();
  // An acknowledged batch waiting for an earlier one to commit is lost with it, so it counts too.
  const shutdown = parts.shutdown ?? createShutdown({ handleSignals: parts.handleSignals ?? false, inFlight: () => sink.inFlight + stats.awaitingCommit });
  let stalled: string | undefined;
  const stopWatching =
    options.ingest.exitOnLastEvent && options.ingest.exitTimeout > 0
      ? watchForStall(options.ingest.exitTimeout, stats, (why) => {
          stalled = why;
          // The deliveries in flight are the ones failing: waiting out the grace period helps nothing.
          shutdown.request("exit-timeout reached", 0);
        })
      : undefined;
  let lock: InstanceLock | undefined;
  let state: StateStore | undefined;
  const storage = options.ingest.storage;
  let dir = storage;
  let stopReporting: (() => void) | undefined;
  let stopRecordingFailures: (() => void) | undefined;
  let stopWatchingFilters: (() => void) | undefined;
  let stopReportingRecoveries: (() => void) | undefined;
  let autoLock: AutoLock | undefined;
  let userError = false;
  try {
    if (options.ingest.dryRun) {
      logger.warn("dry run: nothing is sent to Fluentd, and a throw-away state is used and removed at exit");
      dir = mkdtempSync(join(tmpdir(), "teleport-event-handler-dry-run-"));
    } else {
      ensureStorageDir(dir);
      lock = acquireInstanceLock(dir);
    }
    const cluster = await untilSuccess("connecting to Teleport", () => source.ping(shutdown.stop), shutdown.stop);
    logger.info(`connected to Teleport cluster ${cluster.clusterName} (version ${cluster.serverVersion})`);
    if (parts.goStateDir) reportImport(importGoState(dir, cluster.clusterName, parts.goStateDir));
    const opened = openClusterState(dir, cluster.clusterName);
    state = opened;
    // Lag is measured from the last event ever delivered, so a cron run that finds nothing new
    // still reports how far behind the export is.
    stats.lastEventTime = opened.meta.lastDelivered()?.time;
    stopReporting = startReporting(stats, () => opened.meta.startTime(), options.ingest.dryRun, options.observability.progressInterval);
    stopRecordingFailures = recordDeliveryFailures(opened);
    stopWatchingFilters = watchFilters(options.observability.filterWarningInterval);
    stopReportingRecoveries = reportRecoveries(stats, () => sink.inFlight);
    if (options.locking.enabled) autoLock = startAutoLock({ state, source, settings: options.locking, dryRun: options.ingest.dryRun });
    await runExport({
      source,
      sink,
      state,
      options,
      stats,
      participants: autoLock ? [autoLock.participant] : [],
      stopSignal: shutdown.stop,
      deliverySignal: shutdown.abandon,
    });
    if (stalled) throw new StalledRun(stalled);
    return stats;
  } catch (err) {
    if (stalled) throw new StalledRun(stalled);
    // A full disk or a storage that turned read-only while running: name storage and the path.
    const storageFailure = state && /^(SQLITE_|ENOSPC)/.test(String((err as { code?: string }).code)) ? storageError(err, dir) : undefined;
    if (storageFailure) throw storageFailure;
    // A stop requested before the state was even opened is a normal, clean exit.
    if (shutdown.stop.aborted && isAbort(err)) return stats;
    // A setting to fix (cursor, start-time) ends the run with its one line as the last word, not
    // followed by a summary of a run that never got going.
    userError = err instanceof UserError;
    throw err;
  } finally {
    stopGoverningMemory();
    stopWatching?.();
    // Before the state closes: the worker reads and writes the lock queue.
    await autoLock?.stop({ drain: !shutdown.abandon.aborted });
    stopReporting?.();
    stopRecordingFailures?.();
    stopWatchingFilters?.();
    stopReportingRecoveries?.();
    deadLetterLog.flush();
    if (state && !userError) {
      const { line, fields } = summary(stats, Date.now(), options.ingest.dryRun);
      logger.info(`summary: ${line}`, fields);
    }
    state?.close();
    lock?.release();
    if (options.ingest.dryRun && dir !== storage) rmSync(dir, { recursive: true, force: true });
    if (!parts.shutdown) shutdown.dispose();
  }
}
