import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runExport, type ExportOptions } from "../../src/export/index.ts";
import { WindowReadAhead } from "../../src/export/read-ahead.ts";
import { openClusterState } from "../../src/state/index.ts";
import type { SearchQuery } from "../../src/teleport/types.ts";
import { EVENTS_URL as EVENTS, testExportOptions, type TestRunOptions } from "../support/export-options.ts";
import { MemoryFluentd } from "../support/memory-fluentd.ts";
import { auditEvent, CountingTeleport, type MemoryTeleport } from "../support/memory-teleport.ts";

const DAY = 86_400_000;
const start = new Date(Math.floor(Date.now() / DAY - 5) * DAY);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "legacy-read-ahead-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Four closed days of 40 events each. */
function backlog(): CountingTeleport {
  const teleport = new CountingTeleport();
  teleport.bulk = false;
  for (let d = 0; d < 4; d++) for (let i = 0; i < 40; i++) teleport.add(auditEvent("user.login", new Date(start.getTime() + d * DAY + i * 60_000 + 17)));
  return teleport;
}

function options(overrides: TestRunOptions = {}) {
  return testExportOptions({ batch: 6, startTime: start, concurrency: 3 }, overrides);
}

async function exportOnce(teleport: MemoryTeleport, sink: MemoryFluentd, opts: ExportOptions, stop = new AbortController().signal): Promise<void> {
  const state = openClusterState(dir, teleport.clusterName);
  try {
    await runExport({ source: teleport, sink, state, options: opts, stopSignal: stop });
  } finally {
    state.close();
  }
}

/** Window index of a query, by its start. */
const windowOf = (q: SearchQuery) => Math.round((q.from.getTime() - start.getTime()) / DAY);

/** Whether some window's first page was asked for before an earlier window's last page. */
function overlapped(queries: SearchQuery[]): boolean {
  const lastOf = new Map<number, number>();
  queries.forEach((q, i) => lastOf.set(windowOf(q), i));
  return queries.some((q, i) => !q.startKey && [...lastOf].some(([w, last]) => w < windowOf(q) && last > i));
}

describe("legacy engine: reading later windows ahead", () => {
  test("later windows are read while an earlier one is; every event is delivered once, in order", async () => {
    const teleport = backlog();
    const sink = new MemoryFluentd();
    await exportOnce(teleport, sink, options());
    expect(sink.uids(EVENTS)).toEqual(teleport.events.map((e) => e.id));
    expect(overlapped(teleport.queries)).toBe(true);
    // Keys are only ever used inside a window of exactly window-size.
    for (const q of teleport.queries.filter((q) => q.startKey)) expect(q.to.getTime() - q.from.getTime()).toBe(DAY);
  });

  test("concurrency 1 reads one window at a time, as before", async () => {
    const teleport = backlog();
    const sink = new MemoryFluentd();
    await exportOnce(teleport, sink, options({ concurrency: 1 }));
    expect(sink.uids(EVENTS)).toEqual(teleport.events.map((e) => e.id));
    expect(overlapped(teleport.queries)).toBe(false);
  });

  test("a stop mid-backlog resumes exactly after the last committed batch", async () => {
    const teleport = backlog();
    const stop = new AbortController();
    const first = new (class extends MemoryFluentd {
      override async deliver(...args: Parameters<MemoryFluentd["deliver"]>) {
        // Stop while windows ahead are being read; the batch in flight still completes.
        if (this.calls === 5) stop.abort();
        return super.deliver(...args);
      }
    })();
    await exportOnce(teleport, first, options(), stop.signal);
    const before = first.uids(EVENTS);
    expect(before.length).toBeGreaterThan(0);
    expect(before.length).toBeLessThan(teleport.events.length);

    const second = new MemoryFluentd();
    await exportOnce(teleport, second, options());
    expect([...before, ...second.uids(EVENTS)]).toEqual(teleport.events.map((e) => e.id));
  });

  test("transient failures inside the chains read ahead are retried without losing a page", async () => {
    const teleport = backlog();
    teleport.failEvery = 4;
    const sink = new MemoryFluentd();
    await exportOnce(teleport, sink, options());
    expect(sink.uids(EVENTS)).toEqual(teleport.events.map((e) => e.id));
  });

  test("a chain also stops once its unread pages hold the byte budget, and goes on as the reader takes them", async () => {
    const teleport = backlog();
    // Pages of 3 events of 1,000 payload bytes: a 5,000-byte budget holds two pages unread.
    const sized = {
      ...teleport,
      searchEvents: async (q: SearchQuery) => {
        const page = await teleport.searchEvents(q);
        return { ...page, bytes: page.events.length * 1_000 };
      },
    } as typeof teleport;
    const stop = new AbortController();
    const ahead = new WindowReadAhead(sized, { windowMs: DAY, windows: 3, pagesPerWindow: 100, bytesPerWindow: 5_000, now: Date.now }, stop.signal);
    const settle = async () => {
      for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    };
    const asked = (w: number) => teleport.queries.filter((q) => windowOf(q) === w).length;
    try {
      const day = (w: number) => ({ from: new Date(start.getTime() + w * DAY), to: new Date(start.getTime() + (w + 1) * DAY), types: [], limit: 3 });
      let page = await ahead.page({ ...day(0), startKey: "" });
      await settle();
      // Windows 1 and 2: two pages each (the second fills the budget), nothing more while unread.
      expect([asked(1), asked(2), asked(3)]).toEqual([2, 2, 0]);
      // Window 0: the reader took a page, so its chain holds at most two unread and one more asked.
      expect(asked(0)).toBeLessThanOrEqual(4);
      // Reading window 0 to its end, then window 1's first page: window 1's chain moves on again.
      const read = [...page.events];
      while (page.nextKey) {
        page = await ahead.page({ ...day(0), startKey: page.nextKey });
        read.push(...page.events);
      }
      page = await ahead.page({ ...day(1), startKey: "" });
      read.push(...page.events);
      await settle();
      expect(asked(1)).toBe(3);
      while (page.nextKey) {
        page = await ahead.page({ ...day(1), startKey: page.nextKey });
        read.push(...page.events);
      }
      expect(read.map((e) => e.id)).toEqual(teleport.events.slice(0, 80).map((e) => e.id));
    } finally {
      ahead.close();
      stop.abort();
    }
  });

  test("memory stays bounded: each chain stops at its page limit while the reader waits", async () => {
    const teleport = backlog();
    const stop = new AbortController();
    const ahead = new WindowReadAhead(teleport, { windowMs: DAY, windows: 3, pagesPerWindow: 2, bytesPerWindow: Infinity, now: Date.now }, stop.signal);
    const query = { from: start, to: new Date(start.getTime() + DAY), types: [], limit: 3, startKey: "" };
    try {
      const page = await ahead.page(query);
      expect(page.events.map((e) => e.id)).toEqual(teleport.events.slice(0, 3).map((e) => e.id));
      for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
      // Per window: the pages held unread, one waiting for room and the one after it requested.
      const perWindow = [0, 1, 2, 3].map((w) => teleport.queries.filter((q) => windowOf(q) === w).length);
      expect(perWindow[0]).toBeLessThanOrEqual(5);
      expect(perWindow[1]).toBeLessThanOrEqual(4);
      expect(perWindow[1]).toBeGreaterThan(0);
      expect(perWindow[2]).toBeLessThanOrEqual(4);
      expect(perWindow[2]).toBeGreaterThan(0);
      expect(perWindow[3]).toBe(0);
      // The next page of window 0 is served from its chain, no new query.
      const calls = teleport.queries.length;
      const next = await ahead.page({ ...query, startKey: page.nextKey });
      expect(next.events.map((e) => e.id)).toEqual(teleport.events.slice(3, 6).map((e) => e.id));
      expect(teleport.queries.slice(calls).every((q) => windowOf(q) === 0)).toBe(true);
    } finally {
      ahead.close();
      stop.abort();
    }
  });
});
