import type { Config } from "../config/options.ts";

/**
 * What the export jobs read: the ingest group and the Fluentd group (URLs and batch limits), as
 * the configuration holds them. Tests pass a `Config` built from the options table's defaults.
 */
export type ExportOptions = Pick<Config, "ingest" | "fluentd"> & {
  /** How long a missing recording waits before the next look (default MISSING_RECORDING_RETRY_MS). */
  missingRecordingRetryMs?: number;
};

export const MISSING_RECORDING_RETRY_MS = 3 * 60_000;
export const MISSING_RECORDING_ATTEMPTS = 3;
export const MISSING_RECORDING_CUTOFF_MS = 48 * 3600_000;
/** Sessions pending beyond concurrency × this pause the audit log (the Go tool's queue size). */
export const SESSION_BACKLOG_MULTIPLIER = 16;
