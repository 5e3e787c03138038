/**
 * What the export jobs need from the configuration. The jobs do not import the config module, so
 * tests drive them without a full configuration.
 */
export interface ExportOptions {
  /** Legacy engine page size (GetUnstructuredEvents limit). */
  batch: number;
  /** Only these audit event types (empty: all). Server-side on legacy, client-side on bulk. */
  types: readonly string[];
  skipEventTypes: readonly string[];
  skipSessionTypes: readonly string[];
  /** Requested start; undefined keeps the stored one (or now on the first run). */
  startTime?: Date;
  /** Id of the last event known delivered; honoured only when the state is empty. */
  cursor?: string;
  /** Poll interval once caught up. */
  timeoutMs: number;
  concurrency: number;
  windowSizeMs: number;
  dryRun: boolean;
  exitOnLastEvent: boolean;
  fluentdUrl: string;
  fluentdSessionUrl: string;
  /** Most records handed to the sink in one call. */
  fluentdBatchSize: number;
  /** Most body bytes handed to the sink in one call of a recording (`fluentd-batch-bytes`); unbounded when absent. */
  fluentdBatchBytes?: number;
  /** How long a missing recording waits before the next look (default 3 minutes). */
  missingRecordingRetryMs?: number;
}

export const MISSING_RECORDING_RETRY_MS = 3 * 60_000;
export const MISSING_RECORDING_ATTEMPTS = 3;
export const MISSING_RECORDING_CUTOFF_MS = 48 * 3600_000;
/** Sessions pending beyond concurrency × this pause the audit log (the Go tool's queue size). */
export const SESSION_BACKLOG_MULTIPLIER = 16;
