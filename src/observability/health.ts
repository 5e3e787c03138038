import { formatDuration } from "../lib/duration.ts";

/** One failure that persists: since when, and the latest reason. */
export interface Failing {
  since: number;
  reason: string;
}

/**
 * What /readyz, exit-timeout and `status` report: Teleport reachable, and Fluentd deliveries not
 * failing. The sink and the source mark outcomes; nothing here polls.
 */
export class Health {
  private teleportOk = false;
  private teleportError = "not connected yet";
  private teleportFailingSince: number | undefined;
  private fluentdFailingSince: number | undefined;
  private fluentdError = "";
  private readonly recoveryListeners = new Set<(failedForMs: number) => void>();
  private readonly failingListeners = new Set<() => void>();

  markTeleportOk(): void {
    this.teleportOk = true;
    this.teleportFailingSince = undefined;
  }

  markTeleportFailed(reason: string, now = Date.now()): void {
    this.teleportOk = false;
    this.teleportError = reason;
    this.teleportFailingSince ??= now;
  }

  /** Returns how long deliveries had been failing when they recover (undefined if they were not). */
  markFluentdOk(now = Date.now()): number | undefined {
    const since = this.fluentdFailingSince;
    this.fluentdFailingSince = undefined;
    if (since === undefined) return undefined;
    for (const listener of this.recoveryListeners) listener(now - since);
    return now - since;
  }

  /** Calls `listener` with how long deliveries had failed, each time they recover. Returns the unsubscribe. */
  onFluentdRecovered(listener: (failedForMs: number) => void): () => void {
    this.recoveryListeners.add(listener);
    return () => this.recoveryListeners.delete(listener);
  }

  /** Someone (a running export) reports recoveries itself, with what it caught up. */
  recoveryReported(): boolean {
    return this.recoveryListeners.size > 0;
  }

  markFluentdFailed(reason: string, now = Date.now()): void {
    const started = this.fluentdFailingSince === undefined;
    this.fluentdFailingSince ??= now;
    this.fluentdError = reason;
    if (started) for (const listener of this.failingListeners) listener();
  }

  /** Calls `listener` each time deliveries start failing (after working). Returns the unsubscribe. */
  onFluentdFailing(listener: () => void): () => void {
    this.failingListeners.add(listener);
    return () => this.failingListeners.delete(listener);
  }

  /** Fluentd deliveries failing right now, or undefined. */
  fluentdFailing(): Failing | undefined {
    return this.fluentdFailingSince === undefined ? undefined : { since: this.fluentdFailingSince, reason: this.fluentdError };
  }

  /** One sentence per persisting failure, for exit-timeout's summary. */
  failures(now = Date.now()): string[] {
    const out: string[] = [];
    if (!this.teleportOk) {
      const since = this.teleportFailingSince;
      out.push(since === undefined ? `Teleport: ${this.teleportError}` : `Teleport calls failing for ${formatDuration(now - since)}: ${this.teleportError}`);
    }
    const fluentd = this.fluentdFailing();
    if (fluentd) out.push(`Fluentd deliveries failing for ${formatDuration(now - fluentd.since)}: ${fluentd.reason}`);
    return out;
  }

  readiness(failurePeriodMs: number, now = Date.now()): { ready: boolean; reasons: string[] } {
    const reasons: string[] = [];
    if (!this.teleportOk) reasons.push(`teleport: ${this.teleportError}`);
    if (this.fluentdFailingSince !== undefined && now - this.fluentdFailingSince > failurePeriodMs) {
      const seconds = Math.round((now - this.fluentdFailingSince) / 1000);
      reasons.push(`fluentd: deliveries failing for ${seconds}s: ${this.fluentdError}`);
    }
    return { ready: reasons.length === 0, reasons };
  }
}

export const health = new Health();
