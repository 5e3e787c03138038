import type { ExportStats } from "../export/index.ts";
import { formatDuration } from "../lib/duration.ts";
import { health } from "../observability/health.ts";
import { lastDeliveryAt } from "../observability/metrics.ts";

/**
 * What counts as progress: anything acknowledged or dead-lettered, a recording finished, or the
 * reader moving on in time (an empty window read is progress too). Retrying is not.
 */
function progressMark(stats: ExportStats): string {
  return [stats.eventsDelivered, stats.sessionsDelivered, stats.deadLettered, stats.readPosition?.getTime(), stats.caughtUp, lastDeliveryAt()].join("|");
}

/**
 * exit-timeout, for runs with exit-on-last-event: a cron or timer run must end even when a failure
 * persists (Fluentd down, a refused certificate, Teleport unreachable), or `flock -n` skips every
 * later run in silence. Calls `onStall` once with a one-line summary of what failed. Returns a
 * function that stops watching.
 */
export function watchForStall(timeoutMs: number, stats: ExportStats, onStall: (summary: string) => void): () => void {
  let mark = progressMark(stats);
  let since = Date.now();
  const timer = setInterval(() => {
    const now = Date.now();
    const current = progressMark(stats);
    if (current !== mark) {
      mark = current;
      since = now;
      return;
    }
    if (now - since < timeoutMs) return;
    clearInterval(timer);
    const failures = health.failures(now);
    const what = failures.length > 0 ? failures.map((f) => f.replace(/\.+$/, "")).join("; ") : "nothing failed, but nothing moved either";
    const stop = /[.?!]$/.test(what) ? "" : ".";
    onStall(`no progress for ${formatDuration(now - since)} (exit-timeout): ${what}${stop} The export position is saved; the next run resumes from it`);
  }, Math.min(1_000, Math.max(50, timeoutMs / 10)));
  timer.unref();
  return () => clearInterval(timer);
}
