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
import { startReporting, summaryLine } from "./reporting.ts";
import { createShutdown, type Shutdown } from "./shutdown.ts";

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
}

/**
 * One export run from already-built parts: lock the storage, open the cluster's state, export
 * until stopped (or caught up with exit-on-last-event), and always leave a committed state and a
 * summary line behind. The caller owns (and closes) the source and the sink.
 */
export async function runWithParts(parts: AppParts): Promise<ExportStats> {
  const { source, options } = parts;
  const shutdown = parts.shutdown ?? createShutdown({ handleSignals: parts.handleSignals ?? false });
  const stats = new ExportStats();
  let lock: InstanceLock | undefined;
  let state: StateStore | undefined;
  let dir = parts.storage;
  let stopReporting: (() => void) | undefined;
  let autoLock: AutoLock | undefined;
  try {
    if (options.dryRun) {
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
    if (parts.autoLock) autoLock = startAutoLock({ state, source, settings: parts.autoLock, dryRun: options.dryRun });
    await runExport({
      source,
      sink: options.dryRun ? new DryRunSink() : parts.sink,
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
    if (shutdown.stop.aborted && err instanceof Error && err.name === "AbortError") return stats;
    throw err;
  } finally {
    // Before the state closes: the worker reads and writes the lock queue.
    await autoLock?.stop({ drain: !shutdown.abandon.aborted });
    stopReporting?.();
    if (state) logger.info(`summary: ${summaryLine(stats, Date.now(), options.dryRun)}`);
    state?.close();
    lock?.release();
    if (options.dryRun && dir !== parts.storage) rmSync(dir, { recursive: true, force: true });
    if (!parts.shutdown) shutdown.dispose();
  }
}
