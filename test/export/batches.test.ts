import { describe, expect, test } from "bun:test";
import { deliverSegments, type Segment } from "../../src/export/batches.ts";
import { BoundedQueue } from "../../src/export/queue.ts";
import { auditEvent } from "../support/memory-teleport.ts";

const at = new Date("2025-03-03T00:00:00Z");
const segment = (n: number, more: boolean): Segment => ({
  events: Array.from({ length: n }, () => auditEvent("user.login", at)),
  position: {},
  more,
});

/** Lets pending promise callbacks run, without reaching a timer. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

async function batchesOf(pushes: Segment[], maxBatch: number): Promise<number[]> {
  const queue = new BoundedQueue<Segment>(4);
  const sizes: number[] = [];
  const done = deliverSegments(queue, maxBatch, async (events) => {
    sizes.push(events.length);
  });
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
});
