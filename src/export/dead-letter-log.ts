import type { DeadLetter } from "../fluentd/types.ts";
import { logFields, logger } from "../logger.ts";

/** Reasons (and ids of each) named in one line; the rest are counted. */
const FIRST_REASONS = 3;
const IDS_PER_REASON = 3;

interface Reason {
  count: number;
  ids: string[];
}

/**
 * Warns about dead letters without flooding: the first rejection in a quiet minute is logged at
 * once, later ones are counted and logged together at most once per `intervalMs` (a receiver that
 * refuses every event of some kind would otherwise write thousands of lines a second). `flush`
 * writes what is pending, at exit. Never the bodies: they may carry secrets or terminal output.
 */
export class DeadLetterLog {
  private pending = 0;
  private reasons = new Map<string, Reason>();
  private lastLine = -Infinity;
  private timer: Timer | undefined;

  constructor(private readonly intervalMs = 60_000) {}

  note(letters: readonly DeadLetter[]): void {
    if (letters.length === 0) return;
    for (const d of letters) {
      this.pending++;
      // Status 0: Fluentd never saw the event (it could not be read from Teleport; see records.ts).
      const key = d.status === 0 ? d.reason : `HTTP ${d.status}: ${d.reason}`;
      const reason = this.reasons.get(key) ?? { count: 0, ids: [] };
      reason.count++;
      if (reason.ids.length < IDS_PER_REASON) reason.ids.push(d.record.id);
      this.reasons.set(key, reason);
    }
    const wait = this.lastLine + this.intervalMs - Date.now();
    if (wait <= 0) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), wait).unref();
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending === 0) return;
    const entries = [...this.reasons.entries()];
    const [firstKey, first] = entries[0]!;
    const line =
      this.pending === 1
        ? `${firstKey.startsWith("HTTP ") ? "Fluentd rejected" : "Could not export"} event ${first.ids[0]} permanently (${firstKey}); kept in dead letters`
        : `Fluentd rejected ${this.pending} events permanently; kept in dead letters (see dead-letters list): ` +
          entries
            .slice(0, FIRST_REASONS)
            .map(([key, r]) => `${r.count} × ${key} (e.g. ${r.ids.join(", ")})`)
            .join("; ") +
          (entries.length > FIRST_REASONS ? `; and ${entries.length - FIRST_REASONS} other reasons` : "");
    logger.warn(line, logFields({ dead_lettered: this.pending, first_ids: first.ids }));
    this.pending = 0;
    this.reasons.clear();
    this.lastLine = Date.now();
  }
}

/** The process's one dead-letter log: the audit and session exports and `dead-letters retry` share it. */
export const deadLetterLog = new DeadLetterLog();
