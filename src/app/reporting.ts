import type { ExportStats } from "../export/index.ts";
import { drawStatusLine, logger } from "../logger.ts";

function seconds(ms: number): string {
  if (ms < 120_000) return `${Math.round(ms / 1000)}s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)}m`;
  return `${(ms / 3_600_000).toFixed(1)}h`;
}

export function summaryLine(stats: ExportStats, now = Date.now(), dryRun = false): string {
  const lag = stats.lagMs(now);
  // A dry run sends nothing, so it must not claim deliveries.
  const verb = dryRun ? "read (dry run, not sent)" : "delivered";
  return [
    `${stats.eventsDelivered} events ${verb}`,
    `${stats.sessionsDelivered} sessions ${verb}`,
    `${stats.deadLettered} dead-lettered`,
    `${stats.lateEvents} late`,
    `in ${seconds(now - stats.startedAt)}`,
    `${Math.round(stats.rate(now))} events/s`,
    `lag ${lag === undefined ? "n/a" : seconds(lag)}`,
  ].join(", ");
}

function progressLine(stats: ExportStats, startTime: Date, now = Date.now()): string | undefined {
  const position = stats.lastEventTime ?? stats.readPosition;
  if (!position || stats.caughtUp) return undefined;
  const total = now - startTime.getTime();
  const done = position.getTime() - startTime.getTime();
  const fraction = total > 0 ? Math.min(1, Math.max(0, done / total)) : 1;
  const elapsed = now - stats.startedAt;
  const eta = fraction > 0 ? (elapsed / fraction) * (1 - fraction) : undefined;
  return `catching up: ${position.toISOString()} (${(fraction * 100).toFixed(1)}%), ${Math.round(stats.rate(now))} events/s, ETA ${eta === undefined ? "n/a" : seconds(eta)}`;
}

/**
 * The once-a-minute summary, plus a live progress line when stderr is a terminal (never in logs
 * collected from a pipe). Returns a function that stops both and clears the line.
 */
export function startReporting(stats: ExportStats, startTime: () => Date | undefined): () => void {
  const summary = setInterval(() => logger.info(`progress: ${summaryLine(stats)}`), 60_000);
  const progress = process.stderr.isTTY
    ? setInterval(() => {
        const start = startTime();
        drawStatusLine(start ? progressLine(stats, start) : undefined);
      }, 1_000)
    : undefined;
  summary.unref();
  progress?.unref();
  return () => {
    clearInterval(summary);
    if (progress) clearInterval(progress);
    drawStatusLine(undefined);
  };
}
