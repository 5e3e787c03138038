import { logger } from "../logger.ts";
import type { StateStore } from "../state/index.ts";
import type { TeleportSource } from "../teleport/types.ts";
import type { CommitParticipant } from "../export/index.ts";
import { FailedLoginCounter } from "./counter.ts";
import type { LockingConfig } from "../config/options.ts";
import { LockWorker } from "./worker.ts";


export interface AutoLock {
  /** Pass to the export: counts failed logins inside each checkpoint transaction. */
  participant: CommitParticipant;
  /** `drain`: give queued locks one last try (graceful stop); otherwise stop at once. */
  stop(opts: { drain: boolean }): Promise<void>;
}

/**
 * Auto-locking for one run: the counter feeds on delivered events, and (except in dry-run, which
 * only logs what it would lock) a worker sends the decisions, including those a previous run left.
 */
export function startAutoLock(deps: { state: StateStore; source: Pick<TeleportSource, "upsertLock">; settings: LockingConfig; dryRun: boolean }): AutoLock {
  const { state, settings, dryRun } = deps;
  const locking = state.locking;
  const worker = dryRun ? undefined : new LockWorker({ locking, source: deps.source, lockForMs: settings.for });
  const counter = new FailedLoginCounter({ locking, settings, dryRun, onQueued: () => worker?.wake() });
  const expiry = settings.for > 0 ? `for ${settings.for / 1000}s` : "without expiry";
  logger.info(`auto-lock: users with ${settings.failedAttemptsCount} failed logins within ${settings.period / 1000}s are locked ${expiry}`);
  const waiting = state.locking.pendingLocks().length;
  if (waiting > 0 && worker) logger.info(`auto-lock: ${waiting} lock(s) from a previous run still to send`);
  worker?.start();
  return {
    participant: counter,
    stop: async (opts) => worker?.stop(opts),
  };
}
