import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ExportOptions, ExportStats, runExport } from "../export/index.ts";
import { type AutoLock, startAutoLock } from "../autolock/index.ts";
import type { Config } from "../config/options.ts";
import { untilSuccess } from "../export/retry.ts";
import type { FluentdSink } from "../fluentd/types.ts";
import { UserError } from "../errors.ts";
import { isAbort } from "../lib/abort.ts";
import { logger } from "../logger.ts";
import { acquireInstanceLock, ensureStorageDir, type InstanceLock, openClusterState, type StateStore } from "../state/index.ts";
import type { TeleportSource } from "../teleport/types.ts";
import { DryRunSink } from "./dry-run-sink.ts";
import { startReporting, summaryLine } from "./reporting.ts";
import { createShutdown, type Shutdown } from "./shutdown.ts";

export interface AppParts {
  source: TeleportSource;
  sink: FluentdSink;
  /** The groups the run reads: ingest (storage, filters, modes), fluentd (URLs, batching), locking. */
  config: ExportOptions & Pick<Config, "locking">;
  /** Install SIGTERM/SIGINT handlers (the binary); tests drive `shutdown` instead. */
  handleSignals?: boolean;
  shutdown?: Shutdown;
}

/**
 * One export run from already-built parts: lock the storage, open the cluster's state, export
 * until stopped (or caught up with exit-on-last-event), and always leave a committed state and a
 * summary line behind. The caller owns (and closes) the source and the sink.
 */
export async function runWithParts(parts: AppParts): Promise<ExportStats> {
  const { source, config: options } = parts;
  const shutdown = parts.shutdown ?? createShutdown({ handleSignals: parts.handleSignals ?? false });
  const stats = new ExportStats();
  let lock: InstanceLock | undefined;
  let state: StateStore | undefined;
  const storage = options.ingest.storage;
  let dir = storage;
  let stopReporting: (() => void) | undefined;
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
    const cluster = await untilSuccess("connecting to Teleport", () => source.ping(), shutdown.stop);
    logger.info(`connected to Teleport cluster ${cluster.clusterName} (version ${cluster.serverVersion})`);
    const opened = openClusterState(dir, cluster.clusterName);
    state = opened;
    // Lag is measured from the last event ever delivered, so a cron run that finds nothing new
    // still reports how far behind the export is.
    stats.lastEventTime = opened.meta.lastDelivered()?.time;
    stopReporting = startReporting(stats, () => opened.meta.startTime());
    if (options.locking.enabled) autoLock = startAutoLock({ state, source, settings: options.locking, dryRun: options.ingest.dryRun });
    await runExport({
      source,
      sink: options.ingest.dryRun ? new DryRunSink() : parts.sink,
      state,
      options,
      stats,
      participants: autoLock ? [autoLock.participant] : [],
      stopSignal: shutdown.stop,
      deliverySignal: shutdown.abandon,
    });
    return stats;
  } catch (err) {
    // A stop requested before the state was even opened is a normal, clean exit.
    if (shutdown.stop.aborted && isAbort(err)) return stats;
    // A setting to fix (cursor, start-time) ends the run with its one line as the last word, not
    // followed by a summary of a run that never got going.
    userError = err instanceof UserError;
    throw err;
  } finally {
    // Before the state closes: the worker reads and writes the lock queue.
    await autoLock?.stop({ drain: !shutdown.abandon.aborted });
    stopReporting?.();
    if (state && !userError) logger.info(`summary: ${summaryLine(stats, Date.now(), options.ingest.dryRun)}`);
    state?.close();
    lock?.release();
    if (options.ingest.dryRun && dir !== storage) rmSync(dir, { recursive: true, force: true });
    if (!parts.shutdown) shutdown.dispose();
  }
}
