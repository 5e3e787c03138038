/**
 * The error every abortable wait here rejects with. Always an AbortError, whatever the signal's
 * reason (a timeout signal's is a TimeoutError), so callers can tell "stopped" from "failed" by name.
 */
export function abortError(): DOMException {
  return new DOMException("aborted", "AbortError");
}

/** What our own loops throw once their stop signal aborted, so callers tell "stopped" from "failed". */
export class Stopped extends Error {
  constructor() {
    super("stopped");
    this.name = "Stopped";
  }
}

/** True for a stop: our signal aborted, our `Stopped`, or an AbortError/TimeoutError from a call we aborted. */
export function isAbort(err: unknown, signal?: AbortSignal): boolean {
  if (signal?.aborted || err instanceof Stopped) return true;
  // The platform's (fetch, AbortSignal.timeout) are DOMExceptions, which only their name tells apart.
  return err instanceof Error && (err.name === "AbortError" || err.name === "TimeoutError");
}

/** Resolves after `ms`, or rejects with an AbortError once `signal` aborts (see `Wakeup` for waits work can end). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const timer = setTimeout(() => {
      done();
      resolve();
    }, ms);
    const onAbort = () => {
      done();
      reject(abortError());
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * `promise`, or an AbortError as soon as `signal` aborts, whichever comes first: for calls that do
 * not take a signal themselves (or do not honour it while connecting), so no wait outlives a stop.
 */
export function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(abortError());
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      promise.catch(() => {});
      reject(abortError());
    };
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (err) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}

/**
 * For one-shot commands (dead-letters retry, verify): SIGINT or SIGTERM aborts the returned signal
 * instead of killing the process, so the command can say what it left undone. `dispose` restores
 * the default handling.
 */
export function interruptOnSignals(): { signal: AbortSignal; dispose(): void } {
  const interrupted = new AbortController();
  const stop = () => interrupted.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return {
    signal: interrupted.signal,
    dispose() {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
    },
  };
}
