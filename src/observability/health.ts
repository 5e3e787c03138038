/**
 * What /readyz reports: Teleport reachable, and Fluentd deliveries not failing for longer than the
 * configured period. The sink and the source mark outcomes; nothing here polls.
 */
export class Health {
  private teleportOk = false;
  private teleportError = "not connected yet";
  private fluentdFailingSince: number | undefined;
  private fluentdError = "";

  markTeleportOk(): void {
    this.teleportOk = true;
  }

  markTeleportFailed(reason: string): void {
    this.teleportOk = false;
    this.teleportError = reason;
  }

  markFluentdOk(): void {
    this.fluentdFailingSince = undefined;
  }

  markFluentdFailed(reason: string, now = Date.now()): void {
    this.fluentdFailingSince ??= now;
    this.fluentdError = reason;
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
