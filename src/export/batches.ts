import type { AuditEvent } from "../teleport/types.ts";
import type { AuditPosition } from "../state/index.ts";
import type { BoundedQueue } from "./queue.ts";

/** Events read from Teleport and the position reached once they (and all before) are delivered. */
export interface Segment {
  events: AuditEvent[];
  position: AuditPosition;
  /** The reader is in a backlog: more events follow at once (worth waiting a moment for). */
  more?: boolean;
  /**
   * Read again by a late-event sweep: only events not delivered before go out. Such segments are
   * batched only with each other, so that check sees every earlier batch committed.
   */
  late?: boolean;
}

/**
 * How long a batch that is not full may wait for the next pages while the reader is in a backlog.
 * Small pages (the default `batch` is 20) would otherwise cost one Fluentd request and one
 * checkpoint fsync each whenever the reader is a little slower than the sink.
 */
const LINGER_MS = 10;

/** A batch handed to the sink: `acknowledged` settles with the sink's answer, `commit` then records it. */
export interface SentBatch {
  acknowledged: Promise<void>;
  commit(): void;
}

/**
 * The two phases of one batch. `send` runs in batch order, one at a time, and returns once the
 * batch is with the sink (so a sink that keeps call order, as the forward sink does per URL,
 * receives the batches in order); `signal` abandons the send. `commit` of a batch is only called
 * after every earlier batch committed.
 */
export interface BatchSender {
  send(events: AuditEvent[], position: AuditPosition, late: boolean, signal: AbortSignal): Promise<SentBatch>;
}

export interface DeliverOptions {
  /** Batches sent before the oldest one is acknowledged (`fluentd-inflight-batches`); 1 = one at a time. */
  window?: number;
  /** Graceful stop: nothing new is sent; batches already sent finish and commit. */
  stop?: AbortSignal;
  /** Hard stop (shutdown deadline): the sends in flight are abandoned, nothing more commits. */
  abandon?: AbortSignal;
  lingerMs?: number;
}

/**
 * Drains segments into sink batches of at most `maxBatch` events. Whatever the reader already has
 * queued is coalesced, so small pages do not cost one Fluentd round trip each. A batch that is not
 * full waits up to LINGER_MS for more only while the reader says more follow (a backlog); otherwise
 * it is sent at once, so a live tail's latency stays one round trip.
 *
 * Up to `window` batches are with the sink at once, so a backlog is not paced by one Fluentd round
 * trip per batch; they commit strictly in batch order (see InOrderCommits), so the checkpoint
 * never passes a batch that was not acknowledged, and a crash re-sends at most `window` batches.
 *
 * Once `stop` aborts (SIGTERM), only the batches in flight are finished: segments read ahead but not
 * yet sent stay unsent, since the checkpoint never moved past them and the next start reads them
 * again. Sending them would stretch the shutdown by up to the whole read-ahead.
 */
export async function deliverSegments(queue: BoundedQueue<Segment>, maxBatch: number, sender: BatchSender, opts: DeliverOptions = {}): Promise<void> {
  const { stop, lingerMs = LINGER_MS } = opts;
  // A failure must end the wait for the reader at once, not when the next page arrives.
  const commits = new InOrderCommits(opts.window ?? 1, () => queue.close(), opts.abandon);
  try {
    for (;;) {
      commits.check();
      if (stop?.aborted) break;
      const batch = await nextBatch(queue, maxBatch, lingerMs, stop);
      commits.check();
      if (!batch || stop?.aborted) break;
      await commits.room();
      if (stop?.aborted) break;
      commits.add(await sender.send(batch.events, batch.position, batch.late, commits.signal));
    }
  } finally {
    // However the loop ended (done, stopped, the reader failed), what was sent still commits,
    // as the one batch in flight did before batches were pipelined.
    await commits.finish();
  }
  commits.check();
}

interface Batch {
  events: AuditEvent[];
  position: AuditPosition;
  late: boolean;
}

/** The next batch: the first waiting segment and what follows it at once (or within the linger). */
async function nextBatch(queue: BoundedQueue<Segment>, maxBatch: number, lingerMs: number, stop?: AbortSignal): Promise<Batch | undefined> {
  const first = await queue.shift();
  if (!first || stop?.aborted) return undefined;
  let events = first.events;
  let position = first.position;
  let more = first.more ?? false;
  const late = first.late ?? false;
  const deadline = performance.now() + lingerMs;
  for (;;) {
    for (let next = queue.peek(); next && (next.late ?? false) === late && events.length + next.events.length <= maxBatch; next = queue.peek()) {
      queue.take();
      events = events.length === 0 ? next.events : events.concat(next.events);
      position = advance(position, next.position);
      more = next.more ?? false;
    }
    const left = deadline - performance.now();
    if (!more || events.length >= maxBatch || queue.peek() || left <= 0) break;
    const arrived = await queue.waitForItem(left);
    if (stop?.aborted) return undefined;
    if (!arrived) break;
  }
  return { events, position, late };
}

/**
 * The batches sent and not yet committed, in order. Batch k commits once it is acknowledged and
 * batch k-1 committed. The first failure anywhere (a send rejected, a commit threw) aborts every
 * send still in flight and stops all later commits: the checkpoint stays at the last batch whose
 * predecessors all committed, and what was sent after it is sent again on the next start.
 */
class InOrderCommits {
  private readonly abort = new AbortController();
  private failure: { error: unknown } | undefined;
  /** Settles when the newest batch committed (rejects once any failed). */
  private tail: Promise<void> = Promise.resolve();
  /** Per uncommitted batch, oldest first: settles once it committed or failed. */
  private readonly uncommitted: Promise<void>[] = [];
  /** Per batch sent: settles once both its send and its commit settled. */
  private readonly running = new Set<Promise<unknown>>();

  /** Follows the hard stop onto `signal` without AbortSignal.any (see `signal`). */
  private readonly unlink: () => void;

  constructor(
    private readonly window: number,
    private readonly onFailure: () => void,
    abandon?: AbortSignal,
  ) {
    const onAbandon = () => this.abort.abort();
    if (abandon?.aborted) onAbandon();
    abandon?.addEventListener("abort", onAbandon, { once: true });
    this.unlink = () => abandon?.removeEventListener("abort", onAbandon);
  }

  /**
   * Aborts at the first failure or at the hard stop: the sends still in flight are abandoned. A
   * plain controller's signal rather than an AbortSignal.any of the two, which would stay
   * attached to the process-long hard stop after the pipeline ended.
   */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  add(batch: SentBatch): void {
    batch.acknowledged.catch((err) => this.fail(err));
    const committed = this.tail
      .then(() => batch.acknowledged)
      .then(() => {
        if (this.failure) throw this.failure.error;
        batch.commit();
        this.uncommitted.shift();
      });
    committed.catch((err) => this.fail(err));
    this.tail = committed;
    this.uncommitted.push(committed.catch(() => undefined));
    const done = Promise.allSettled([batch.acknowledged, committed]);
    this.running.add(done);
    void done.then(() => this.running.delete(done));
  }

  /** Waits until fewer than `window` batches are uncommitted; throws the failure, if any. */
  async room(): Promise<void> {
    while (this.uncommitted.length >= this.window && !this.failure) await this.uncommitted[0];
    this.check();
  }

  /** Waits until every batch sent committed, or (after a failure) until every send ended. */
  async finish(): Promise<void> {
    await this.tail.catch(() => undefined);
    await Promise.all(this.running);
    this.unlink();
  }

  check(): void {
    if (this.failure) throw this.failure.error;
  }

  private fail(error: unknown): void {
    if (this.failure) return;
    this.failure = { error };
    this.abort.abort();
    this.onFailure();
  }
}

/**
 * The position after `later`, keeping what earlier segments of the same batch finished: a seek,
 * and the sweeps they scheduled or completed.
 */
function advance(earlier: AuditPosition, later: AuditPosition): AuditPosition {
  if (earlier.kind !== "legacy" || later.kind !== "legacy") return later;
  const seekFinished = earlier.seekFinished || later.seekFinished;
  const a = earlier.sweep;
  const b = later.sweep;
  const sweep = a && b ? { read: [...a.read, ...b.read], swept: [...a.swept, ...b.swept] } : (a ?? b);
  const readAt = Math.min(earlier.readAt ?? Infinity, later.readAt ?? Infinity);
  return { ...later, seekFinished, ...(sweep ? { sweep } : {}), ...(readAt < Infinity ? { readAt } : {}) };
}

/** Splits events into runs of at most `size`, for readers whose pages exceed the sink batch. */
export function* slices<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}
