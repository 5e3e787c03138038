import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ExportOptions, ExportStats, runExport } from "../export/index.ts";
import { type AutoLock, type AutoLockSettings, startAutoLock } from "../autolock/index.ts";
import { untilSuccess } from "../export/retry.ts";
import type { FluentdSink } from "../fluentd/types.ts";
import { logger } from "../logger.ts";
import { acquireInstanceLock, ensureStorageDir, type InstanceLock, openClusterState, type StateStore } from "../state/index.ts";
import type { TeleportSource } from "../teleport/types.ts";
import { DryRunSink } from "./dry-run-sink.ts";
import { deadLetterLog } from "../export/dead-letter-log.ts";
import { EXIT_USAGE, UserError } from "../errors.ts";
import { storageError } from "../state/storage-errors.ts";
import { recordDeliveryFailures } from "./delivery-failure.ts";
import { watchForStall } from "./exit-timeout.ts";
import { watchFilters } from "./filter-watch.ts";
import { startReporting, summary } from "./reporting.ts";
import { createShutdown, type Shutdown } from "./shutdown.ts";
import type { DeliveryReport, SinkRecord } from "../fluentd/types.ts";

export interface AppParts {
  source: TeleportSource;
  sink: FluentdSink;
  storage: string;
  options: ExportOptions;
  /** Auto-locking (lock-enabled); off when undefined. */
  autoLock?: AutoLockSettings;
  /** Install SIGTERM/SIGINT handlers (the binary); tests drive `shutdown` instead. */
  handleSignals?: boolean;
  shutdown?: Shutdown;
  /** exit-timeout (ms; 0 = never): only with exit-on-last-event, a run without progress this long fails. */
  exitTimeoutMs?: number;
}

/** A run that ended because it stopped making progress (exit-timeout): exit 1, with what failed. */
export class StalledRun extends UserError {
  constructor(summary: string) {
    super(summary, 1);
    this.name = "StalledRun";
  }
}

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
  const { source, options } = parts;
  const sink = new InFlightSink(options.dryRun ? new DryRunSink() : parts.sink);
  const shutdown = parts.shutdown ?? createShutdown({ handleSignals: parts.handleSignals ?? false, inFlight: () => sink.inFlight });
  const stats = new ExportStats();
  let stalled: string | undefined;
  let failure: unknown;
  const stopWatching =
    options.exitOnLastEvent && parts.exitTimeoutMs
      ? watchForStall(parts.exitTimeoutMs, stats, (why) => {
          stalled = why;
          // The deliveries in flight are the ones failing: waiting out the grace period helps nothing.
          shutdown.request("exit-timeout reached", 0);
        })
      : undefined;
  let lock: InstanceLock | undefined;
  let state: StateStore | undefined;
  let dir = parts.storage;
  let stopReporting: (() => void) | undefined;
  let stopRecordingFailures: (() => void) | undefined;
  let stopWatchingFilters: (() => void) | undefined;
  let autoLock: AutoLock | undefined;
  try {
    if (options.dryRun) {
      logger.warn("dry run: nothing is sent to Fluentd, and a throw-away state is used and removed at exit");
      dir = mkdtempSync(join(tmpdir(), "teleport-event-handler-dry-run-"));
    } else {
      ensureStorageDir(dir);
      lock = acquireInstanceLock(dir);
    }
    const cluster = await untilSuccess("connecting to Teleport", () => source.ping(shutdown.stop), shutdown.stop);
    logger.info(`connected to Teleport cluster ${cluster.clusterName} (version ${cluster.serverVersion})`);
    const opened = openClusterState(dir, cluster.clusterName);
    state = opened;
    // Lag is measured from the last event ever delivered, so a cron run that finds nothing new
    // still reports how far behind the export is.
    stats.lastEventTime = opened.meta.lastDelivered()?.time;
    stopReporting = startReporting(stats, () => opened.meta.startTime(), options.dryRun);
    stopRecordingFailures = recordDeliveryFailures(opened);
    stopWatchingFilters = watchFilters();
    if (parts.autoLock) autoLock = startAutoLock({ state, source, settings: parts.autoLock, dryRun: options.dryRun });
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
    failure = err;
    if (stalled) throw new StalledRun(stalled);
    // A full disk or a storage that turned read-only while running: name storage and the path.
    if (state && /^(SQLITE_|ENOSPC)/.test(String((err as { code?: string }).code))) throw storageError(err, dir) ?? err;
    // A stop requested before the state was even opened is a normal, clean exit.
    if (shutdown.stop.aborted && err instanceof Error && err.name === "AbortError") return stats;
    throw err;
  } finally {
    stopWatching?.();
    // Before the state closes: the worker reads and writes the lock queue.
    await autoLock?.stop({ drain: !shutdown.abandon.aborted });
    stopReporting?.();
    stopRecordingFailures?.();
    stopWatchingFilters?.();
    deadLetterLog.flush();
    // A configuration error (start-time conflict, cursor not found) is all there is to say: no summary before it.
    if (state && !(failure instanceof UserError && failure.exitCode === EXIT_USAGE)) {
      const { line, fields } = summary(stats, Date.now(), options.dryRun);
      logger.info(`summary: ${line}`, fields);
    }
    state?.close();
    lock?.release();
    if (options.dryRun && dir !== parts.storage) rmSync(dir, { recursive: true, force: true });
    if (!parts.shutdown) shutdown.dispose();
  }
}
