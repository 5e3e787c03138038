import { interruptOnSignals } from "../lib/abort.ts";
import type { Config } from "../config/options.ts";
import type { FluentdSink } from "../fluentd/types.ts";
import { logDeadLetters, deadLetterLog, isSessionId, sessionUrl } from "../export/index.ts";
import { unredactUrl } from "../lib/redact.ts";
import { logger } from "../logger.ts";
import { findStateFile, StateStore, type StoredDeadLetter } from "../state/index.ts";
import { createFluentdSink } from "../fluentd/index.ts";

/** Where a letter goes: its stored URL, or the URL configured now for its stream. */
export type Destination = (letter: StoredDeadLetter) => string;

export const toStoredUrl: Destination = (letter) => letter.url;

/**
 * The stored URL with its credentials back: URLs are stored redacted, so they come from the
 * configured URL the stored one was redacted from. A URL no longer configured goes out as stored.
 */
export function toStoredUrlOf(configured: readonly string[]): Destination {
  return (letter) => unredactUrl(letter.url, configured) ?? letter.url;
}

/**
 * The URL configured now for the letter's stream: a recording event was stored at
 * `<session-url>.<sid>.log`, anything else at the audit URL. An operator who fixed a wrong
 * fluentd-url (the usual reason letters pile up) wants them to follow the fix.
 */
export function toConfiguredUrl(auditUrl: string, sessionBaseUrl: string): Destination {
  return (letter) => {
    let sid: unknown;
    try {
      sid = (JSON.parse(letter.body) as { sid?: unknown }).sid;
    } catch {
      // Not JSON: it can only have been stored as an audit event.
    }
    return typeof sid === "string" && isSessionId(sid) && letter.url.endsWith(`.${sid}.log`) ? sessionUrl(sessionBaseUrl, sid) : auditUrl;
  };
}

/**
 * Resends stored dead letters, one sink call per URL. Delivered ones are removed; rejected ones
 * stay with their new status. Returns how many were delivered and how many are still dead.
 */
export async function retryDeadLetters(
  state: StateStore,
  sink: FluentdSink,
  signal?: AbortSignal,
  destination: Destination = toStoredUrl,
): Promise<{ delivered: number; stillDead: number }> {
  const byUrl = new Map<string, StoredDeadLetter[]>();
  for (const d of state.deadLetters.list()) {
    const url = destination(d);
    const list = byUrl.get(url);
    if (list) list.push(d);
    else byUrl.set(url, [d]);
  }
  let delivered = 0;
  let stillDead = 0;
  for (const [url, letters] of byUrl) {
    const report = await sink.deliver(url, letters.map((d) => ({ id: d.eventId, body: d.body })), signal);
    state.deadLetters.replace(letters.map((d) => d.id), report.deadLettered);
    logDeadLetters(report.deadLettered);
    deadLetterLog.flush();
    delivered += letters.length - report.deadLettered.length;
    stillDead += report.deadLettered.length;
  }
  return { delivered, stillDead };
}

/**
 * `dead-letters retry`: the sink is built from the full configuration, exactly as `start` builds
 * it, so the letters go out with the same TLS material, headers and limits. The instance lock is
 * not taken: a running export only ever adds rows, and this only removes the rows it resent, so
 * operators need not stop the service to retry. Letters go to the URLs configured now unless
 * `toStoredUrls`. Exit code 0 when nothing is left, 1 otherwise.
 */
export async function runDeadLetterRetry(config: Config, cluster?: string, toStoredUrls = false): Promise<number> {
  const sink = await createFluentdSink(config.fluentd);
  const state = StateStore.open(findStateFile(config.ingest.storage, cluster), { create: false });
  // A receiver that is down makes the sink retry forever; Ctrl-C leaves the letters in place.
  const interrupted = interruptOnSignals();
  try {
    const total = state.deadLetters.count();
    if (total > 0) logger.info(`resending ${total} dead letters`);
    const { url, sessionUrl: sessionBase } = config.fluentd;
    const destination = toStoredUrls ? toStoredUrlOf([url.href, sessionBase.href]) : toConfiguredUrl(url.href, sessionBase.href);
    const { delivered, stillDead } = await retryDeadLetters(state, sink, interrupted.signal, destination);
    process.stdout.write(`${delivered} delivered, ${stillDead} remain\n`);
    return stillDead === 0 ? 0 : 1;
  } catch (err) {
    if (!interrupted.signal.aborted) throw err;
    const remain = state.deadLetters.count();
    process.stdout.write(`interrupted: ${remain} remain\n`);
    return 1;
  } finally {
    interrupted.dispose();
    state.close();
    await sink.close();
  }
}
