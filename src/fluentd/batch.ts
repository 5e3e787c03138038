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

export function makeBatch(records: SinkRecord[], asArray: boolean): Batch {
  const body = !asArray && records.length === 1 ? records[0]!.body : `[${records.map((r) => r.body).join(",")}]`;
  return { records, body, bytes: Buffer.byteLength(body, "utf8") };
}

/**
 * Splits `items` in order into groups of at most `maxCount` whose size stays within `maxBytes`, a
 * group costing `overhead` bytes plus each item's size plus `separator` between items. An item
 * larger than `maxBytes` on its own still forms a group, alone: the caller decides what to do with it.
 */
export function groupBySize<T>(items: T[], sizeOf: (item: T) => number, maxCount: number, maxBytes: number, overhead = 0, separator = 0): T[][] {
  const groups: T[][] = [];
  let current: T[] = [];
  let currentBytes = overhead;
  for (const item of items) {
    const bytes = sizeOf(item);
    if (current.length > 0 && (current.length >= maxCount || currentBytes + separator + bytes > maxBytes)) {
      groups.push(current);
      current = [];
      currentBytes = overhead;
    }
    currentBytes += bytes + (current.length > 0 ? separator : 0);
    current.push(item);
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/** `records` as JSON-array bodies (brackets and commas counted) within the count and byte limits. */
export function splitIntoBatches(records: SinkRecord[], maxCount: number, maxBytes: number): Batch[] {
  const asArray = maxCount > 1;
  return groupBySize(records, recordBytes, maxCount, maxBytes, 2, 1).map((group) => makeBatch(group, asArray));
}

/** The two halves of a refused batch, to isolate the record(s) the receiver objects to. */
export function halve(batch: Batch, asArray: boolean): [Batch, Batch] {
  const mid = Math.ceil(batch.records.length / 2);
  return [makeBatch(batch.records.slice(0, mid), asArray), makeBatch(batch.records.slice(mid), asArray)];
}
