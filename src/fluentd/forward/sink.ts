import { hostname } from "node:os";
import type { FluentdConfig } from "../../config/options.ts";
import { parseFluentdUrl, type FluentdUrl } from "../../config/values.ts";
import { redactUrl } from "../../lib/redact.ts";
import { logger, rateLimited } from "../../logger.ts";
import { groupBySize } from "../batch.ts";
import { SinkBase, type SinkTuning } from "../sink-base.ts";
import type { FluentdTlsMaterial } from "../tls.ts";
import type { DeliveryReport, FluentdSink, SinkRecord } from "../types.ts";
import { ForwardConnection } from "./connection.ts";
import { encodeEntry, HandshakeError, MAX_RECORD_NESTING, packFrame, type Credentials } from "./frames.ts";
import { ForwardLane } from "./lane.ts";

/** Frames written on a connection before waiting for the first one's ack (at least `fluentd-inflight-batches`). */
const WINDOW = 8;
/** The statuses recorded for records dead-lettered here, as in_http would answer them. */
const TOO_LARGE = 413;
const TOO_DEEP = 400;

interface Entry {
  record: SinkRecord;
  bytes: Uint8Array;
}

/**
 * Delivers to Fluentd's in_forward with acknowledgements: each batch is one PackedForward frame with
 * a `chunk` id, and counts as delivered only once `{ack: chunk}` came back. The calls to one URL
 * share one connection (a ForwardLane) and keep their call order: up to WINDOW frames of them are in
 * flight, acks are taken in order, and when the connection fails (no ack within fluentd-timeout,
 * reset, refused handshake) every frame not yet acknowledged is sent again, in order, on a new one
 * after the backoff. So a failure can duplicate records, never lose or reorder them.
 */
export class ForwardFluentdSink extends SinkBase implements FluentdSink {
  private readonly idle = new Map<string, ForwardConnection[]>();
  private readonly lanes = new Map<string, ForwardLane>();
  private readonly handshakeErrors: (key: string, fn: () => void) => void;
  private readonly credentials?: Credentials;

  constructor(opts: FluentdConfig, tls: FluentdTlsMaterial, tuning: SinkTuning) {
    super(opts, tls, tuning);
    this.handshakeErrors = rateLimited(this.warnIntervalMs);
    if (opts.sharedKey !== undefined) {
      this.credentials = { sharedKey: opts.sharedKey, username: opts.username, password: opts.password, hostname: hostname() };
    }
  }

  /**
   * Everything up to handing the frames to the URL's lane runs before the first await, so
   * concurrent calls reach the receiver in the order they were made.
   */
  async deliver(url: string, records: SinkRecord[], signal?: AbortSignal): Promise<DeliveryReport> {
    this.checkOpen(signal);
    // Checked when the configuration loaded (scheme, tag, plain text only with allow-insecure).
    const ep = parseFluentdUrl(url);
    const report: DeliveryReport = { delivered: 0, deadLettered: [], requests: 0, bytes: 0, retried: 0 };
    const entries: Entry[] = [];
    for (const record of records) {
      const bytes = encodeEntry(record);
      // in_forward has no per-record answer: a frame over its chunk_size_limit is dropped without
      // an ack, and a record Fluentd cannot unpack fails the whole frame where it is read; either
      // would be re-sent for ever. These are the records we can single out.
      if (bytes === undefined) {
        const reason = `the record nests deeper than ${MAX_RECORD_NESTING} levels, more than Fluentd's msgpack unpacker reads; it cannot be delivered over forward`;
        report.deadLettered.push({ record, url: redactUrl(url), status: TOO_DEEP, reason });
      } else if (bytes.byteLength > this.opts.batchBytes) {
        const reason = `the record is ${bytes.byteLength} bytes as msgpack, over fluentd-batch-bytes (${this.opts.batchBytes}); raise both it and in_forward's chunk_size_limit to deliver it`;
        logger.debug("record too large for a forward frame", { url: redactUrl(url), id: record.id, bytes: bytes.byteLength });
        report.deadLettered.push({ record, url: redactUrl(url), status: TOO_LARGE, reason });
      } else entries.push({ record, bytes });
    }
    const groups = groupBySize(entries, (e) => e.bytes.byteLength, this.opts.batchSize, this.opts.batchBytes);
    const frames = groups.map((g) => packFrame(ep.tag, g.map((e) => e.bytes), this.opts.compress));
    if (frames.length > 0) await this.lane(url, ep).deliver(frames, report, signal);
    return report;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const conns of this.idle.values()) for (const c of conns) c.close();
    this.idle.clear();
  }

  private lane(url: string, ep: FluentdUrl): ForwardLane {
    const existing = this.lanes.get(url);
    if (existing) return existing;
    const key = `${ep.tls ? "tls" : "tcp"}://${ep.host}:${ep.port}`;
    const where = redactUrl(url);
    const lane = new ForwardLane({
      where,
      window: Math.max(WINDOW, this.opts.inflightBatches),
      acquire: (signal) => this.semaphore.acquire(signal),
      connect: async (signal) =>
        this.takeIdle(key) ?? (await ForwardConnection.open(ep, { tls: this.tls, timeoutMs: this.opts.timeout, credentials: this.credentials }, signal)),
      keep: (conn) => {
        if (this.closed) conn.close();
        else this.idle.set(key, [...(this.idle.get(key) ?? []), conn]);
      },
      failed: async (err, pause, signal) => {
        if (err instanceof HandshakeError) this.handshakeErrors(`handshake ${key}`, () => logger.error(`Fluentd forward handshake failed: ${err.message}`, { url: where }));
        await this.retrier.pause(pause, signal);
      },
      // Recordings each have a URL of their own: a lane lives only while it has frames.
      idle: () => this.lanes.delete(url),
    });
    this.lanes.set(url, lane);
    return lane;
  }

  private takeIdle(key: string): ForwardConnection | undefined {
    const list = this.idle.get(key) ?? [];
    let conn = list.pop();
    // The receiver may have closed an idle connection meanwhile.
    while (conn && !conn.usable) conn = list.pop();
    return conn;
  }
}
