import type { SinkRecord } from "./types.ts";

/**
 * Groups records into request bodies. With a batch size of 1 the body is the event JSON exactly as
 * Teleport returned it (what the Go tool sends, and what receivers such as Splunk HEC raw expect);
 * otherwise a JSON array, which Fluentd's in_http stores as one record per element. The bodies are
 * joined as they are: they were serialized once upstream and are never re-parsed here.
 */
export interface Batch {
  records: SinkRecord[];
  body: string;
  bytes: number;
}

function recordBytes(record: SinkRecord): number {
  return Buffer.byteLength(record.body, "utf8");
}

function makeBatch(records: SinkRecord[], asArray: boolean): Batch {
  const body = !asArray && records.length === 1 ? records[0]!.body : `[${records.map((r) => r.body).join(",")}]`;
  return { records, body, bytes: Buffer.byteLength(body, "utf8") };
}

/**
 * Splits `records` in order into batches of at most `maxCount` records whose array body stays within
 * `maxBytes`. A record larger than `maxBytes` on its own still goes out, alone: the receiver decides.
 */
export function splitIntoBatches(records: SinkRecord[], maxCount: number, maxBytes: number): Batch[] {
  const asArray = maxCount > 1;
  const batches: Batch[] = [];
  let current: SinkRecord[] = [];
  let currentBytes = 2; // the array brackets
  for (const record of records) {
    const bytes = recordBytes(record);
    if (current.length > 0 && (current.length >= maxCount || currentBytes + 1 + bytes > maxBytes)) {
      batches.push(makeBatch(current, asArray));
      current = [];
      currentBytes = 2;
    }
    currentBytes += bytes + (current.length > 0 ? 1 : 0); // the comma
    current.push(record);
  }
  if (current.length > 0) batches.push(makeBatch(current, asArray));
  return batches;
}

/** The two halves of a refused batch, to isolate the record(s) the receiver objects to. */
export function halve(batch: Batch, asArray: boolean): [Batch, Batch] {
  const mid = Math.ceil(batch.records.length / 2);
  return [makeBatch(batch.records.slice(0, mid), asArray), makeBatch(batch.records.slice(mid), asArray)];
}
