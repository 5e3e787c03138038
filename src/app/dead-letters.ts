import type { FluentdSink } from "../fluentd/types.ts";
import { logDeadLetters } from "../export/audit-commit.ts";
import type { StateStore, StoredDeadLetter } from "../state/index.ts";

/**
 * Resends stored dead letters, one sink call per URL. Delivered ones are removed; rejected ones
 * stay with their new status. Returns how many were delivered and how many are still dead.
 */
export async function retryDeadLetters(state: StateStore, sink: FluentdSink, signal?: AbortSignal): Promise<{ delivered: number; stillDead: number }> {
  const byUrl = new Map<string, StoredDeadLetter[]>();
  for (const d of state.deadLetters()) {
    const list = byUrl.get(d.url);
    if (list) list.push(d);
    else byUrl.set(d.url, [d]);
  }
  let delivered = 0;
  let stillDead = 0;
  for (const [url, letters] of byUrl) {
    const report = await sink.deliver(url, letters.map((d) => ({ id: d.eventId, body: d.body })), signal);
    state.replaceDeadLetters(letters.map((d) => d.id), report.deadLettered);
    logDeadLetters(report.deadLettered);
    delivered += letters.length - report.deadLettered.length;
    stillDead += report.deadLettered.length;
  }
  return { delivered, stillDead };
}
