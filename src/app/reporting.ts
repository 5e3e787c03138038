import { type ExportStats, recentRate } from "../export/index.ts";
import { formatDuration } from "../lib/duration.ts";
import { drawStatusLine, logFields, logger, type LogFields } from "../logger.ts";

/**
 * The summary and progress figures, in words for text logs and as fields for JSON logs. `rate`
 * defaults to the average since start (the exit summary); the progress line passes the last interval's.
 */
export function summary(stats: ExportStats, now = Date.now(), dryRun = false, rate = stats.rate(now)): { line: string; fields: LogFields } {
  const lag = stats.lagMs(now);
  // A dry run sends nothing, so it must not claim deliveries.
  const verb = dryRun ? "read (dry run, not sent)" : "delivered";
  const line = [
    `${stats.eventsDelivered} events ${verb}`,
    `${stats.sessionsDelivered} sessions ${verb}`,
    `${stats.deadLettered} dead-lettered`,
    `${stats.lateEvents} late`,
    `in ${formatDuration(now - stats.startedAt)}`,
    `${Math.round(rate)} events/s`,
    `lag ${lag === undefined ? "n/a" : formatDuration(lag)}`,
  ].join(", ");
  const fields = logFields({
    events_delivered: stats.eventsDelivered,
    sessions_delivered: stats.sessionsDelivered,
    dead_lettered: stats.deadLettered,
    late_events: stats.lateEvents,
    rate: Math.round(rate * 10) / 10,
    lag_seconds: lag === undefined ? null : Math.round(lag / 1000),
  });
  return { line, fields };
}

export function summaryLine(stats: ExportStats, now = Date.now(), dryRun = false): string {
  return summary(stats, now, dryRun).line;
}

function progressLine(stats: ExportStats, startTime: Date, now = Date.now()): string | undefined {
  const position = stats.lastEventTime ?? stats.readPosition;
  if (!position || stats.caughtUp) return undefined;
  const total = now - startTime.getTime();
  const done = position.getTime() - startTime.getTime();
  const fraction = total > 0 ? Math.min(1, Math.max(0, done / total)) : 1;
  const elapsed = now - stats.startedAt;
  const eta = fraction > 0 ? (elapsed / fraction) * (1 - fraction) : undefined;
  return `catching up: ${position.toISOString()} (${(fraction * 100).toFixed(1)}%), ${Math.round(stats.rate(now))} events/s, ETA ${eta === undefined ? "n/a" : formatDuration(eta)}`;
}

/**
 * The progress line every `intervalMs` (progress-interval; 0 = never), with the rate over that
 * interval, plus a live progress line when stderr is a terminal (never in logs collected from a
 * pipe). Returns a function that stops both and clears the line.
 */
export function startReporting(stats: ExportStats, startTime: () => Date | undefined, dryRun: boolean, intervalMs: number): () => void {
  const lastInterval = recentRate(stats);
  const progress =
    intervalMs > 0
      ? setInterval(() => {
          const now = Date.now();
          const { line, fields } = summary(stats, now, dryRun, lastInterval(now));
          logger.info(`progress: ${line}`, fields);
        }, intervalMs)
      : undefined;
  const live = process.stderr.isTTY
    ? setInterval(() => {
        const start = startTime();
        drawStatusLine(start ? progressLine(stats, start) : undefined);
      }, 1_000)
    : undefined;
  progress?.unref();
  live?.unref();
  return () => {
    clearInterval(progress);
    if (live) clearInterval(live);
    drawStatusLine(undefined);
  };
}
