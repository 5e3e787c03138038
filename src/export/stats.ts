import { lagMs } from "../lib/lag.ts";

/** Live counters for the summary and progress lines. Only `recordBatch` and the engines write them. */
export class ExportStats {
  readonly startedAt = Date.now();
  eventsDelivered = 0;
  sessionsDelivered = 0;
  deadLettered = 0;
  /** Audit events delivered by late-event sweeps (also in eventsDelivered). */
  lateEvents = 0;
  /** Time of the last delivered audit event (see `lagMs`). */
  lastEventTime: Date | undefined;
  /** Where the export started (settled by the first run): lag counts from here until something is delivered. */
  startTime: Date | undefined;
  /** Where the reader is in time (for the progress line); may run ahead of deliveries. */
  readPosition: Date | undefined;
  caughtUp = false;
  /**
   * Audit batches Fluentd acknowledged that wait for an earlier batch to commit: a shutdown that
   * abandons that one sends them again too.
   */
  awaitingCommit = 0;

  /** Average since the process started: the exit summary. */
  rate(now = Date.now()): number {
    const seconds = (now - this.startedAt) / 1000;
    return seconds > 0 ? this.eventsDelivered / seconds : 0;
  }

  lagMs(now = Date.now()): number | undefined {
    return lagMs(this.lastEventTime, now, this.startTime);
  }
}

/**
 * The delivery rate since the previous call: the per-minute progress line shows what the export
 * does now, not an average that a fast first minute keeps high for hours.
 */
export function recentRate(stats: ExportStats): (now?: number) => number {
  let at = stats.startedAt;
  let delivered = stats.eventsDelivered;
  return (now = Date.now()) => {
    const seconds = (now - at) / 1000;
    const rate = seconds > 0 ? (stats.eventsDelivered - delivered) / seconds : 0;
    at = now;
    delivered = stats.eventsDelivered;
    return rate;
  };
}
