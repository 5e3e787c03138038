import type { AuditPosition, DueSweep, LegacyCheckpoint, ReadSlice, StateStore } from "../state/index.ts";
import type { AuditEvent, TeleportSource } from "../teleport/types.ts";
import { type Segment, slices } from "./batches.ts";
import { readRange } from "./range-read.ts";

/** Most sweeps started in one turn of the reader, so a long schedule never starves new reads. */
const SWEEPS_PER_TURN = 4;
/** A live tail records a slice at most this often (in time read), a fraction of the shortest delay. */
const GRAIN_FRACTION = 6;
const MIN_GRAIN_MS = 1_000;
/**
 * Slack for the handler's clock running ahead of Teleport's when a slice is trimmed to what can
 * still hold late events (see `finished`).
 */
const CLOCK_SLACK_MS = 60_000;
/**
 * The oldest event time a sweep started `now` can still need: an event stamped earlier and late
 * by no more than the longest delay was already searchable when it was first read.
 */
export function sweepHorizon(delaysMs: readonly number[], now: number): number {
  return now - Math.max(...delaysMs) - CLOCK_SLACK_MS;
}

/** The schedule is looked at most this often: the reader asks before every page. */
const CHECK_EVERY_MS = 1_000;

/**
 * Late-event sweeps on the legacy engine. Design: a sweep is part of the legacy *position*. The
 * reader notes each slice of event time it has read to the end (a closed window, or the open one
 * up to now) on the position of the segment that finishes it, and a sweep's re-read is queued as
 * segments whose position says which sweep they complete; `StateStore.commitAudit` writes the
 * schedule with the checkpoint. So the schedule moves exactly when the deliveries it stands for
 * are acknowledged: a crash before that re-reads the slice, a crash after never loses the sweep.
 * Re-read events go through the one delivery path, which drops those delivered before (their ids
 * are kept by the delivery ledger while a sweep is pending).
 */
export class LateSweeps {
  private sliceStart: Date;
  private readonly grainMs: number;
  /** Sweeps queued but not yet committed (`slice_from:next`): not to be queued twice. */
  private readonly inFlight = new Set<string>();
  private checkedAt = -Infinity;

  constructor(
    private readonly deps: {
      source: TeleportSource;
      state: StateStore;
      delaysMs: readonly number[];
      types: readonly string[];
      keep: (e: AuditEvent) => boolean;
      limit: number;
      batchSize: number;
    },
    start: Date,
  ) {
    this.sliceStart = deps.state.late.frontier() ?? start;
    this.grainMs = Math.max(MIN_GRAIN_MS, Math.min(...deps.delaysMs) / GRAIN_FRACTION);
  }

  /**
   * The slice a step of the walk finished reading, if any: everything before the window it moved
   * to, or (caught up in the open window) everything up to `readUntil`, once at least a grain.
   *
   * Only its last longest-delay (plus clock slack) before `now` is swept: an event stamped earlier
   * than that and late by no more than the longest delay was already searchable when it was read.
   * So catching up on history re-reads a bounded stretch per read, never the backlog again.
   */
  finished(next: LegacyCheckpoint, readUntil: Date | undefined, now: number): ReadSlice | undefined {
    const end = readUntil ?? next.windowStart;
    if (end.getTime() <= this.sliceStart.getTime()) return undefined;
    if (readUntil && end.getTime() - this.sliceStart.getTime() < this.grainMs) return undefined;
    const from = Math.max(this.sliceStart.getTime(), sweepHorizon(this.deps.delaysMs, now));
    this.sliceStart = end;
    return from < end.getTime() ? { from: new Date(from), to: end, readAt: new Date(now) } : undefined;
  }

  /**
   * The cursor was just found: what came before it was skipped on purpose and must not be swept
   * in, so slices begin at the first event after it.
   */
  skipTo(t: Date): void {
    if (t.getTime() > this.sliceStart.getTime()) this.sliceStart = t;
  }

  /** Reads the sweeps due now and turns them into late segments resuming at `pos`. */
  async *due(pos: () => LegacyCheckpoint, now: number, signal: AbortSignal): AsyncGenerator<Segment> {
    const { state, delaysMs } = this.deps;
    if (now - this.checkedAt < CHECK_EVERY_MS) return;
    this.checkedAt = now;
    const due = state.late.due(now, delaysMs);
    // A committed sweep is no longer due under the same key (its `next` moved on, or it is gone).
    const dueKeys = new Set(due.map(key));
    for (const k of this.inFlight) if (!dueKeys.has(k)) this.inFlight.delete(k);
    for (const sweep of due.filter((d) => !this.inFlight.has(key(d))).slice(0, SWEEPS_PER_TURN)) {
      this.inFlight.add(key(sweep));
      yield* this.read(sweep, pos, signal);
    }
  }

  private async *read(sweep: DueSweep, pos: () => LegacyCheckpoint, signal: AbortSignal): AsyncGenerator<Segment> {
    const { source, types, keep, limit, batchSize, delaysMs } = this.deps;
    const range = { from: sweep.from, to: sweep.to, types, limit };
    const position = (done: boolean): AuditPosition => ({
      kind: "legacy",
      checkpoint: pos(),
      seekFinished: false,
      ...(done ? { sweep: { read: [], swept: [{ from: sweep.from, next: sweep.next + 1, last: sweep.next + 1 >= delaysMs.length }] } } : {}),
    });
    for await (const events of readRange(source, range, signal)) {
      for (const part of slices(events.filter(keep), batchSize)) yield { events: part, position: position(false), late: true, more: true };
    }
    yield { events: [], position: position(true), late: true };
  }
}

function key(d: DueSweep): string {
  return `${d.from.getTime()}:${d.next}`;
}
