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

/**
 * Drains segments into sink batches of at most `maxBatch` events. Whatever the reader already has
 * queued is coalesced, so small pages do not cost one Fluentd round trip each. A batch that is not
 * full waits up to LINGER_MS for more only while the reader says more follow (a backlog); otherwise
 * it is sent at once, so a live tail's latency stays one round trip.
 *
 * Once `stop` aborts (SIGTERM), only the batch in flight is finished: segments read ahead but not
 * yet sent stay unsent, since the checkpoint never moved past them and the next start reads them
 * again. Sending them would stretch the shutdown by up to the whole read-ahead.
 */
export async function deliverSegments(
  queue: BoundedQueue<Segment>,
  maxBatch: number,
  deliver: (events: AuditEvent[], position: AuditPosition, late: boolean) => Promise<void>,
  stop?: AbortSignal,
  lingerMs = LINGER_MS,
): Promise<void> {
  for (;;) {
    if (stop?.aborted) return;
    const first = await queue.shift();
    if (!first || stop?.aborted) return;
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
      if (stop?.aborted) return;
      if (!arrived) break;
    }
    await deliver(events, position, late);
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
  return { ...later, seekFinished, ...(sweep ? { sweep } : {}) };
}

/** Splits events into runs of at most `size`, for readers whose pages exceed the sink batch. */
export function* slices<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}
