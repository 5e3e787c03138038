import { hostname } from "node:os";
import type { FluentdConfig } from "../../config/options.ts";
import { parseFluentdUrl, type FluentdUrl } from "../../config/values.ts";
import { abortError, isAbort } from "../../lib/abort.ts";
import { redactUrl } from "../../lib/redact.ts";
import { logger, rateLimited } from "../../logger.ts";
import { groupBySize } from "../batch.ts";
import { observeOutcome } from "../outcomes.ts";
import { SinkBase, type SinkTuning } from "../sink-base.ts";
import type { FluentdTlsMaterial } from "../tls.ts";
import type { DeliveryReport, FluentdSink, SinkRecord } from "../types.ts";
import { ForwardConnection } from "./connection.ts";
import { encodeEntry, HandshakeError, packFrame, type Credentials, type Frame } from "./frames.ts";

/** Frames written on a connection before waiting for the first one's ack. */
const WINDOW = 8;
/** The status recorded for a record the size limit dead-letters, as in_http would answer it. */
const TOO_LARGE = 413;

interface Entry {
  record: SinkRecord;
  bytes: Uint8Array;
}

/**
 * Delivers to Fluentd's in_forward with acknowledgements: each batch is one PackedForward frame with
 * a `chunk` id, and counts as delivered only once `{ack: chunk}` came back. Up to WINDOW frames of
 * one call are in flight on its connection; acks are taken in order, and when the connection fails
 * (no ack within fluentd-timeout, reset, refused handshake) every frame not yet acknowledged is sent
 * again on a new one after the backoff. So a failure can duplicate records, never lose them.
 */
export class ForwardFluentdSink extends SinkBase implements FluentdSink {
  private readonly idle = new Map<string, ForwardConnection[]>();
  private readonly handshakeErrors: (key: string, fn: () => void) => void;
  private readonly credentials?: Credentials;

  constructor(opts: FluentdConfig, tls: FluentdTlsMaterial, tuning: SinkTuning) {
    super(opts, tls, tuning);
    this.handshakeErrors = rateLimited(this.warnIntervalMs);
    if (opts.sharedKey !== undefined) {
      this.credentials = { sharedKey: opts.sharedKey, username: opts.username, password: opts.password, hostname: hostname() };
    }
  }

  async deliver(url: string, records: SinkRecord[], signal?: AbortSignal): Promise<DeliveryReport> {
    this.checkOpen(signal);
    // Checked when the configuration loaded (scheme, tag, plain text only with allow-insecure).
    const ep = parseFluentdUrl(url);
    const report: DeliveryReport = { delivered: 0, deadLettered: [], requests: 0, bytes: 0, retried: 0 };
    const entries: Entry[] = [];
    for (const record of records) {
      const bytes = encodeEntry(record);
      // in_forward has no per-record answer: a frame over its chunk_size_limit is dropped without
      // an ack, and would be re-sent for ever. The one record we can single out is one too large.
      if (bytes.byteLength > this.opts.batchBytes) {
        const reason = `the record is ${bytes.byteLength} bytes as msgpack, over fluentd-batch-bytes (${this.opts.batchBytes}); raise both it and in_forward's chunk_size_limit to deliver it`;
        logger.debug("record too large for a forward frame", { url: redactUrl(url), id: record.id, bytes: bytes.byteLength });
        report.deadLettered.push({ record, url: redactUrl(url), status: TOO_LARGE, reason });
      } else entries.push({ record, bytes });
    }
    const groups = groupBySize(entries, (e) => e.bytes.byteLength, this.opts.batchSize, this.opts.batchBytes);
    const frames = groups.map((g) => packFrame(ep.tag, g.map((e) => e.bytes), this.opts.compress));
    if (frames.length > 0) await this.sendAll(url, ep, frames, report, signal);
    return report;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const conns of this.idle.values()) for (const c of conns) c.close();
    this.idle.clear();
  }

  /** Sends the frames in order on one connection, re-sending from the first unacknowledged one after a failure. */
  private async sendAll(url: string, ep: FluentdUrl, frames: Frame[], report: DeliveryReport, signal?: AbortSignal): Promise<void> {
    const key = `${ep.tls ? "tls" : "tcp"}://${ep.host}:${ep.port}`;
    const where = redactUrl(url);
    const release = await this.semaphore.acquire(signal);
    let conn: ForwardConnection | undefined;
    /** Frames before this one were acknowledged. */
    const progress = { next: 0 };
    const started = Date.now();
    try {
      for (let failures = 0; ; ) {
        const sentAt = performance.now();
        try {
          conn ??= this.takeIdle(key) ?? (await ForwardConnection.open(ep, { tls: this.tls, timeoutMs: this.opts.timeout, credentials: this.credentials }, signal));
          if (failures > 0) report.retried += recordsFrom(frames, progress.next);
          await this.pipeline(conn, frames, progress, report, signal);
          return;
        } catch (err) {
          conn?.fail(err as Error);
          conn = undefined;
          if (isAbort(err, signal)) throw abortError();
          failures++;
          const cause = (err as Error).message;
          observeOutcome({ kind: "retry", cause }, (performance.now() - sentAt) / 1000);
          if (err instanceof HandshakeError) this.handshakeErrors(`handshake ${key}`, () => logger.error(`Fluentd forward handshake failed: ${cause}`, { url: where }));
          await this.retrier.pause({ where, cause, failures, started, records: recordsFrom(frames, progress.next) }, signal);
        }
      }
    } finally {
      if (conn?.usable && !this.closed) this.idle.set(key, [...(this.idle.get(key) ?? []), conn]);
      release();
    }
  }

  private takeIdle(key: string): ForwardConnection | undefined {
    const list = this.idle.get(key) ?? [];
    let conn = list.pop();
    // The receiver may have closed an idle connection meanwhile.
    while (conn && !conn.usable) conn = list.pop();
    return conn;
  }

  /**
   * Writes frames from `progress.next` on, keeping up to `window` unacknowledged, and takes the acks
   * in order, moving `progress.next` past each. Throws at the first failure: the frames after it
   * share its fate, and the caller re-sends from `progress.next`.
   */
  private async pipeline(conn: ForwardConnection, frames: Frame[], progress: { next: number }, report: DeliveryReport, signal?: AbortSignal): Promise<void> {
    const inFlight: Array<{ frame: Frame; acked: Promise<void>; sentAt: number }> = [];
    let sent = progress.next;
    const onAbort = () => conn.fail(abortError());
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      while (progress.next < frames.length) {
        while (sent < frames.length && inFlight.length < WINDOW) {
          const frame = frames[sent++]!;
          const acked = conn.send(frame);
          acked.catch(() => undefined); // awaited below, in order
          report.requests++;
          inFlight.push({ frame, acked, sentAt: performance.now() });
        }
        const head = inFlight.shift()!;
        await head.acked;
        observeOutcome({ kind: "ok", bytes: head.frame.entryBytes }, (performance.now() - head.sentAt) / 1000);
        report.delivered += head.frame.records;
        report.bytes += head.frame.entryBytes;
        progress.next++;
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }
}

function recordsFrom(frames: Frame[], first: number): number {
  let n = 0;
  for (let i = first; i < frames.length; i++) n += frames[i]!.records;
  return n;
}
