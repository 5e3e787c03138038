import { formatDuration } from "../lib/duration.ts";
import type { Config, OptionDef, OptionKey } from "./options.ts";
import { OPTIONS, settingOf } from "./options.ts";
import { formatHostPort, type FluentdUrl, type Header, type HostPort } from "./values.ts";

/**
 * The start-up "Using …" lines, one per setting that has a value. Labels follow the Go
 * tool's wording so existing log searches keep working. Secrets are never rendered: a passphrase
 * shows as "(set)", headers show their names only.
 */
export const LOG_LABELS: Partial<Record<OptionKey, string>> = {
  storage: "Using storage directory",
  batch: "Using batch size",
  concurrency: "Using concurrency",
  types: "Using type filter",
  skipEventTypes: "Skipping audit events of type",
  skipSessionTypes: "Skipping session recording events of type",
  startTime: "Using start time",
  timeout: "Using timeout",
  cursor: "Using cursor",
  windowSize: "Using window size",
  lateEventDelays: "Sweeping for late events after",
  digestRetentionDays: "Keeping delivery digests (days)",
  dryRun: "Dry run (nothing is sent to Fluentd)",
  exitOnLastEvent: "Exiting after the last event",
  exitTimeout: "Exiting without progress after",
  fluentdUrl: "Using Fluentd url",
  fluentdSessionUrl: "Using Fluentd session url",
  fluentdCa: "Using Fluentd ca",
  fluentdCert: "Using Fluentd cert",
  fluentdKey: "Using Fluentd key",
  fluentdKeyPassphrase: "Using Fluentd key passphrase",
  fluentdKeyPassphraseFile: "Using Fluentd key passphrase file",
  fluentdAllowInsecure: "Fluentd allow-insecure is ON (plain HTTP or forward / no client certificate permitted)",
  fluentdMaxConnections: "Using Fluentd max connections",
  fluentdBatchSize: "Using Fluentd batch size",
  fluentdInflightBatches: "Using Fluentd batches in flight",
  fluentdBatchBytes: "Using Fluentd batch bytes",
  fluentdTimeout: "Using Fluentd timeout",
  fluentdHeader: "Using Fluentd headers",
  fluentdCompress: "Using Fluentd compression",
  fluentdSharedKey: "Using Fluentd forward shared key",
  fluentdUsername: "Using Fluentd forward username",
  fluentdPassword: "Using Fluentd forward password",
  teleportAddr: "Using Teleport addr",
  teleportIdentity: "Using Teleport identity file",
  teleportRefreshEnabled: "Using Teleport identity file refresh",
  teleportRefreshInterval: "Using Teleport identity file refresh interval",
  teleportCa: "Using Teleport CA",
  teleportCert: "Using Teleport cert",
  teleportKey: "Using Teleport key",
  teleportCluster: "Using Teleport cluster",
  teleportTlsRouting: "Using Teleport TLS routing",
  lockEnabled: "Auto-locking enabled",
  lockFailedAttemptsCount: "Auto-locking failed attempts count",
  lockPeriod: "Auto-locking period",
  lockFor: "Auto-locking lock duration",
  metricsAddr: "Serving metrics and health on",
  readyFailurePeriod: "Using ready failure period",
  progressInterval: "Logging progress every",
  filterWarningInterval: "Warning about filters that drop everything every",
};

/** Settings only worth a line when their feature is on. */
const SHOWN_ONLY_IF: Partial<Record<OptionKey, (c: Config) => boolean>> = {
  dryRun: (c) => c.ingest.dryRun,
  exitOnLastEvent: (c) => c.ingest.exitOnLastEvent,
  exitTimeout: (c) => c.ingest.exitOnLastEvent,
  fluentdAllowInsecure: (c) => c.fluentd.allowInsecure,
  teleportRefreshInterval: (c) => c.teleport.refreshEnabled,
  lockEnabled: (c) => c.locking.enabled,
  lockFailedAttemptsCount: (c) => c.locking.enabled,
  lockPeriod: (c) => c.locking.enabled,
  lockFor: (c) => c.locking.enabled,
};

function render(key: OptionKey, value: unknown): string {
  const def: OptionDef = OPTIONS[key];
  switch (def.kind) {
    case "headers":
      return (value as Header[]).map((h) => h.name).join(", ") + " (values hidden)";
    case "url":
      return (value as FluentdUrl).display;
    case "hostport":
    case "listen":
      return formatHostPort(value as HostPort);
    case "duration":
      if (value === 0 && (key === "progressInterval" || key === "filterWarningInterval")) return "never";
      return key === "lockFor" && value === 0 ? "never expires" : formatDuration(value as number);
    case "durations":
      return (value as number[]).length === 0 ? "off" : (value as number[]).map(formatDuration).join(", ");
  }
  if (def.secret) return "(set, hidden)";
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.join(", ");
  return String(value);
}

export function effectiveConfigLines(c: Config): string[] {
  const lines: string[] = [];
  for (const [key, label] of Object.entries(LOG_LABELS) as [OptionKey, string][]) {
    const value = settingOf(c, key);
    const shownIf = SHOWN_ONLY_IF[key];
    if (shownIf ? !shownIf(c) : value === undefined || (Array.isArray(value) && value.length === 0 && key !== "types")) continue;
    if (typeof value === "boolean" && shownIf) {
      lines.push(label);
      continue;
    }
    const text = key === "types" && (value as string[]).length === 0 ? "all" : render(key, value);
    lines.push(`${label}: ${text}`);
  }
  return lines;
}
