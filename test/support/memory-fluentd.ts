import type { DeadLetter, DeliveryReport, FluentdSink, SinkRecord } from "../../src/fluentd/types.ts";

/**
 * A stop-gap, in-memory sink for testing the export jobs. `rejectIds` are dead-lettered like a
 * permanent HTTP 400; `restart(n)` simulates the process dying after the receiver acknowledged
 * its nth batch but before the checkpoint was committed.
 */
export class MemoryFluentd implements FluentdSink {
  received = new Map<string, string[]>();
  calls = 0;
  /** Body characters of every call, in order, per URL: what one call made the job hold at once. */
  callChars = new Map<string, number[]>();
  rejectIds = new Set<string>();
  private crashAfterCalls = 0;

  /** The crash has happened: a dead process sends nothing more, so later calls reach nobody. */
  private get crashed(): boolean {
    return this.crashAfterCalls > 0 && this.calls >= this.crashAfterCalls;
  }

  async deliver(url: string, records: SinkRecord[]): Promise<DeliveryReport> {
    if (this.crashed) throw new Error("simulated crash: the process is already dead");
    this.calls++;
    const deadLettered: DeadLetter[] = [];
    const list = this.received.get(url) ?? [];
    this.received.set(url, list);
    this.callChars.set(url, [...(this.callChars.get(url) ?? []), records.reduce((n, r) => n + r.body.length, 0)]);
    for (const r of records) {
      if (this.rejectIds.has(r.id)) deadLettered.push({ record: r, url, status: 400, reason: "bad request" });
      else list.push(r.body);
    }
    if (this.crashed) throw new Error("simulated crash after acknowledgement");
    return { delivered: records.length - deadLettered.length, deadLettered, requests: 1, bytes: 0, retried: 0 };
  }

  /** The next run is a new process: it starts with no crash pending. */
  restart(crashAfterCalls = 0): void {
    this.calls = 0;
    this.crashAfterCalls = crashAfterCalls;
  }

  uids(url: string): string[] {
    return (this.received.get(url) ?? []).map((body) => (JSON.parse(body) as { uid: string }).uid);
  }

  async close(): Promise<void> {}
}
