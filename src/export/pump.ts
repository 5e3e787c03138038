import { deliverSegments, type Segment } from "./batches.ts";
import type { AuditJob } from "./job.ts";
import { BoundedQueue, feed } from "./queue.ts";

/**
 * The audit engines' one pipeline: a reader fills a bounded queue of segments (running ahead by
 * at most `readAhead`), `deliverSegments` turns them into sink batches (up to
 * `fluentd-inflight-batches` in flight) and the job's delivery acknowledges each, in order.
 * Returns once the reader is done and everything it queued is delivered, or at a stop; the reader
 * is always ended and awaited, and its failure is the pipeline's.
 */
export async function pumpSegments(
  job: AuditJob,
  opts: { readAhead: number; signal: AbortSignal },
  read: (queue: BoundedQueue<Segment>, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const queue = new BoundedQueue<Segment>(opts.readAhead);
  const local = new AbortController();
  const signal = AbortSignal.any([opts.signal, local.signal]);
  const reader = feed(queue, () => read(queue, signal));
  try {
    await deliverSegments(queue, job.options.fluentd.batchSize, job.delivery, { window: job.options.fluentd.inflightBatches, stop: job.stopSignal, abandon: job.deliverySignal });
  } finally {
    local.abort();
    queue.close();
    await reader;
  }
}
