import { abortError } from "../lib/abort.ts";
import { formatDuration } from "../lib/duration.ts";
import { redactUrl } from "../lib/redact.ts";
import { logger } from "../logger.ts";
import { halve, makeBatch, splitIntoBatches, type Batch } from "./batch.ts";
import { observeOutcome, observePathRefusal } from "./outcomes.ts";
import { SinkBase } from "./sink-base.ts";
import { classifyStatus, parseRetryAfter } from "./status.ts";
import { serverCertificateNames } from "./server-names.ts";
import { describeSocketError } from "./tls.ts";
import type { DeadLetter, DeliveryReport, FluentdSink, SinkRecord } from "./types.ts";

export type { SinkTuning } from "./sink-base.ts";

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

/** Where a redirect points, for the warning: the host only (the rest is the receiver's to tell). */
function locationHost(location: string | null, base: string): string {
  if (location === null) return "no Location";
  try {
    const target = new URL(location, base);
    return `${target.protocol}//${target.host}`;
  } catch {
    return "an unreadable Location";
  }
}

function firstLines(text: string): string {
  return text.split("\n").map((l) => l.trim()).filter(Boolean).join(" ").slice(0, 300);
}

/** The in_http sink: JSON-array POSTs over HTTPS, a refused batch halved down to the refused records. */
export class HttpFluentdSink extends SinkBase implements FluentdSink {
  /** The last request refused every record it held; cleared by the next acknowledgement. */
  private refusingAll = false;
  /** The last single-record request was refused (batch size 1: see sendBatch). */
  private lastRefused = false;

  async deliver(url: string, records: SinkRecord[], signal?: AbortSignal): Promise<DeliveryReport> {
    this.checkOpen(signal);
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

  /**
   * Sends one batch until the receiver has stored every record or refused some of them one by one
   * (those become dead letters). When it refuses every record of a request, one by one, the
   * verdict is on the path, not the events (a proxy or WAF answering 400 to everything, a header
   * it objects to): dead-lettering would empty the stream into the dead letters and move the
   * checkpoint past all of it, so this is retried like an outage instead. With a batch size of 1 a
   * request holds one record: two refusals in a row with no acknowledgement between stand for it.
   */
  private async sendBatch(url: string, batch: Batch, report: DeliveryReport, signal?: AbortSignal): Promise<void> {
    const started = Date.now();
    for (let round = 1; ; round++) {
      const refused: DeadLetter[] = [];
      const accepted = await this.isolate(url, batch, report, refused, signal);
      const single = batch.records.length === 1;
      const pathRefused = accepted === 0 && (!single || this.refusingAll || (this.opts.batchSize === 1 && this.lastRefused));
      if (!pathRefused) {
        if (accepted > 0) this.refusingAll = this.lastRefused = false;
        else this.lastRefused = true;
        report.deadLettered.push(...(accepted > 0 && refused.length > 0 ? await this.confirmRefusals(url, refused, report, signal) : refused));
        return;
      }
      this.refusingAll = true;
      const cause =
        `HTTP ${refused[0]!.status}: the receiver refused every record of a request one by one, so the fault is in the path ` +
        "(a proxy or firewall in front of Fluentd, fluentd-header, the URL), not in the events; nothing is dead-lettered";
      observePathRefusal(cause);
      await this.retrier.pause({ where: redactUrl(url), cause, failures: round + 1, started, records: batch.records.length }, signal);
      report.retried += batch.records.length;
    }
  }

  /**
   * A receiver that refused everything can recover while a batch is being halved (a proxy back, a
   * buffer drained): the records refused before it did would become dead letters although they are
   * fine. So when a batch ended with some records stored and some refused, each refused one is sent
   * once more on its own, and only a second refusal makes it a dead letter. A record the receiver
   * truly cannot take costs one more request.
   */
  private async confirmRefusals(url: string, refused: DeadLetter[], report: DeliveryReport, signal?: AbortSignal): Promise<DeadLetter[]> {
    const confirmed: DeadLetter[] = [];
    for (const letter of refused) await this.isolate(url, makeBatch([letter.record], this.opts.batchSize > 1), report, confirmed, signal);
    return confirmed;
  }

  /**
   * Sends `batch`, halving refused parts until the refused records stand alone (Fluentd refuses a
   * whole request for one bad record and stores nothing from it). Returns the records acknowledged;
   * the refused ones are added to `refused`.
   */
  private async isolate(url: string, batch: Batch, report: DeliveryReport, refused: DeadLetter[], signal?: AbortSignal): Promise<number> {
    const outcome = await this.sendWithRetry(url, batch, report, signal);
    if (outcome.kind === "ok") {
      report.delivered += batch.records.length;
      report.bytes += batch.bytes;
      return batch.records.length;
    }
    if (batch.records.length > 1) {
      logger.debug("Fluentd refused a batch, splitting it", { url: redactUrl(url), status: outcome.status, records: batch.records.length });
      let accepted = 0;
      for (const half of halve(batch, this.opts.batchSize > 1)) accepted += await this.isolate(url, half, report, refused, signal);
      return accepted;
    }
    const record = batch.records[0]!;
    logger.debug("Fluentd refused an event", { url: redactUrl(url), id: record.id, status: outcome.status });
    // The stored and reported URL is the redacted one: dead letters outlive the run and get listed.
    refused.push({ record, url: redactUrl(url), status: outcome.status, reason: outcome.reason });
    return 0;
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
    let location: string | null;
    try {
      // Never follow a redirect: it would re-send the batch, client certificate and headers to
      // wherever the receiver points (even plain http), and count that answer as Fluentd's.
      const res = await fetch(url, { method: "POST", body, headers, tls: this.tls, signal: combined, keepalive: true, redirect: "manual" });
      status = res.status;
      retryAfter = res.headers.get("retry-after");
      location = res.headers.get("location");
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
      case "redirect":
        return { kind: "retry", cause: `HTTP ${status}: the receiver redirects to ${locationHost(location, url)}; redirects are never followed: set fluentd-url and fluentd-session-url to the final address` };
      case "receiver-refuses":
        return { kind: "retry", cause: `HTTP ${status}: the receiver refuses this client or URL; check fluentd-url, fluentd-session-url and fluentd-header` };
      case "reject-records":
        return { kind: "refused", status, reason: firstLines(text) || `HTTP ${status}` };
    }
  }
}
