import type { ExportOptions } from "../../src/export/index.ts";

/** Where the in-process tests deliver audit events (a MemoryFluentd keys its records by URL). */
export const EVENTS_URL = "https://fluentd.local/events.log";

/**
 * Export options for in-process runs (runExport / runWithParts with the memory fakes): one run to
 * the end, a 20 ms poll, no filters, one-day windows. Each test sets what it depends on.
 */
export function testExportOptions(overrides: Partial<ExportOptions> = {}): ExportOptions {
  return {
    batch: 10,
    types: [],
    skipEventTypes: [],
    skipSessionTypes: [],
    timeoutMs: 20,
    concurrency: 2,
    windowSizeMs: 86_400_000,
    dryRun: false,
    exitOnLastEvent: true,
    fluentdUrl: EVENTS_URL,
    fluentdSessionUrl: `${EVENTS_URL}.s`,
    fluentdBatchSize: 10,
    lateEventDelaysMs: [],
    digestRetentionDays: 400,
    ...overrides,
  };
}
