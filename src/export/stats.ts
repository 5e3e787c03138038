import { lagMs } from "../lib/lag.ts";

/** Live counters for the summary and progress lines. Only `recordBatch` and the engines write them. */
export class ExportStats {
  readonly startedAt = Date.now();
  eventsDelivered = 0;
  sessionsDelivered = 0;
  deadLettered = 0;
  /** Time of the last delivered audit event (see `lagMs`). */
  lastEventTime: Date | undefined;
  /** Where the reader is in time (for the progress line); may run ahead of deliveries. */
  readPosition: Date | undefined;
  caughtUp = false;

  rate(now = Date.now()): number {
    const seconds = (now - this.startedAt) / 1000;
    return seconds > 0 ? this.eventsDelivered / seconds : 0;
  }

  lagMs(now = Date.now()): number | undefined {
    return lagMs(this.lastEventTime, now);
  }
}
