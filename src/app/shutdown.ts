import { logger } from "../logger.ts";

/** In-flight batches get this long to finish after SIGTERM/SIGINT. */
const SHUTDOWN_GRACE_MS = 10_000;

export interface Shutdown {
  /** Stop reading; deliveries in flight go on. */
  stop: AbortSignal;
  /** Abandon deliveries in flight (grace period over). */
  abandon: AbortSignal;
  /** Triggers the graceful stop from code (tests, fatal errors). */
  request(reason: string): void;
  dispose(): void;
}

/**
 * First SIGTERM/SIGINT: graceful stop bounded by the grace period. Second SIGINT: exit at once;
 * every checkpoint is a committed transaction, so the state is consistent whenever we die.
 */
export function createShutdown(opts: { handleSignals: boolean }): Shutdown {
  const stop = new AbortController();
  const abandon = new AbortController();
  let deadline: Timer | undefined;
  const request = (reason: string) => {
    if (stop.signal.aborted) return;
    logger.info(`${reason}: finishing in-flight batches, then exiting`);
    stop.abort();
    deadline = setTimeout(() => {
      logger.warn("in-flight batches did not finish in time; they will be sent again on the next start");
      abandon.abort();
    }, SHUTDOWN_GRACE_MS);
    deadline.unref();
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
      if (deadline) clearTimeout(deadline);
      process.off("SIGTERM", onTerm);
      process.off("SIGINT", onInt);
    },
  };
}
