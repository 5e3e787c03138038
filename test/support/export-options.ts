import type { Config, FluentdConfig, IngestConfig } from "../../src/config/options.ts";
import { parseFluentdUrl } from "../../src/config/values.ts";
import type { ExportOptions } from "../../src/export/index.ts";
import { defaultConfig } from "./config.ts";

/** Where the in-process tests deliver audit events (a MemoryFluentd keys its records by URL). */
export const EVENTS_URL = "https://fluentd.local/events.log";

/** Ingest settings by their names in `config.ingest`; Fluentd's in `fluentd`. */
export type TestRunOptions = Partial<IngestConfig> & {
  fluentd?: Partial<Omit<FluentdConfig, "url" | "sessionUrl">> & { url?: string; sessionUrl?: string };
  missingRecordingRetryMs?: number;
};

const DEFAULTS = defaultConfig();

/**
 * The configuration groups of an in-process run (runExport / runWithParts with the memory fakes):
 * the options table's defaults, then one run to the end, a 20 ms poll, small pages and batches.
 * Later layers win; each test sets what it depends on.
 */
export function testExportOptions(...layers: TestRunOptions[]): ExportOptions & Pick<Config, "locking" | "observability"> {
  const merged: TestRunOptions = { batch: 10, timeout: 20, concurrency: 2, skipSessionTypes: [], exitOnLastEvent: true };
  const fluentd: NonNullable<TestRunOptions["fluentd"]> = { url: EVENTS_URL, sessionUrl: `${EVENTS_URL}.s`, batchSize: 10 };
  for (const { fluentd: f, ...rest } of layers) {
    Object.assign(merged, rest);
    Object.assign(fluentd, f);
  }
  const { missingRecordingRetryMs, fluentd: _, ...ingest } = merged;
  return {
    ingest: { ...DEFAULTS.ingest, ...ingest },
    fluentd: { ...DEFAULTS.fluentd, ...fluentd, url: parseFluentdUrl(fluentd.url!), sessionUrl: parseFluentdUrl(fluentd.sessionUrl!) },
    locking: DEFAULTS.locking,
    observability: DEFAULTS.observability,
    missingRecordingRetryMs,
  };
}
