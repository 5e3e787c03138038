import { describe, expect, test } from "bun:test";
import { type BatchSender, deliverSegments, type Segment } from "../../src/export/batches.ts";
import type { AuditPosition } from "../../src/state/index.ts";
import { BoundedQueue } from "../../src/export/queue.ts";
import { auditEvent } from "../support/memory-teleport.ts";

const at = new Date("2025-03-03T00:00:00Z");
const segment = (n: number, more: boolean, position: AuditPosition = { kind: "chunk", progress: { date: "2025-03-03", chunk: "c", cursor: `${n}`, completed: false } }): Segment => ({
  events: Array.from({ length: n }, () => auditEvent("user.login", at)),
  position,
  more,
});

const legacyAt = (pageKey: string, seekFinished: boolean): AuditPosition => ({ kind: "legacy", checkpoint: { windowStart: at, pageKey, lastEventId: "" }, seekFinished });
const readAt = (pageKey: string, when: number): AuditPosition => ({ kind: "legacy", checkpoint: { windowStart: at, pageKey, lastEventId: "" }, seekFinished: false, readAt: when });

/** Lets pending promise callbacks run, without reaching a timer. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

/**
 * A linger far longer than any test: whether pages are gathered then depends only on the reader's
 * "more" flag and the batch size, never on how fast a loaded machine runs the test.
 */
const LINGER_MS = 60_000;

/** A sender whose sink acknowledges every batch at once. */
function sendingAtOnce(onCommit: (events: Segment["events"], position: AuditPosition) => void): BatchSender {
  return {
    async send(events, position) {
      return { acknowledged: Promise.resolve(), commit: () => onCommit(events, position) };
    },
  };
}

async function batchesOf(pushes: Segment[], maxBatch: number): Promise<number[]> {
  const queue = new BoundedQueue<Segment>(4);
  const sizes: number[] = [];
  const done = deliverSegments(queue, maxBatch, sendingAtOnce((events) => sizes.push(events.length)), { lingerMs: LINGER_MS });
  for (const s of pushes) {
    await queue.push(s);
    await settle();
  }
  queue.close();
  await done;
  return sizes;
}

describe("delivery batches", () => {
  test("in a backlog, pages that arrive one by one are gathered into one Fluentd batch", async () => {
    expect(await batchesOf([segment(20, true), segment(20, true), segment(20, true), segment(20, false), segment(20, true)], 100)).toEqual([80, 20]);
  });

  test("a batch never exceeds the sink's batch size", async () => {
    expect(await batchesOf([segment(20, true), segment(20, true), segment(20, true)], 50)).toEqual([40, 20]);
  });

  test("caught up (no more events follow), each page is sent at once", async () => {
    expect(await batchesOf([segment(5, false), segment(5, false), segment(5, false)], 100)).toEqual([5, 5, 5]);
  });

  /** The positions committed when pages at `positions` wait together in the queue (one batch). */
  async function committedPositions(positions: AuditPosition[]): Promise<AuditPosition[]> {
    const queue = new BoundedQueue<Segment>(4);
    for (const position of positions) await queue.push(segment(2, true, position));
    queue.close();
    const committed: AuditPosition[] = [];
    await deliverSegments(
      queue,
      100,
      sendingAtOnce((_events, position) => committed.push(position)),
    );
    return committed;
  }

  test("a gathered batch commits the last page's position, and a cursor found in an earlier page stays found", async () => {
    expect(await committedPositions([legacyAt("k1", false), legacyAt("k2", true), legacyAt("k3", false)])).toEqual([legacyAt("k3", true)]);
  });

  test("a gathered batch was read when its earliest page was read", async () => {
    expect(await committedPositions([readAt("k1", 300), readAt("k2", 100), readAt("k3", 200)])).toEqual([readAt("k3", 100)]);
  });
});

/** Lets every promise chain that can move on do so (each setImmediate turn drains the microtasks). */
async function idle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** A sink whose acknowledgements the test gives (or refuses) batch by batch, in any order. */
class ControlledSink implements BatchSender {
  readonly sent: Array<{ n: number; signal: AbortSignal; ack(): void; fail(err: Error): void }> = [];
  readonly committed: number[] = [];

  async send(events: Segment["events"], _position: AuditPosition, _late: boolean, signal: AbortSignal) {
    const n = Number(events[0]!.id.split("-").at(-1));
    let ack!: () => void;
    let fail!: (err: Error) => void;
    const acknowledged = new Promise<void>((resolve, reject) => {
      ack = resolve;
      fail = reject;
    });
    // As the sinks do: an abandoned send rejects.
    signal.addEventListener("abort", () => fail(new Error("aborted")));
    this.sent.push({ n, signal, ack, fail });
    return { acknowledged, commit: () => this.committed.push(n) };
  }

  batch(n: number) {
    return this.sent.find((s) => s.n === n)!;
  }
}

/** `count` pages of one event each, numbered from 1 (one batch each with a batch size of 1). */
async function numberedPages(count: number): Promise<BoundedQueue<Segment>> {
  const queue = new BoundedQueue<Segment>(count);
  for (let n = 1; n <= count; n++) {
    const event = { ...auditEvent("user.login", at), id: `batch-${n}` };
    await queue.push({ events: [event], position: { kind: "chunk", progress: { date: "2025-03-03", chunk: "c", cursor: `${n}`, completed: false } } });
  }
  queue.close();
  return queue;
}

describe("batches in flight, committed in order", () => {
  test("up to the window of batches is sent before the first is acknowledged, and no more", async () => {
    const sink = new ControlledSink();
    const done = deliverSegments(await numberedPages(6), 1, sink, { window: 3 });
    await idle();
    expect(sink.sent.map((s) => s.n)).toEqual([1, 2, 3]);
    sink.batch(1).ack();
    await idle();
    expect(sink.committed).toEqual([1]);
    expect(sink.sent.map((s) => s.n)).toEqual([1, 2, 3, 4]);
    for (const n of [2, 3, 4, 5, 6]) {
      sink.batch(n).ack();
      await idle();
    }
    await done;
    expect(sink.committed).toEqual([1, 2, 3, 4, 5, 6]);
  });

  test("a batch acknowledged early does not commit before the batches sent ahead of it", async () => {
    const sink = new ControlledSink();
    const done = deliverSegments(await numberedPages(3), 1, sink, { window: 3 });
    await idle();
    sink.batch(3).ack();
    sink.batch(2).ack();
    await idle();
    expect(sink.committed).toEqual([]);
    sink.batch(1).ack();
    await done;
    expect(sink.committed).toEqual([1, 2, 3]);
  });

  test("a failure in the middle: nothing after it commits, the sends after it are abandoned, its error is the pipeline's", async () => {
    const sink = new ControlledSink();
    const done = deliverSegments(await numberedPages(5), 1, sink, { window: 4 });
    await idle();
    sink.batch(1).ack();
    sink.batch(3).ack();
    await idle();
    sink.batch(2).fail(new Error("receiver on fire"));
    expect(await done.then(() => "resolved", (err: Error) => err.message)).toBe("receiver on fire");
    expect(sink.committed).toEqual([1]);
    // Batch 1 committed, so batch 5 went out; the failure abandoned those after batch 2.
    expect(sink.sent.map((s) => s.n)).toEqual([1, 2, 3, 4, 5]);
    expect([3, 4, 5].map((n) => sink.batch(n).signal.aborted)).toEqual([true, true, true]);
  });

  test("a window of 1 sends the next batch only once the previous one committed", async () => {
    const sink = new ControlledSink();
    const done = deliverSegments(await numberedPages(3), 1, sink, { window: 1 });
    for (const n of [1, 2, 3]) {
      await idle();
      expect(sink.sent.map((s) => s.n)).toEqual([1, 2, 3].slice(0, n));
      sink.batch(n).ack();
    }
    await done;
    expect(sink.committed).toEqual([1, 2, 3]);
  });

  test("a stop lets the batches in flight commit and sends nothing more", async () => {
    const sink = new ControlledSink();
    const stop = new AbortController();
    const done = deliverSegments(await numberedPages(6), 1, sink, { window: 2, stop: stop.signal });
    await idle();
    stop.abort();
    sink.batch(2).ack();
    sink.batch(1).ack();
    await done;
    expect(sink.sent.map((s) => s.n)).toEqual([1, 2]);
    expect(sink.committed).toEqual([1, 2]);
  });
});
