import { abortError } from "./abort.ts";

/**
 * An idle wait that new work can end early. A wake that arrives while nobody waits is kept, so
 * the next wait returns at once: a loop busy when work was announced never sleeps through it.
 */
export class Wakeup {
  private pending = false;
  private resolve: (() => void) | undefined;

  wake(): void {
    this.pending = true;
    this.resolve?.();
  }

  /** Resolves after `ms` or at the next wake; rejects with an AbortError once `signal` aborts. */
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortError());
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const settle = (outcome: () => void) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.resolve = undefined;
        this.pending = false;
        outcome();
      };
      const timer = setTimeout(() => settle(resolve), ms);
      const onAbort = () => settle(() => reject(abortError()));
      signal?.addEventListener("abort", onAbort, { once: true });
      this.resolve = () => settle(resolve);
    });
  }
}
