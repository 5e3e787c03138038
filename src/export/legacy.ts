import { ConfigError } from "../errors.ts";
import { sleep } from "../lib/abort.ts";
import { logger } from "../logger.ts";
import { streamMetrics } from "../observability/metrics.ts";
import type { AuditPosition } from "../state/index.ts";
import type { SearchPage } from "../teleport/types.ts";
import type { Segment } from "./batches.ts";
import { auditFilter } from "./filters.ts";
import type { AuditJob } from "./job.ts";
import { startWalk, step, windowAt } from "./legacy-walk.ts";
import { pumpSegments } from "./pump.ts";
import type { BoundedQueue } from "./queue.ts";
import { LateSweeps } from "./late-sweeps.ts";
import { WindowReadAhead } from "./read-ahead.ts";
import { Stopped, untilSuccess } from "./retry.ts";

/** Pages the reader may run ahead of the sink. */
const READ_AHEAD = 4;
/**
 * Closed windows read at once (bounded by `concurrency`), and the events each may hold unread.
 * Far from Teleport the windows ahead are what keeps a backlog moving: each window is a chain of
 * one round trip per page, and with 1,000 events ahead the next windows stalled after 50 pages of
 * the default 20, so the reader paid their chains again on reaching them (bench (g) at the
 * defaults: 47.5 s, 2.2x its RTT floor). 5,000 events: 34.2 s (1.6x), same run; 10,000 gained
 * nothing more there and cost (b) 10 MB of peak RSS; 5,000 cost (b) ~4 MB (108 MB).
 */
const WINDOWS_AHEAD = 3;
const EVENTS_AHEAD_PER_WINDOW = 5_000;
/**
 * And at most this much event payload per window, whatever the events' size: Teleport stores
 * events of up to hundreds of KB, so 5,000 of them could hold GBs. Typical events are ~1 KB, so the
 * event count binds first.
 */
const BYTES_AHEAD_PER_WINDOW = 8 * 1024 * 1024;

const EMPTY_PAGE: SearchPage = { events: [], nextKey: "" };

/** The legacy engine (GetUnstructuredEvents): the walk of legacy-walk.ts, read and delivered. */
export function runLegacy(job: AuditJob): Promise<void> {
  return pumpSegments(job, { readAhead: READ_AHEAD, signal: job.stopSignal }, (queue, signal) => readPages(job, queue, signal));
}

async function readPages(job: AuditJob, queue: BoundedQueue<Segment>, signal: AbortSignal): Promise<void> {
  const { source, state, options, stats } = job;
  const rules = { windowMs: options.ingest.windowSize, keep: auditFilter(options.ingest), batchSize: options.fluentd.batchSize };
  let walk = startWalk(state.checkpoints.legacyCheckpoint(), job.startTime, state.meta.seekAfter(), options.ingest.windowSize);
  const ahead = new WindowReadAhead(
    source,
    {
      windowMs: options.ingest.windowSize,
      windows: Math.min(WINDOWS_AHEAD, options.ingest.concurrency),
      pagesPerWindow: Math.max(2, Math.ceil(EVENTS_AHEAD_PER_WINDOW / Math.max(1, options.ingest.batch))),
      bytesPerWindow: BYTES_AHEAD_PER_WINDOW,
      now: job.now,
    },
    signal,
  );
  const sweeps =
    options.ingest.lateEventDelays.length > 0
      ? new LateSweeps(
          {
            source,
            state,
            delaysMs: options.ingest.lateEventDelays,
            types: options.ingest.types,
            keep: rules.keep,
            limit: options.ingest.batch,
            batchSize: options.fluentd.batchSize,
          },
          walk.pos.windowStart,
        )
      : undefined;
  try {
    for (;;) {
      // Sweeps never run while a cursor is sought: nothing before it may be delivered.
      if (sweeps && !walk.seek) {
        for await (const segment of sweeps.due(() => walk.pos, job.now(), signal)) if (!(await queue.push(segment))) return;
      }
      const window = windowAt(walk, job.now());
      const query = { from: window.from, to: window.to, types: [...options.ingest.types], limit: options.ingest.batch, startKey: walk.pos.pageKey };
      const page = window.to > window.from ? await untilSuccess("reading the audit log", () => ahead.page(query), signal) : EMPTY_PAGE;
      const readAt = job.now();
      const seeking = walk.seek;
      const next = step(walk, window, page, rules);
      walk = next.walk;
      if (next.kind === "narrowed") continue;
      if (next.lostEventId) logger.warn(`event ${next.lostEventId} is no longer in its page; the page is sent again`);
      streamMetrics.audit.received.inc(next.received);
      streamMetrics.audit.filtered.inc(next.filtered);
      for (const segment of next.segments) if (segment.position.kind === "legacy") segment.position.readAt = readAt;
      if (sweeps && seeking && !walk.seek) sweeps.skipTo(next.segments.find((s) => s.events.length > 0)?.events[0]?.time ?? window.to);
      const slice = sweeps && !walk.seek ? sweeps.finished(walk.pos, next.caughtUp ? window.to : undefined, job.now()) : undefined;
      if (slice) {
        // The slice is scheduled by the segment that finishes reading it (an empty one if need be).
        const last = next.segments.at(-1) ?? { events: [], position: { kind: "legacy", checkpoint: walk.pos, seekFinished: false, readAt } as AuditPosition };
        if (last.position.kind === "legacy") last.position = { ...last.position, sweep: { read: [slice], swept: [] } };
        if (next.segments.length === 0) next.segments.push(last);
      }
      for (const segment of next.segments) if (!(await queue.push(segment))) return;
      stats.readPosition = next.readPosition ?? stats.readPosition;
      if (!next.caughtUp) continue;
      if (walk.seek) throw new ConfigError(`cursor event ${walk.seek} was not found between start-time and now; check cursor and start-time`);
      stats.caughtUp = true;
      if (options.ingest.exitOnLastEvent) return;
      await sleep(options.ingest.timeout, signal).catch(() => {
        throw new Stopped();
      });
    }
  } finally {
    ahead.close();
  }
}
