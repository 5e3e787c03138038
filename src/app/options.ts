import type { Config } from "../config/options.ts";
import type { ExportOptions } from "../export/index.ts";
import type { AutoLockSettings } from "../autolock/index.ts";

/** The subset of the configuration the export jobs read. */
export function exportOptionsFrom(config: Config): ExportOptions {
  const { ingest, fluentd } = config;
  return {
    batch: ingest.batch,
    types: ingest.types,
    skipEventTypes: ingest.skipEventTypes,
    skipSessionTypes: ingest.skipSessionTypes,
    startTime: ingest.startTime,
    cursor: ingest.cursor,
    timeoutMs: ingest.timeout,
    concurrency: ingest.concurrency,
    windowSizeMs: ingest.windowSize,
    dryRun: ingest.dryRun,
    exitOnLastEvent: ingest.exitOnLastEvent,
    fluentdUrl: fluentd.url.href,
    fluentdSessionUrl: fluentd.sessionUrl.href,
    fluentdBatchSize: fluentd.batchSize,
    fluentdBatchBytes: fluentd.batchBytes,
  };
}

/** Auto-locking settings when lock-enabled is on. */
export function autoLockFrom(config: Config): AutoLockSettings | undefined {
  const { locking } = config;
  if (!locking.enabled) return undefined;
  return { failedAttempts: locking.failedAttemptsCount, periodMs: locking.period, lockForMs: locking.for };
}
