/**
 * Resolves after `ms`, or rejects with the signal's reason once it aborts. `wakeEarly` receives a
 * function that ends the sleep at once (an idle or new-work notification).
 */
export function sleep(ms: number, signal?: AbortSignal, wakeEarly?: (wake: () => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
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
      reject(abortReason(signal!));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    wakeEarly?.(() => {
      done();
      resolve();
    });
  });
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("aborted", "AbortError");
}

export function isAbort(err: unknown, signal?: AbortSignal): boolean {
  if (signal?.aborted) return true;
  return err instanceof Error && (err.name === "AbortError" || err.name === "TimeoutError");
}

/** Exponential backoff with full jitter: spreads reconnects instead of stampeding a recovering server. */
export class Backoff {
  private failures = 0;
  constructor(
    private readonly baseMs = 500,
    private readonly maxMs = 30_000,
  ) {}

  reset(): void {
    this.failures = 0;
  }

  get attempts(): number {
    return this.failures;
  }

  nextDelayMs(): number {
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.failures, 20));
    this.failures++;
    return this.baseMs / 2 + Math.random() * (ceiling - this.baseMs / 2);
  }

  wait(signal?: AbortSignal): Promise<void> {
    return sleep(this.nextDelayMs(), signal);
  }
}
