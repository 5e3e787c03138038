import type { FluentdConfig } from "../config/options.ts";
import { abortError } from "../lib/abort.ts";
import type { BackoffPolicy } from "../lib/backoff.ts";
import { Semaphore } from "../lib/semaphore.ts";
import { Retrier } from "./outcomes.ts";
import { DEFAULT_BACKOFF } from "./status.ts";
import type { FluentdTlsMaterial } from "./tls.ts";

/** What tests tune beyond the configuration. */
export interface SinkTuning {
  /** Retry delays; tests shrink them. */
  backoff?: BackoffPolicy;
  /** How often a still-failing receiver is reported at warn (default one minute). */
  warnIntervalMs?: number;
}

/**
 * What every sink holds, whatever its protocol: its settings, the TLS material, the limit of
 * connections in use (`fluentd-max-connections`) and the one retry policy.
 */
export abstract class SinkBase {
  protected readonly semaphore: Semaphore;
  protected readonly retrier: Retrier;
  protected readonly warnIntervalMs: number;
  protected closed = false;

  constructor(
    protected readonly opts: FluentdConfig,
    protected readonly tls: FluentdTlsMaterial,
    tuning: SinkTuning,
  ) {
    this.semaphore = new Semaphore(opts.maxConnections);
    this.warnIntervalMs = tuning.warnIntervalMs ?? 60_000;
    this.retrier = new Retrier(tuning.backoff ?? DEFAULT_BACKOFF, this.warnIntervalMs);
  }

  /** Every delivery starts here: a closed sink or an aborted caller sends nothing. */
  protected checkOpen(signal?: AbortSignal): void {
    if (this.closed) throw new Error("the Fluentd sink is closed");
    if (signal?.aborted) throw abortError();
  }
}
