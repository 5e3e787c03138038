import type { Config } from "../config/options.ts";
import type { ExportOptions } from "../export/index.ts";
import type { AutoLockSettings } from "../autolock/index.ts";
import { parseHostPort } from "../config/values.ts";
import { goStateDir } from "../state/go-import/index.ts";

/** The subset of the configuration the export jobs read. */
export function exportOptionsFrom(config: Config): ExportOptions {
  return {
    batch: config.batch,
    types: config.types,
    skipEventTypes: config.skipEventTypes,
    skipSessionTypes: config.skipSessionTypes,
    startTime: config.startTime,
    cursor: config.cursor,
    timeoutMs: config.timeout,
    concurrency: config.concurrency,
    windowSizeMs: config.windowSize,
    dryRun: config.dryRun,
    exitOnLastEvent: config.exitOnLastEvent,
    fluentdUrl: config.fluentdUrl,
    fluentdSessionUrl: config.fluentdSessionUrl,
    fluentdBatchSize: config.fluentdBatchSize,
    fluentdBatchBytes: config.fluentdBatchBytes,
  };
}

/** Auto-locking settings when lock-enabled is on. */
export function autoLockFrom(config: Config): AutoLockSettings | undefined {
  if (!config.lockEnabled) return undefined;
  return { failedAttempts: config.lockFailedAttemptsCount, periodMs: config.lockPeriod, lockForMs: config.lockFor };
}

/** Where the Go tool kept its state for this teleport-addr (it names the directory after the address). */
export function goStateDirOf(config: Config): string {
  return goStateDir(config.storage, parseHostPort(config.teleportAddr));
}
