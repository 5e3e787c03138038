import { ConfigError } from "../errors.ts";
import { sleep } from "../lib/abort.ts";
import { logger } from "../logger.ts";
import { streamMetrics } from "../observability/metrics.ts";
import type { LegacyCheckpoint } from "../state/index.ts";
import type { AuditEvent } from "../teleport/types.ts";
import { deliverSegments, type Segment, slices } from "./batches.ts";
import { auditFilter } from "./filters.ts";
import type { AuditJob } from "./job.ts";
import { BoundedQueue } from "./queue.ts";
import { WindowReadAhead } from "./read-ahead.ts";
import { Stopped, untilSuccess } from "./retry.ts";

/** Pages the reader may run ahead of the sink. */
const READ_AHEAD = 4;
/**
 * Closed windows read at once (bounded by `concurrency`), and the events each may hold unread.
 * Pages read ahead stay encoded until the reader takes them; measured, 3 windows of 2,000 events
 * added ~12 MB of peak RSS, so 1,000 keeps the read-ahead at ~6 MB.
 */
const WINDOWS_AHEAD = 3;
const EVENTS_AHEAD_PER_WINDOW = 1_000;

/**
 * The legacy engine (GetUnstructuredEvents): windows of `windowSize` walked in time order, pages
 * of `batch` inside each. A page key is only meaningful inside the window that produced it, so
 * every window starts from an empty key.
 *
 * Empty history is cheap: window-size bounds the cost of one query (Athena scans the range), but
 * an empty range costs nothing, so while windows come back empty the next one is twice as wide.
 * When a widened window finds events, its page is dropped (its key belongs to a window no
 * checkpoint can name) and the walk resumes at the first event's second with a window of
 * window-size again. Only windows of exactly window-size ever have a page key saved.
 */
export async function runLegacy(job: AuditJob): Promise<void> {
  const queue = new BoundedQueue<Segment>(READ_AHEAD);
  const local = new AbortController();
  const signal = AbortSignal.any([job.stopSignal, local.signal]);
  const reader = readPages(job, queue, signal).then(
    () => queue.close(),
    (err) => (err instanceof Stopped ? queue.close() : queue.fail(err)),
  );
  try {
    await deliverSegments(queue, job.options.fluentdBatchSize, (events, position) => job.committer.deliver(events, position), job.stopSignal);
  } finally {
    local.abort();
    queue.close();
    await reader;
  }
}

function lastIndexOfId(events: readonly AuditEvent[], id: string): number {
  for (let i = events.length - 1; i >= 0; i--) if (events[i]!.id === id) return i;
  return -1;
}

async function readPages(job: AuditJob, queue: BoundedQueue<Segment>, signal: AbortSignal): Promise<void> {
  const { source, state, options, stats } = job;
  const keep = auditFilter(options);
  const windowMs = options.windowSizeMs;
  let pos: LegacyCheckpoint = state.legacyCheckpoint() ?? { windowStart: job.startTime, pageKey: "", lastEventId: "" };
  let seek = state.seekAfter();
  let span = windowMs;
  const ahead = new WindowReadAhead(
    source,
    {
      windowMs,
      windows: Math.min(WINDOWS_AHEAD, options.concurrency),
      pagesPerWindow: Math.max(2, Math.ceil(EVENTS_AHEAD_PER_WINDOW / Math.max(1, options.batch))),
    },
    signal,
  );
  try {
    await walkWindows();
  } finally {
    ahead.close();
  }

  async function walkWindows(): Promise<void> {
    for (;;) {
      const now = Date.now();
      const windowEnd = pos.windowStart.getTime() + span;
      const closed = windowEnd <= now;
      const to = new Date(Math.min(windowEnd, now));
      const from = pos.windowStart;
      const query = { from, to, types: [...options.types], limit: options.batch, startKey: pos.pageKey };
      const page =
        to > from ? await untilSuccess("reading the audit log", () => ahead.page(query), signal) : { events: [], nextKey: "" };

      if (span > windowMs && (page.events.length > 0 || page.nextKey)) {
        // Events at last: narrow back to window-size where they begin (nothing earlier matched).
        const first = page.events[0]?.time.getTime();
        const at = first === undefined ? from.getTime() : Math.max(from.getTime(), Math.floor(first / 1000) * 1000);
        pos = { windowStart: new Date(at), pageKey: "", lastEventId: "" };
        span = windowMs;
        continue;
      }
      let fresh = page.events;
      if (pos.lastEventId) {
        const at = lastIndexOfId(fresh, pos.lastEventId);
        if (at >= 0) fresh = fresh.slice(at + 1);
        else if (fresh.length > 0) logger.warn(`event ${pos.lastEventId} is no longer in its page; the page is sent again`);
      }
      streamMetrics.audit.received.inc(fresh.length);
      let seekFinished = false;
      if (seek) {
        const at = fresh.findIndex((e) => e.id === seek);
        seekFinished = at >= 0;
        fresh = seekFinished ? fresh.slice(at + 1) : [];
        if (seekFinished) seek = undefined;
      }

      let end: LegacyCheckpoint;
      let caughtUp = false;
      if (page.nextKey) end = { windowStart: from, pageKey: page.nextKey, lastEventId: "" };
      else if (closed) end = { windowStart: new Date(windowEnd), pageKey: "", lastEventId: "" };
      else {
        end = { windowStart: from, pageKey: pos.pageKey, lastEventId: page.events.at(-1)?.id ?? pos.lastEventId };
        caughtUp = true;
      }

      const kept = fresh.filter(keep);
      streamMetrics.audit.filtered.inc(fresh.length - kept.length);
      const moved = end.windowStart.getTime() !== from.getTime() || end.pageKey !== pos.pageKey || end.lastEventId !== pos.lastEventId;
      if (kept.length > 0 || moved || seekFinished) {
        const parts = [...slices(kept, options.fluentdBatchSize)];
        for (let i = 0; i < parts.length - 1; i++) {
          const part = parts[i]!;
          const partial = { windowStart: from, pageKey: pos.pageKey, lastEventId: part.at(-1)!.id };
          if (!(await queue.push({ events: part, position: { legacy: partial, seekFinished }, more: true }))) return;
        }
        if (!(await queue.push({ events: parts.at(-1) ?? [], position: { legacy: end, seekFinished }, more: !caughtUp }))) return;
      }
      stats.readPosition = page.events.at(-1)?.time ?? (caughtUp ? to : stats.readPosition);
      pos = end;
      if (closed && page.events.length === 0 && !page.nextKey) span *= 2;

      if (caughtUp) {
        if (seek) {
          throw new ConfigError(`cursor event ${seek} was not found between start-time and now; check cursor and start-time`);
        }
        stats.caughtUp = true;
        if (options.exitOnLastEvent) return;
        await sleep(options.timeoutMs, signal).catch(() => {
          throw new Stopped();
        });
      }
    }
  }
}
