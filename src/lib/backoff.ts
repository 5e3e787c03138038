import { sleep } from "./abort.ts";

export interface BackoffPolicy {
  /** First delay's upper bound. */
  baseMs: number;
  /** Upper bound of every delay. */
  capMs: number;
  /** Lower bound of every delay; 0 (the default) is "full jitter". */
  floorMs?: number;
}

/**
 * Exponential backoff with jitter: a uniform delay in [floor, min(cap, base·2^(n-1))) after the
 * n-th failure, so retrying clients spread out instead of stampeding a recovering server.
 */
export function backoffDelay(policy: BackoffPolicy, failures: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(failures - 1, 30));
  const floor = policy.floorMs ?? 0;
  return Math.floor(floor + random() * (ceiling - floor));
}

/**
 * Counts consecutive failures of one retried operation. Its delays never drop below half the base,
 * so a reconnect never follows a failure at once.
 */
export class Backoff {
  private failures = 0;
  private readonly policy: BackoffPolicy;

  constructor(baseMs = 500, capMs = 30_000) {
    this.policy = { baseMs, capMs, floorMs: baseMs / 2 };
  }

  reset(): void {
    this.failures = 0;
  }

  get attempts(): number {
    return this.failures;
  }

  nextDelayMs(): number {
    this.failures++;
    return backoffDelay(this.policy, this.failures);
  }

  wait(signal?: AbortSignal): Promise<void> {
    return sleep(this.nextDelayMs(), signal);
  }
}
