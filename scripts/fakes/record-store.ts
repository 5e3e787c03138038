import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

/** One record as a receiver stored it. */
export interface StoredRecord {
  tag: string;
  /** The record's time as the receiver saw it (in_http: the `time` field it removed; in_forward: the EventTime). */
  time?: string;
  record: Record<string, unknown>;
}

/** What tests, the demo and the benchmark read from either receiver (in_http or in_forward). */
export interface ReceivedRecords<R extends StoredRecord = StoredRecord> {
  records(tag?: string): R[];
  /** Every stored record across tags in the order they arrived (`records()` groups them by tag). */
  arrivals(): R[];
  recordCount(tag?: string): number;
  /** Writes buffered lines to `outDir`. */
  flush(): void;
}

const FLUSH_INTERVAL_MS = 50;

function fileNameOf(tag: string): string {
  return `${tag.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\./, "_") || "_"}.jsonl`;
}

/**
 * The storage both fake receivers share: records in memory (unless `keepRecords` is false, for
 * long benchmark runs) and, with `outDir`, appended to `<tag>.jsonl` as `{time, record}` lines.
 */
export class RecordStore<R extends StoredRecord> implements ReceivedRecords<R> {
  private readonly byTag = new Map<string, R[]>();
  private readonly inOrder: R[] = [];
  private readonly counts = new Map<string, number>();
  private readonly pendingLines = new Map<string, string[]>();
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(private readonly opts: { outDir?: string; keepRecords: boolean }) {
    if (opts.outDir) mkdirSync(opts.outDir, { recursive: true });
    this.timer = setInterval(() => this.flush(), FLUSH_INTERVAL_MS);
  }

  /** The reading side both receivers expose as they are, bound to this store. */
  view(): ReceivedRecords<R> {
    return {
      records: (tag) => this.records(tag),
      arrivals: () => this.arrivals(),
      recordCount: (tag) => this.recordCount(tag),
      flush: () => this.flush(),
    };
  }

  /** Stores records of one tag, in order. */
  add(tag: string, entries: R[]): void {
    this.counts.set(tag, (this.counts.get(tag) ?? 0) + entries.length);
    if (this.opts.keepRecords) {
      const list = this.byTag.get(tag) ?? [];
      for (const e of entries) list.push(e);
      this.byTag.set(tag, list);
      this.inOrder.push(...entries);
    }
    if (this.opts.outDir) {
      const lines = this.pendingLines.get(tag) ?? [];
      for (const e of entries) lines.push(JSON.stringify({ time: e.time, record: e.record }) + "\n");
      this.pendingLines.set(tag, lines);
    }
  }

  records(tag?: string): R[] {
    return tag === undefined ? [...this.byTag.values()].flat() : (this.byTag.get(tag) ?? []);
  }

  arrivals(): R[] {
    return this.inOrder;
  }

  recordCount(tag?: string): number {
    return tag === undefined ? [...this.counts.values()].reduce((a, b) => a + b, 0) : (this.counts.get(tag) ?? 0);
  }

  flush(): void {
    if (!this.opts.outDir) return;
    for (const [tag, lines] of this.pendingLines) appendFileSync(join(this.opts.outDir, fileNameOf(tag)), lines.join(""));
    this.pendingLines.clear();
  }

  /** Stops the periodic flush after a last one. */
  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
