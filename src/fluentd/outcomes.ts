import { sleep } from "../lib/abort.ts";
import { backoffDelay, type BackoffPolicy } from "../lib/backoff.ts";
import { logger, rateLimited } from "../logger.ts";
import { health } from "../observability/health.ts";
import { bytesSent, deliveryLatency, errorKinds, requestOutcomes } from "../observability/metrics.ts";
import { formatDuration } from "../lib/duration.ts";

/**
 * What both sinks (in_http and forward) do with the outcome of one request or frame: metrics and
 * readiness per request, never per record, and the same retry cadence and warnings.
 */
export type Outcome = { kind: "ok"; bytes: number } | { kind: "refused" } | { kind: "retry"; cause: string };

export function observeOutcome(outcome: Outcome, seconds: number): void {
  deliveryLatency.observe(seconds);
  if (outcome.kind === "retry") {
    requestOutcomes.retry.inc();
    errorKinds.fluentd.inc();
    health.markFluentdFailed(outcome.cause);
    return;
  }
  // A refusal says nothing yet about the receiver's health: one bad record, or a path that refuses
  // everything (see the in_http sink). Only an acknowledgement proves the path works.
  if (outcome.kind === "refused") return requestOutcomes.rejected.inc();
  const failedFor = health.markFluentdOk();
  // A running export says it once the backlog is sent, with the count (app/recovery.ts).
  if (failedFor !== undefined && !health.recoveryReported()) {
    logger.info(`Fluentd deliveries recovered after ${formatDuration(failedFor)}; the events held back are being sent now`);
  }
  requestOutcomes.ok.inc();
  bytesSent.inc(outcome.bytes);
}

/** The receiver refused every record of a request one by one: a fault of the path, not of the records. */
export function observePathRefusal(cause: string): void {
  errorKinds.fluentd.inc();
  health.markFluentdFailed(cause);
}

export interface RetryPause {
  /** Redacted URL: the only form that is logged. */
  where: string;
  cause: string;
  /** Consecutive failures so far, 1 for the first. */
  failures: number;
  /** When the first of them happened. */
  started: number;
  records: number;
  /** The receiver's own delay (Retry-After), or 0 to retry at once; the backoff otherwise. */
  delayMs?: number;
}

/** Logs a failed attempt (debug each time, a rate-limited warning while it keeps failing) and waits the backoff. */
export class Retrier {
  private readonly warn: (key: string, fn: () => void) => void;

  constructor(
    private readonly backoff: BackoffPolicy,
    warnIntervalMs: number,
  ) {
    this.warn = rateLimited(warnIntervalMs);
  }

  async pause(p: RetryPause, signal?: AbortSignal): Promise<void> {
    const delay = p.delayMs ?? backoffDelay(this.backoff, p.failures);
    logger.debug("Fluentd request failed, retrying", { url: p.where, cause: p.cause, attempt: p.failures, records: p.records, retryInMs: delay });
    if (p.failures >= 2) {
      this.warn(p.where, () =>
        logger.warn(`Fluentd delivery failing for ${formatDuration(Date.now() - p.started)}, still retrying`, { url: p.where, cause: p.cause }),
      );
    }
    await sleep(delay, signal);
  }
}
