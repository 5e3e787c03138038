import { logger } from "../logger.ts";

/** In-flight batches get this long to finish after SIGTERM/SIGINT. */
const SHUTDOWN_GRACE_MS = 10_000;
/**
 * After the grace period everything has been aborted; if the process is still alive this much
 * later, some wait ignored its signal. Exiting is safe: every checkpoint is a committed transaction.
 */
const HARD_EXIT_AFTER_GRACE_MS = 2_000;

export interface Shutdown {
  /** Stop reading; deliveries in flight go on. */
  stop: AbortSignal;
  /** Abandon deliveries in flight (grace period over). */
  abandon: AbortSignal;
  /** Triggers the graceful stop from code (tests, fatal errors, exit-timeout); `graceMs` 0 abandons at once. */
  request(reason: string, graceMs?: number): void;
  dispose(): void;
}

export interface ShutdownOptions {
  handleSignals: boolean;
  /** Deliveries waiting for Fluentd right now: the grace-period warning is only true when some are. */
  inFlight?: () => number;
  graceMs?: number;
}

/**
 * First SIGTERM/SIGINT: graceful stop bounded by the grace period. Second SIGINT: exit at once;
 * every checkpoint is a committed transaction, so the state is consistent whenever we die.
 */
export function createShutdown(opts: ShutdownOptions): Shutdown {
  const stop = new AbortController();
  const abandon = new AbortController();
  const timers: Timer[] = [];
  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(fn, ms);
    t.unref();
    timers.push(t);
  };
  const giveUp = () => {
    if (abandon.signal.aborted) return;
    const inFlight = opts.inFlight?.() ?? 0;
    if (inFlight > 0) logger.warn(`${inFlight} in-flight deliveries did not finish in time; their events will be sent again on the next start`);
    abandon.abort();
    if (opts.handleSignals) {
      later(HARD_EXIT_AFTER_GRACE_MS, () => {
        logger.error("shutdown did not complete; exiting now (the saved state is consistent)");
        process.exit(1);
      });
    }
  };
  const request = (reason: string, graceMs = opts.graceMs ?? SHUTDOWN_GRACE_MS) => {
    if (stop.signal.aborted) return;
    logger.info(`${reason}: finishing in-flight batches, then exiting`);
    stop.abort();
    if (graceMs <= 0) giveUp();
    else later(graceMs, giveUp);
  };
  const onTerm = () => request("SIGTERM received");
  const onInt = () => {
    if (stop.signal.aborted) {
      logger.warn("second SIGINT: exiting now");
      process.exit(130);
    }
    request("SIGINT received");
  };
  if (opts.handleSignals) {
    process.on("SIGTERM", onTerm);
    process.on("SIGINT", onInt);
  }
  return {
    stop: stop.signal,
    abandon: abandon.signal,
    request,
    dispose() {
      for (const t of timers) clearTimeout(t);
      process.off("SIGTERM", onTerm);
      process.off("SIGINT", onInt);
    },
  };
}
