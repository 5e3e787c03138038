import type { Config } from "../config/options.ts";
import type { FluentdSink } from "../fluentd/types.ts";
import { logDeadLetters } from "../export/index.ts";
import { unredactUrl } from "../lib/redact.ts";
import { logger } from "../logger.ts";
import { findStateFile, StateStore, type StoredDeadLetter } from "../state/index.ts";
import { createFluentdSink } from "../fluentd/index.ts";

/**
 * Resends stored dead letters, one sink call per URL. Delivered ones are removed; rejected ones
 * stay with their new status. Returns how many were delivered and how many are still dead.
 */
export async function retryDeadLetters(
  state: StateStore,
  sink: FluentdSink,
  configuredUrls: readonly string[],
  signal?: AbortSignal,
): Promise<{ delivered: number; stillDead: number }> {
  const byUrl = new Map<string, StoredDeadLetter[]>();
  for (const d of state.deadLetters.list()) {
    const list = byUrl.get(d.url);
    if (list) list.push(d);
    else byUrl.set(d.url, [d]);
  }
  let delivered = 0;
  let stillDead = 0;
  for (const [shown, letters] of byUrl) {
    // Stored URLs are redacted; the credentials come back from the configuration, or, for a URL
    // no longer configured, the letters go out as stored (a receiver needing them will refuse).
    const url = unredactUrl(shown, configuredUrls) ?? shown;
    const report = await sink.deliver(url, letters.map((d) => ({ id: d.eventId, body: d.body })), signal);
    state.deadLetters.replace(letters.map((d) => d.id), report.deadLettered);
    logDeadLetters(report.deadLettered);
    delivered += letters.length - report.deadLettered.length;
    stillDead += report.deadLettered.length;
  }
  return { delivered, stillDead };
}

/**
 * `dead-letters retry`: the sink is built from the full configuration, exactly as `start` builds
 * it, so the letters go out with the same TLS material, headers and limits. The instance lock is
 * not taken: a running export only ever adds rows, and this only removes the rows it resent, so
 * operators need not stop the service to retry. Exit code 0 when nothing is left, 1 otherwise.
 */
export async function runDeadLetterRetry(config: Config, cluster?: string): Promise<number> {
  const sink = await createFluentdSink(config.fluentd);
  const state = StateStore.open(findStateFile(config.ingest.storage, cluster), { create: false });
  // A receiver that is down makes the sink retry forever; Ctrl-C leaves the letters in place.
  const interrupted = new AbortController();
  const stop = () => interrupted.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    const total = state.deadLetters.count();
    if (total > 0) logger.info(`resending ${total} dead letters`);
    const { delivered, stillDead } = await retryDeadLetters(state, sink, [config.fluentd.url.href, config.fluentd.sessionUrl.href], interrupted.signal);
    process.stdout.write(`${delivered} delivered, ${stillDead} remain\n`);
    return stillDead === 0 ? 0 : 1;
  } catch (err) {
    if (!interrupted.signal.aborted) throw err;
    const remain = state.deadLetters.count();
    process.stdout.write(`interrupted: ${remain} remain\n`);
    return 1;
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    state.close();
    await sink.close();
  }
}
