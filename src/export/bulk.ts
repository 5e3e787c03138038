import { isAbort, sleep } from "../lib/abort.ts";
import { Wakeup } from "../lib/wakeup.ts";
import { Semaphore } from "../lib/semaphore.ts";
import { logger } from "../logger.ts";
import { streamMetrics } from "../observability/metrics.ts";
import type { Segment } from "./batches.ts";
import { dateStart, nextDate, utcDate } from "./dates.ts";
import { auditFilter } from "./filters.ts";
import { listChunks } from "./hour-read.ts";
import type { AuditJob } from "./job.ts";
import { pumpSegments } from "./pump.ts";
import type { BoundedQueue } from "./queue.ts";
import { Stopped, untilSuccess } from "./retry.ts";

/** Previous dates still polled for chunks that appear late. */
const BACKLOG_DATES = 2;
const READ_AHEAD = 4;

/**
 * Exports one chunk from its saved cursor. The reader resumes a broken stream from the last cursor
 * it read (everything before is already queued for delivery); the checkpoint only moves with
 * acknowledged batches.
 */
function exportChunk(job: AuditJob, date: string, chunk: string, cursor: string, signal: AbortSignal): Promise<void> {
  return pumpSegments(job, { readAhead: READ_AHEAD, signal }, (queue, readSignal) => readChunk(job, { date, chunk, cursor }, queue, readSignal));
}

async function readChunk(
  job: AuditJob,
  from: { date: string; chunk: string; cursor: string },
  queue: BoundedQueue<Segment>,
  signal: AbortSignal,
): Promise<void> {
  const { date, chunk } = from;
  const keep = auditFilter(job.options.ingest);
  const notBefore = job.startTime.getTime();
  const max = job.options.fluentd.batchSize;
  const day = dateStart(date);
  let position = from.cursor;
  let events: Segment["events"] = [];
  let received = 0;
  const flush = (completed: boolean) => {
    streamMetrics.audit.received.inc(received);
    streamMetrics.audit.filtered.inc(received - events.length);
    received = 0;
    const segment: Segment = { events, position: { kind: "chunk", progress: { date, chunk, cursor: position, completed } } };
    events = [];
    return queue.push(segment);
  };
  await untilSuccess(
    `exporting chunk ${chunk} of ${date}`,
    async (progressed) => {
      try {
        for await (const item of job.source.exportEvents({ date: day, chunk, cursor: position }, signal)) {
          position = item.cursor;
          progressed();
          received++;
          const e = item.event;
          if (keep(e) && e.time.getTime() >= notBefore) events.push(e);
          if (events.length >= max && !(await flush(false))) return;
        }
      } catch (err) {
        // Keep what was read: the retry continues after it.
        if (events.length > 0) await flush(false);
        throw err;
      }
    },
    signal,
  );
  await flush(true);
}

/** Discovers and exports the chunks of one UTC date, polling for new ones until stopped. */
class DateExporter {
  idle = false;
  readonly done: Promise<void>;
  private readonly ctl = new AbortController();
  private readonly signal: AbortSignal;

  constructor(
    private readonly job: AuditJob,
    readonly date: string,
    private readonly onIdle: () => void,
    onError: (err: unknown) => void,
  ) {
    this.signal = AbortSignal.any([job.stopSignal, this.ctl.signal]);
    // Stopping is normal; anything else (state database failure) must end the export loudly.
    this.done = this.loop().catch((err) => {
      if (!isAbort(err)) onError(err);
    });
  }

  stop(): Promise<void> {
    this.ctl.abort();
    return this.done;
  }

  private async loop(): Promise<void> {
    const { job, date, signal } = this;
    const parallel = new Semaphore(Math.max(Math.floor(job.options.ingest.concurrency / 4), 3));
    const known = new Set<string>();
    const resumed: Promise<void>[] = [];
    for (const c of job.state.checkpoints.chunks(date)) {
      known.add(c.chunk);
      if (!c.completed) resumed.push(parallel.run(() => exportChunk(job, date, c.chunk, c.cursor, signal)));
    }
    await Promise.all(resumed);
    for (;;) {
      const listed = await listChunks(job.source, date, signal);
      const fresh = listed.filter((id) => !known.has(id));
      for (const id of fresh) known.add(id);
      await Promise.all(fresh.map((id) => parallel.run(() => exportChunk(job, date, id, "", signal))));
      this.idle = fresh.length === 0;
      if (this.idle) {
        this.onIdle();
        await sleep(job.options.ingest.timeout, signal).catch(() => {
          throw new Stopped();
        });
      }
    }
  }
}

/**
 * The bulk engine (GetEventExportChunks + ExportUnstructuredEvents): one exporter for the current
 * date and one for each backlog date; the current date advances once it is idle and in the past.
 */
export async function runBulk(job: AuditJob): Promise<void> {
  const { state, stopSignal } = job;
  const startDate = utcDate(job.startTime);
  for (const d of state.checkpoints.bulkDates()) if (d < startDate) state.checkpoints.dropBulkDate(d);
  let dates = state.checkpoints.bulkDates();
  if (dates.length === 0) {
    state.checkpoints.addBulkDate(startDate);
    dates = [startDate];
  }
  // A notification that comes while the loop is busy must not wait a whole poll interval: Wakeup keeps it.
  const idle = new Wakeup();
  let failure: { error: unknown } | undefined;
  const onIdle = () => idle.wake();
  const onError = (error: unknown) => {
    failure ??= { error };
    onIdle();
  };
  const start = (date: string) => new DateExporter(job, date, onIdle, onError);
  const exporters = new Map(dates.map((d) => [d, start(d)]));
  let current = dates.at(-1)!;

  try {
    while (!stopSignal.aborted) {
      await idle.wait(job.options.ingest.timeout, stopSignal).catch(() => undefined);
      if (failure) throw failure.error;
      if (stopSignal.aborted) break;
      const today = utcDate(new Date(job.now()));
      if (exporters.get(current)!.idle && current < today) {
        current = nextDate(current);
        state.checkpoints.addBulkDate(current);
        exporters.set(current, start(current));
        job.stats.readPosition = dateStart(current);
        logger.info(`advanced the export to ${current}`);
        await pruneBacklog(exporters, state);
        continue;
      }
      if ([...exporters.values()].every((e) => e.idle)) {
        job.stats.caughtUp = true;
        if (job.options.ingest.exitOnLastEvent) break;
      }
    }
  } finally {
    await Promise.all([...exporters.values()].map((e) => e.stop()));
  }
  if (failure) throw failure.error;
}

async function pruneBacklog(exporters: Map<string, DateExporter>, state: AuditJob["state"]): Promise<void> {
  const byAge = [...exporters.keys()].sort();
  for (const date of byAge.slice(0, Math.max(0, byAge.length - 1 - BACKLOG_DATES))) {
    const exporter = exporters.get(date)!;
    if (!exporter.idle) continue;
    await exporter.stop();
    exporters.delete(date);
    state.checkpoints.dropBulkDate(date);
  }
}
