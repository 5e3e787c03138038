import type { FluentdConfig } from "../config/options.ts";
import { abortError } from "../lib/abort.ts";
import type { BackoffPolicy } from "../lib/backoff.ts";
import { formatDuration } from "../lib/duration.ts";
import { redactUrl } from "../lib/redact.ts";
import { Semaphore } from "../lib/semaphore.ts";
import { logger } from "../logger.ts";
import { halve, splitIntoBatches, type Batch } from "./batch.ts";
import { observeOutcome, Retrier } from "./outcomes.ts";
import { classifyStatus, DEFAULT_BACKOFF, parseRetryAfter } from "./status.ts";
import { serverCertificateNames } from "./server-names.ts";
import { describeSocketError, type FluentdTlsMaterial } from "./tls.ts";
import type { DeliveryReport, FluentdSink, SinkRecord } from "./types.ts";

/** What tests tune beyond the configuration. */
export interface SinkTuning {
  /** Retry delays; tests shrink them. */
  backoff?: BackoffPolicy;
  /** How often a still-failing receiver is reported at warn (default one minute). */
  warnIntervalMs?: number;
}

/** The session recording URL of one session, as the Go tool builds it. */
export function sessionUrl(base: string, sid: string): string {
  return `${base}.${sid}.log`;
}

type Attempt =
  | { kind: "ok" }
  | { kind: "refused"; status: number; reason: string }
  | { kind: "retry"; cause: string; retryAfterMs?: number; staleConnection?: boolean };

// Bun reports a socket the server closed while it sat in the pool with these codes; the request
// never reached the application, so it is resent at once rather than after a backoff.
const STALE_CONNECTION_CODES = new Set(["ECONNRESET", "ConnectionClosed", "EPIPE"]);

/**
 * Fluentd refuses a client certificate (expired, or from a CA not in its ca_path) after the TLS
 * handshake: TLS 1.3 clients see only a reset connection. A reset on a fresh connection, with a
 * client certificate configured, almost always means that.
 */
const REFUSED_CLIENT_CERT =
  "Fluentd closed the connection after the TLS handshake: it probably refused the client certificate (fluentd-cert); check that its CA is in Fluentd's ca_path";

function describeFetchError(err: unknown, clientCert: boolean, freshConnection: boolean): { cause: string; code: string } {
  const e = err as { code?: string; name?: string; message?: string };
  const code = e.code ?? e.name ?? "Error";
  if (clientCert && freshConnection && STALE_CONNECTION_CODES.has(code)) return { cause: `${REFUSED_CLIENT_CERT} (${code})`, code };
  // Bun appends advice about `verbose: true`, which means nothing to an operator.
  const message = (e.message ?? String(err)).split(" For more information")[0]!.trim().replace(/\.$/, "");
  return { cause: describeSocketError({ code: e.code, name: e.name ?? "Error", message }), code };
}

function firstLines(text: string): string {
  return text.split("\n").map((l) => l.trim()).filter(Boolean).join(" ").slice(0, 300);
}

/** The in_http sink: JSON-array POSTs over HTTPS, a refused batch halved down to the refused records. */
export class HttpFluentdSink implements FluentdSink {
  private readonly semaphore: Semaphore;
  private readonly retrier: Retrier;
  private closed = false;

  constructor(
    private readonly opts: FluentdConfig,
    private readonly tls: FluentdTlsMaterial,
    tuning: SinkTuning,
  ) {
    this.semaphore = new Semaphore(opts.maxConnections);
    this.retrier = new Retrier(tuning.backoff ?? DEFAULT_BACKOFF, tuning.warnIntervalMs ?? 60_000);
  }

  async deliver(url: string, records: SinkRecord[], signal?: AbortSignal): Promise<DeliveryReport> {
    if (this.closed) throw new Error("the Fluentd sink is closed");
    if (signal?.aborted) throw abortError();
    const report: DeliveryReport = { delivered: 0, deadLettered: [], requests: 0, bytes: 0, retried: 0 };
    // One request at a time, in order: the records of one call are consecutive events of one
    // stream (a recording must arrive in order), and concurrency comes from concurrent calls.
    for (const batch of splitIntoBatches(records, this.opts.batchSize, this.opts.batchBytes)) {
      await this.sendBatch(url, batch, report, signal);
    }
    return report;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** Sends one batch; a refused batch is halved until the refused records stand alone. */
  private async sendBatch(url: string, batch: Batch, report: DeliveryReport, signal?: AbortSignal): Promise<void> {
    const outcome = await this.sendWithRetry(url, batch, report, signal);
    if (outcome.kind === "ok") {
      report.delivered += batch.records.length;
      report.bytes += batch.bytes;
      return;
    }
    if (batch.records.length > 1) {
      // Fluentd refuses a whole request for one bad record and stores nothing from it.
      logger.debug("Fluentd refused a batch, splitting it", { url: redactUrl(url), status: outcome.status, records: batch.records.length });
      for (const half of halve(batch, this.opts.batchSize > 1)) await this.sendBatch(url, half, report, signal);
      return;
    }
    const record = batch.records[0]!;
    logger.debug("Fluentd refused an event permanently", { url: redactUrl(url), id: record.id, status: outcome.status });
    report.deadLettered.push({ record, url, status: outcome.status, reason: outcome.reason });
  }

  private async sendWithRetry(url: string, batch: Batch, report: DeliveryReport, signal?: AbortSignal): Promise<Exclude<Attempt, { kind: "retry" }>> {
    const started = Date.now();
    for (let failures = 1; ; failures++) {
      const release = await this.semaphore.acquire(signal);
      let attempt: Attempt;
      try {
        report.requests++;
        if (failures > 1) report.retried += batch.records.length;
        const sent = performance.now();
        attempt = await this.post(url, batch, signal, failures > 1);
        observeOutcome(attempt.kind === "ok" ? { kind: "ok", bytes: batch.bytes } : attempt, (performance.now() - sent) / 1000);
      } finally {
        release();
      }
      if (attempt.kind !== "retry") return attempt;

      const immediate = failures === 1 && attempt.staleConnection === true;
      const pause = { where: redactUrl(url), cause: attempt.cause, failures, started, records: batch.records.length };
      await this.retrier.pause({ ...pause, delayMs: attempt.retryAfterMs ?? (immediate ? 0 : undefined) }, signal);
    }
  }

  private readonly mismatches = new Map<string, string>();

  /** "check fluentd-ca" does not help with a name mismatch: say which name was asked for and which the certificate has. */
  private async nameMismatch(url: string, fallback: string): Promise<string> {
    const { hostname, port } = new URL(url);
    const host = hostname.replace(/^\[|\]$/g, "");
    const key = `${host}:${port}`;
    const known = this.mismatches.get(key);
    if (known) return known;
    const names = await serverCertificateNames(host, Number(port) || 443);
    const cause = names
      ? `the Fluentd server certificate is for ${names.join(", ")}, not ${host}: use one of those names in the URL, or issue a server certificate that names ${host} (configure --dns-names)`
      : fallback;
    this.mismatches.set(key, cause);
    return cause;
  }

  /** `retrying`: the previous attempt failed, so this one cannot have met a stale pooled connection. */
  private async post(url: string, batch: Batch, signal?: AbortSignal, retrying = false): Promise<Attempt> {
    const timeout = AbortSignal.timeout(this.opts.timeout);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const headers = new Headers({ "Content-Type": "application/json" });
    for (const { name, value } of this.opts.header) headers.set(name, value);
    // in_http inflates a gzip Content-Encoding before parsing; the batch stays JSON.
    const gzip = this.opts.compress === "gzip";
    const body = gzip ? Bun.gzipSync(batch.body) : batch.body;
    if (gzip) headers.set("Content-Encoding", "gzip");
    let status: number;
    let text: string;
    let retryAfter: string | null;
    try {
      const res = await fetch(url, { method: "POST", body, headers, tls: this.tls, signal: combined, keepalive: true });
      status = res.status;
      retryAfter = res.headers.get("retry-after");
      // Reading the (short) body lets the connection go back to the pool.
      text = await res.text();
    } catch (err) {
      if (signal?.aborted) throw abortError();
      if (timeout.aborted) return { kind: "retry", cause: `no response within ${formatDuration(this.opts.timeout)} (fluentd-timeout)` };
      const { cause, code } = describeFetchError(err, this.tls.cert !== undefined, retrying);
      if (code === "ERR_TLS_CERT_ALTNAME_INVALID") return { kind: "retry", cause: await this.nameMismatch(url, cause) };
      return { kind: "retry", cause, staleConnection: STALE_CONNECTION_CODES.has(code) };
    }
    switch (classifyStatus(status)) {
      case "success":
        return { kind: "ok" };
      case "transient":
        return { kind: "retry", cause: `HTTP ${status}`, retryAfterMs: parseRetryAfter(retryAfter) };
      case "receiver-refuses":
        return { kind: "retry", cause: `HTTP ${status}: the receiver refuses this client or URL; check fluentd-url, fluentd-session-url and fluentd-header` };
      case "reject-records":
        return { kind: "refused", status, reason: firstLines(text) || `HTTP ${status}` };
    }
  }
}
