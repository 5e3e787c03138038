import { formatDuration } from "../lib/duration.ts";
import { logger } from "../logger.ts";
import { filterCounts, type FilterCounts } from "../observability/metrics.ts";

const SETTINGS = { audit: "types / skip-event-types", session: "skip-session-types" } as const;
const WHAT = { audit: "audit events", session: "session recording events" } as const;

/**
 * Compares the counts with the previous look and returns a line for each stream whose filters
 * dropped every event read in between: an export that delivers nothing looks healthy otherwise.
 */
export function filterReport(before: Record<keyof typeof SETTINGS, FilterCounts>, now: Record<keyof typeof SETTINGS, FilterCounts>, intervalMs: number): string[] {
  const lines: string[] = [];
  for (const stream of ["audit", "session"] as const) {
    const received = now[stream].received - before[stream].received;
    const filtered = now[stream].filtered - before[stream].filtered;
    if (received > 0 && filtered === received) {
      lines.push(`the filters (${SETTINGS[stream]}) dropped all ${received} ${WHAT[stream]} read in the last ${formatDuration(intervalMs)}; nothing of them was sent to Fluentd. Check ${SETTINGS[stream]}`);
    }
  }
  return lines;
}

/**
 * Every `intervalMs` (filter-warning-interval; 0 = never), a warning for each stream its filters
 * emptied. Returns a function that stops it.
 */
export function watchFilters(intervalMs: number): () => void {
  if (intervalMs <= 0) return () => {};
  let last: Record<keyof typeof SETTINGS, FilterCounts> | undefined;
  const look = async () => {
    const now = await filterCounts();
    if (last) for (const line of filterReport(last, now, intervalMs)) logger.warn(line);
    last = now;
  };
  void look();
  const timer = setInterval(() => void look(), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
