import { expect, test } from "bun:test";
import { afterLargeGarbage, governMemory, governStep, type Heap } from "../../src/lib/memory.ts";

/** A heap whose size the test sets; a collection brings it down to what is live. */
function fakeHeap(live: number) {
  const heap = { used: live, live, collections: 0 };
  const probe: Heap = {
    used: () => heap.used,
    collect: () => {
      heap.collections++;
      heap.used = heap.live;
    },
  };
  return { heap, probe };
}

const MiB = 1024 * 1024;

test("the heap-growth check collects once the heap grew by the threshold since the last collection", () => {
  const { heap, probe } = fakeHeap(10 * MiB);
  const stop = governMemory(probe, 60_000); // the timer never fires here: the steps are driven below
  try {
    heap.used = 13 * MiB;
    governStep(probe);
    expect(heap.collections).toBe(0);
    heap.used = 14 * MiB;
    governStep(probe);
    expect(heap.collections).toBe(1);
    expect(heap.used).toBe(10 * MiB);
    // Growth is measured from after that collection, not from the start.
    heap.live = 12 * MiB;
    heap.used = 15 * MiB;
    governStep(probe);
    expect(heap.collections).toBe(2);
    heap.used = 15 * MiB;
    governStep(probe);
    expect(heap.collections).toBe(2);
  } finally {
    stop();
  }
});

test("a heap that shrank on its own lowers the baseline", () => {
  const { heap, probe } = fakeHeap(20 * MiB);
  const stop = governMemory(probe, 60_000);
  try {
    heap.used = 8 * MiB;
    governStep(probe);
    heap.used = 12 * MiB;
    governStep(probe);
    expect(heap.collections).toBe(1);
  } finally {
    stop();
  }
});

test("recording bodies trigger a collection per 8 MiB handed over, which also resets the growth baseline", () => {
  const { heap, probe } = fakeHeap(10 * MiB);
  const stop = governMemory(probe, 60_000);
  try {
    afterLargeGarbage(5 * MiB, probe);
    expect(heap.collections).toBe(0);
    heap.used = 13 * MiB;
    afterLargeGarbage(3 * MiB, probe);
    expect(heap.collections).toBe(1);
    heap.used = 13 * MiB; // 3 MiB above the new baseline: no second collection
    governStep(probe);
    expect(heap.collections).toBe(1);
  } finally {
    stop();
  }
});
