import { describe, expect, test } from "bun:test";
import { deliverSegments, type Segment } from "../../src/export/batches.ts";
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

/** Lets pending promise callbacks run, without reaching a timer. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

/**
 * A linger far longer than any test: whether pages are gathered then depends only on the reader's
 * "more" flag and the batch size, never on how fast a loaded machine runs the test.
 */
const LINGER_MS = 60_000;

async function batchesOf(pushes: Segment[], maxBatch: number): Promise<number[]> {
  const queue = new BoundedQueue<Segment>(4);
  const sizes: number[] = [];
  const done = deliverSegments(
    queue,
    maxBatch,
    async (events) => {
      sizes.push(events.length);
    },
    undefined,
    LINGER_MS,
  );
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

  test("a gathered batch commits the last page's position, and a cursor found in an earlier page stays found", async () => {
    const queue = new BoundedQueue<Segment>(4);
    for (const [key, found] of [["k1", false], ["k2", true], ["k3", false]] as const) await queue.push(segment(2, true, legacyAt(key, found)));
    queue.close();
    const positions: AuditPosition[] = [];
    await deliverSegments(queue, 100, async (_events, position) => {
      positions.push(position);
    });
    expect(positions).toEqual([legacyAt("k3", true)]);
  });
});
