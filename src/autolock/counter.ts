import { logger } from "../logger.ts";
import type { LockState } from "../state/index.ts";
import type { CommitParticipant } from "../export/index.ts";
import type { AuditEvent } from "../teleport/types.ts";
import { failedLoginOf, lockName } from "./failed-login.ts";
import type { LockingConfig } from "../config/options.ts";
import { thresholdReachedAt } from "./window.ts";

export interface FailedLoginCounterDeps {
  locking: LockState;
  settings: LockingConfig;
  dryRun: boolean;
  /** Locks were queued and their transaction committed: the worker may send them. */
  onQueued: () => void;
  now?: () => number;
}

/**
 * Auto-locking's part in every audit commit. It counts inside the checkpoint transaction, so a
 * counted failure and a queued lock are durable exactly when the event is, and a crash replays
 * neither; the worker hears of new locks only once they are committed.
 *
 * Once a burst reaches the threshold its failures are spent (the lock mark): further failures
 * start a new count, so a burst of ten failures with a threshold of three locks three times at
 * most, not eight. Re-locking later is harmless (the lock is upserted under the same name) and
 * renews an expiring lock for a user who keeps failing.
 */
export class FailedLoginCounter implements CommitParticipant {
  private readonly now: () => number;
  private queued = false;

  constructor(private readonly deps: FailedLoginCounterDeps) {
    this.now = deps.now ?? Date.now;
  }

  inCommit(delivered: readonly AuditEvent[]): void {
    for (const event of delivered) this.observe(event);
  }

  committed(): void {
    if (!this.queued) return;
    this.queued = false;
    this.deps.onQueued();
  }

  private observe(event: AuditEvent): void {
    const key = failedLoginOf(event);
    if (!key) return;
    const { locking, settings } = this.deps;
    const now = this.now();
    const at = event.time.getTime();
    // Event time, not arrival time: history read in a backfill (or after a long outage) is too old
    // to say anything about an attack happening now, and must never lock anyone.
    if (now - at > settings.period) {
      logger.debug(`auto-lock: failed login of ${key.user} (login "${key.login}") at ${event.time.toISOString()} is older than lock-period; not counted`);
      return;
    }
    // A failure counted here (at most one period old) looks back one more period, so only what
    // is older than two periods can never count again. Pruning at one period dropped the earlier
    // failures of a burst whose last event arrived a moment after its own time.
    locking.prune(new Date(now - 2 * settings.period));
    locking.recordFailedLogin(key, event.time, event.id);
    const times = locking.failureTimes(key, new Date(at - settings.period), new Date(at + settings.period));
    const reached = thresholdReachedAt(times, settings.period, settings.failedAttemptsCount);
    if (reached === undefined) return;
    locking.markLocked(key, new Date(reached));
    const what = `user ${key.user} (login "${key.login}") after ${settings.failedAttemptsCount} failed logins within ${settings.period / 1000}s`;
    if (this.deps.dryRun) {
      logger.info(`dry run: would lock ${what}`, { lock: lockName(key) });
      return;
    }
    locking.enqueueLock(lockName(key), key, new Date(now));
    logger.info(`locking ${what}`, { lock: lockName(key) });
    this.queued = true;
  }
}
