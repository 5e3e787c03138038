import type { ExportStats } from "../export/index.ts";
import { formatDuration } from "../lib/duration.ts";
import { logFields, logger } from "../logger.ts";
import { health } from "../observability/health.ts";

const CHECK_MS = 1_000;
/** The line waits at most this long for the backlog to drain, then says what was caught up so far. */
const CATCH_UP_WINDOW_MS = 60_000;

/**
 * "Fluentd deliveries recovered after 2m10s; 1,234 events caught up", said once the catching up is
 * done. Caught up: the audit events acknowledged from the first successful delivery after the
 * failure until the backlog is drained, that is no delivery in flight at two checks a second
 * apart; at the latest a minute after the recovery, or when the run ends, or when deliveries
 * fail again (said then, not at the next recovery, which would pair that outage's line with the
 * earlier one's figures). `inFlight` counts the deliveries waiting for Fluentd.
 * Returns a function that says a pending line and stops.
 */
export function reportRecoveries(stats: ExportStats, inFlight: () => number): () => void {
  let pending: { failedFor: number; delivered: number; at: number; idleChecks: number } | undefined;
  const say = () => {
    if (!pending) return;
    const caughtUp = stats.eventsDelivered - pending.delivered;
    const fields = logFields({ failed_seconds: Math.round(pending.failedFor / 1000), events_caught_up: caughtUp });
    logger.info(`Fluentd deliveries recovered after ${formatDuration(pending.failedFor)}; ${caughtUp.toLocaleString("en-US")} events caught up`, fields);
    pending = undefined;
  };
  const unsubscribe = health.onFluentdRecovered((failedFor) => {
    say();
    // Called from the delivery that succeeded, before its events are counted: they count here.
    pending = { failedFor, delivered: stats.eventsDelivered, at: Date.now(), idleChecks: 0 };
  });
  const unsubscribeFailing = health.onFluentdFailing(say);
  const timer = setInterval(() => {
    if (!pending) return;
    pending.idleChecks = inFlight() === 0 ? pending.idleChecks + 1 : 0;
    if (pending.idleChecks >= 2 || Date.now() - pending.at >= CATCH_UP_WINDOW_MS) say();
  }, CHECK_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    unsubscribe();
    unsubscribeFailing();
    say();
  };
}
