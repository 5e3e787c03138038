/**
 * The contract between the export jobs and the Fluentd sink. The jobs hand over serialized events
 * for one URL; the sink batches, retries and reports what it could not deliver.
 */
export interface SinkRecord {
  /** The event id, for dead-letter reports and logs. Never sent. */
  id: string;
  /** The event JSON object, serialized (by the time it is first read). */
  readonly body: string;
  /**
   * The same object as a msgpack map, and its top-level `time` when that is a string, for records
   * the source can write so without building the object (events read from Teleport): the forward
   * sink sends it as it is. "too-deep" when the object nests deeper than `maxDepth` levels;
   * undefined when this record has no such rendering now (the sink then encodes `body`).
   */
  packed?(maxDepth: number, headroom: number): PackedRecord | "too-deep" | undefined;
}

export interface PackedRecord {
  /** The map after `headroom` bytes left free for the sink's prefix. */
  map: Uint8Array;
  time: string | undefined;
}

export interface DeadLetter {
  record: SinkRecord;
  /** Redacted (no user:password): this is what is logged and stored. */
  url: string;
  status: number;
  reason: string;
}

export interface DeliveryReport {
  /** Records the receiver acknowledged. */
  delivered: number;
  deadLettered: DeadLetter[];
  /** HTTP requests made, retries and split halves included. */
  requests: number;
  /** Body bytes of the acknowledged requests. */
  bytes: number;
  /** Records sent again after a failed request (each resend counts). */
  retried: number;
}

export interface FluentdSink {
  /**
   * Resolves once every record was acknowledged by the receiver or rejected permanently (those are
   * in `deadLettered`). Retries transient failures until it succeeds or `signal` aborts, in which
   * case it rejects with an AbortError and the caller must treat the whole call as not delivered.
   * The records of one call are sent in order, so they arrive in order; concurrent calls share the
   * `fluentd-max-connections` connections. Across concurrent calls to one URL, the forward sink
   * keeps call order (one connection per URL); the in_http sink does not (concurrent requests).
   */
  deliver(url: string, records: SinkRecord[], signal?: AbortSignal): Promise<DeliveryReport>;
  close(): Promise<void>;
}
