import type { SearchPage, SearchQuery, TeleportSource } from "../teleport/types.ts";
import { BoundedQueue, feed } from "./queue.ts";
import { Stopped, untilSuccess } from "./retry.ts";

/**
 * Reads closed windows of the legacy search API ahead of the reader, several at once.
 *
 * Inside a window the pages are a chain (each key comes from the previous page), so one window is
 * read one round trip at a time; windows are independent, so the next windows' chains can run
 * while the reader is still in an earlier one. The reader still asks for every page itself, in
 * order, with the exact query it would have sent: it gets the page already fetched for that
 * query, or (any mismatch) the prefetched chains are dropped and the page is fetched now. What is
 * delivered, and every checkpoint, is therefore exactly what the sequential reader produced.
 *
 * Only closed windows of exactly window-size are read ahead (their content is final, and only
 * their keys are ever checkpointed); the widening walk over empty history and the open window go
 * straight to Teleport. Memory is bounded: each chain stops at `pagesPerWindow` unread pages (and
 * one more fetched, waiting for room), or earlier once its unread pages hold `bytesPerWindow` of
 * event payloads: events can be large (Teleport stores up to hundreds of KB each), and a page
 * count alone would then hold hundreds of MB or more.
 */
export interface ReadAheadOptions {
  windowMs: number;
  /** Windows read at once, the reader's included; 1 turns read-ahead off. */
  windows: number;
  pagesPerWindow: number;
  /** Payload bytes a chain may hold unread before it waits for the reader (SearchPage.bytes). */
  bytesPerWindow: number;
  /** The clock that says which windows are closed. */
  now: () => number;
}

interface Fetched {
  key: string;
  page: SearchPage;
}

class Chain {
  readonly pages: BoundedQueue<Fetched>;
  private readonly stop = new AbortController();
  /** The key the next unread page was fetched with. */
  private expected: string;
  /** Payload bytes of the pages fetched and not yet taken by the reader. */
  private unreadBytes = 0;
  private wakeFetcher: (() => void) | undefined;

  constructor(
    private readonly query: SearchQuery,
    source: TeleportSource,
    capacity: number,
    private readonly bytesBudget: number,
    signal: AbortSignal,
  ) {
    this.expected = query.startKey;
    this.pages = new BoundedQueue<Fetched>(capacity);
    const chainSignal = AbortSignal.any([signal, this.stop.signal]);
    void feed(this.pages, () => this.run(source, chainSignal));
  }

  private async run(source: TeleportSource, signal: AbortSignal): Promise<void> {
    const fetch = (key: string) => {
      const q = { ...this.query, startKey: key };
      const request = untilSuccess("reading the audit log", () => source.searchEvents(q, signal), signal);
      // When the chain is dropped meanwhile, that request ends with its signal and nobody awaits it.
      request.catch(() => {});
      return request;
    };
    let key = this.query.startKey;
    let pending = fetch(key);
    for (;;) {
      const page = await pending;
      this.unreadBytes += page.bytes ?? 0;
      if (!page.nextKey) {
        await this.pages.push({ key, page });
        return;
      }
      // The next request leaves before this page's events are decoded (pages decode lazily),
      // unless the unread pages already hold the byte budget: then it waits for the reader.
      const full = this.unreadBytes >= this.bytesBudget;
      if (!full) pending = fetch(page.nextKey);
      if (!(await this.pages.push({ key, page }))) return;
      if (full) {
        if (!(await this.untilBytesTaken(signal))) return;
        pending = fetch(page.nextKey);
      }
      key = page.nextKey;
    }
  }

  /** Waits until the reader has brought the unread bytes under the budget; false when stopped. */
  private async untilBytesTaken(signal: AbortSignal): Promise<boolean> {
    while (this.unreadBytes >= this.bytesBudget && !signal.aborted) {
      await new Promise<void>((resolve) => {
        const done = () => {
          signal.removeEventListener("abort", done);
          this.wakeFetcher = undefined;
          resolve();
        };
        this.wakeFetcher = done;
        signal.addEventListener("abort", done);
      });
    }
    return !signal.aborted;
  }

  /** Serves `query` when it is this chain's next page (same window, same key); undefined otherwise. */
  async next(query: SearchQuery): Promise<SearchPage | undefined> {
    if (query.startKey !== this.expected || !sameQuery(query, this.query)) return undefined;
    const fetched = await this.pages.shift();
    if (!fetched) return undefined;
    this.expected = fetched.page.nextKey;
    this.unreadBytes -= fetched.page.bytes ?? 0;
    this.wakeFetcher?.();
    return fetched.page;
  }

  drop(): void {
    this.stop.abort();
    this.pages.close();
  }
}

function sameQuery(a: SearchQuery, b: SearchQuery): boolean {
  return (
    a.from.getTime() === b.from.getTime() &&
    a.to.getTime() === b.to.getTime() &&
    a.limit === b.limit &&
    a.types.length === b.types.length &&
    a.types.every((t, i) => t === b.types[i])
  );
}

export class WindowReadAhead {
  /** Chains by window start, in window order. */
  private readonly chains = new Map<number, Chain>();

  constructor(
    private readonly source: TeleportSource,
    private readonly opts: ReadAheadOptions,
    private readonly signal: AbortSignal,
  ) {}

  /** The page for `query`, from a chain when one is ready for it; fetched now otherwise. */
  async page(query: SearchQuery): Promise<SearchPage> {
    const from = query.from.getTime();
    const regular = this.opts.windows > 1 && query.to.getTime() - from === this.opts.windowMs && from + this.opts.windowMs <= this.opts.now();
    if (!regular) {
      this.dropBefore(Infinity);
      return this.source.searchEvents(query, this.signal);
    }
    this.dropBefore(from);
    try {
      let chain = this.chains.get(from);
      let page = chain ? await chain.next(query) : undefined;
      if (!page) {
        chain?.drop();
        chain = this.start(from, query);
        this.chains.set(from, chain);
        page = await chain.next(query);
        if (!page) throw new Stopped();
      }
      this.startNext(from, query);
      return page;
    } catch (err) {
      // The caller retries; that attempt starts a fresh chain.
      this.chains.get(from)?.drop();
      this.chains.delete(from);
      throw err;
    }
  }

  /** Ends every chain (the reader stops, or leaves the windows read ahead). */
  close(): void {
    this.dropBefore(Infinity);
  }

  private start(from: number, query: SearchQuery): Chain {
    return new Chain(query, this.source, this.opts.pagesPerWindow, this.opts.bytesPerWindow, this.signal);
  }

  /** Chains for the next closed windows, up to `windows` in all. */
  private startNext(from: number, query: SearchQuery): void {
    const now = this.opts.now();
    for (let i = 1; i < this.opts.windows; i++) {
      const start = from + i * this.opts.windowMs;
      const end = start + this.opts.windowMs;
      if (end > now) break;
      if (this.chains.has(start)) continue;
      this.chains.set(start, this.start(start, { ...query, from: new Date(start), to: new Date(end), startKey: "" }));
    }
  }

  private dropBefore(from: number): void {
    for (const [start, chain] of this.chains) {
      if (start >= from) continue;
      chain.drop();
      this.chains.delete(start);
    }
  }
}
