/** What the sink makes of a failed request: how the status classes it, and the receiver's Retry-After. */
import type { BackoffPolicy } from "../lib/backoff.ts";

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1_000, capMs: 30_000 };

/** A receiver's Retry-After above this is treated as a misconfiguration, not a promise. */
const MAX_RETRY_AFTER_MS = 5 * 60_000;

/** Retry-After as delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const trimmed = value.trim();
  let ms: number;
  if (/^\d+$/.test(trimmed)) ms = Number(trimmed) * 1000;
  else {
    const date = Date.parse(trimmed);
    if (Number.isNaN(date)) return undefined;
    ms = date - now;
  }
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

export type StatusClass = "success" | "transient" | "reject-records" | "receiver-refuses" | "redirect";

/**
 * Any 2xx is success (Fluentd 200/204, Fluent Bit 201). 408, 429 and 5xx are transient. 401, 403,
 * 404 and 407 say the receiver refuses this client or URL, whatever the records: retrying (with a
 * warning) keeps the events until the operator fixes the token or path, where dead-lettering would
 * discard the whole stream. Other 4xx refuse the records themselves (400 bad record, 413 too big).
 * A 3xx is never followed (see the sink) and is retried like a receiver that refuses this URL.
 */
export function classifyStatus(status: number): StatusClass {
  if (status >= 200 && status < 300) return "success";
  if (status === 408 || status === 429 || status >= 500) return "transient";
  if (status === 401 || status === 403 || status === 404 || status === 407) return "receiver-refuses";
  if (status >= 400) return "reject-records";
  if (status >= 300) return "redirect";
  // 1xx as a final answer is unexpected; retrying is the safe side.
  return "transient";
}
