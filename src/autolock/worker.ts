import { logger, rateLimited } from "../logger.ts";
import type { LockState, PendingLock } from "../state/index.ts";
import { TeleportError, type TeleportSource } from "../teleport/types.ts";
import { Wakeup } from "../lib/wakeup.ts";
import { LOCK_MESSAGE } from "./failed-login.ts";

/** Each UpsertLock gets this long; a hung call must not hold the queue. */
const CALL_TIMEOUT_MS = 15_000;
/** The last pass at shutdown gets this long in all, so a dead Teleport cannot delay the exit much. */
const DRAIN_TIMEOUT_MS = 5_000;
const RETRY_BASE_MS = 1_000;
const RETRY_MAX_MS = 5 * 60_000;
/** With nothing due, look again this often anyway (cheap: one indexed read). */
const IDLE_MS = 60_000;

const onceEveryTenMinutes = rateLimited(10 * 60_000);

export interface LockWorkerDeps {
  locking: LockState;
  source: Pick<TeleportSource, "upsertLock">;
  lockForMs: number;
  now?: () => number;
}

function retryDelayMs(attempts: number): number {
  return Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(attempts - 1, 20));
}

/**
 * Sends queued lock decisions to Teleport in the background, so locking never holds up the
 * export: a refused or failing call is retried with backoff, across restarts too (the queue is in
 * the state database).
 */
export class LockWorker {
  private readonly now: () => number;
  private readonly hardStop = new AbortController();
  private stopping = false;
  private readonly wakeup = new Wakeup();
  private loop?: Promise<void>;

  constructor(private readonly deps: LockWorkerDeps) {
    this.now = deps.now ?? Date.now;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** New decisions are queued: send them now rather than at the next idle check. */
  wake(): void {
    this.wakeup.wake();
  }

  /**
   * Stops the loop. With `drain`, every queued lock gets one last, time-boxed try, backoff or
   * not (so a run with exit-on-last-event places the locks it decided, and a cron run retries
   * what an earlier one could not send); what fails stays queued for next time.
   */
  async stop(opts: { drain: boolean }): Promise<void> {
    this.stopping = true;
    if (!opts.drain) this.hardStop.abort();
    this.wakeup.wake();
    await this.loop;
    if (opts.drain) await this.sendDue(AbortSignal.any([this.hardStop.signal, AbortSignal.timeout(DRAIN_TIMEOUT_MS)]), { ignoreBackoff: true });
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      await this.sendDue(this.hardStop.signal);
      if (this.stopping) break;
      const next = Math.min(...this.deps.locking.pendingLocks().map((l) => l.notBefore.getTime()), this.now() + IDLE_MS);
      await this.wakeup.wait(Math.max(0, next - this.now()));
    }
  }

  private async sendDue(signal: AbortSignal, opts: { ignoreBackoff?: boolean } = {}): Promise<void> {
    for (const lock of this.deps.locking.pendingLocks()) {
      if (signal.aborted) return;
      if (!opts.ignoreBackoff && lock.notBefore.getTime() > this.now()) continue;
      await this.send(lock, signal);
    }
  }

  private async send(lock: PendingLock, signal: AbortSignal): Promise<void> {
    const { locking, source, lockForMs } = this.deps;
    const expires = lockForMs > 0 ? new Date(this.now() + lockForMs) : undefined;
    try {
      await source.upsertLock(
        { name: lock.name, user: lock.user, login: lock.login, message: LOCK_MESSAGE, expires },
        AbortSignal.any([signal, AbortSignal.timeout(CALL_TIMEOUT_MS)]),
      );
    } catch (err) {
      if (signal.aborted) return;
      this.failed(lock, err);
      return;
    }
    locking.lockSent(lock);
    logger.info("User login is locked", { user: lock.user, login: lock.login, lock: lock.name, expires: expires?.toISOString() ?? "never" });
  }

  private failed(lock: PendingLock, err: unknown): void {
    const reason = err instanceof Error ? err.message : String(err);
    const kind = err instanceof TeleportError ? err.kind : "other";
    if (kind === "invalid") {
      // Sending the same request again cannot succeed.
      logger.error(`Teleport rejected the lock for user ${lock.user} (login "${lock.login}"): ${reason}; the lock is dropped`);
      this.deps.locking.lockSent(lock);
      return;
    }
    const attempts = lock.attempts + 1;
    const delay = retryDelayMs(attempts);
    this.deps.locking.retryLockLater(lock.name, attempts, new Date(this.now() + delay));
    if (kind === "permission-denied") {
      onceEveryTenMinutes("permission", () =>
        logger.error(
          `Teleport refused to lock user ${lock.user} (login "${lock.login}"): the event handler's role needs the "lock" resource with verbs "create" and "update" (the role file written by "configure" grants them); the export goes on and the lock is retried in the background: ${reason}`,
        ),
      );
      return;
    }
    onceEveryTenMinutes(`failed:${lock.name}`, () =>
      logger.warn(`could not lock user ${lock.user} (login "${lock.login}"), retrying in the background: ${reason}`),
    );
  }
}
