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

/** Runs `steps` with the governor started on a fake heap; its timer never fires, the steps drive it. */
function governed(live: number, steps: (heap: ReturnType<typeof fakeHeap>["heap"], probe: Heap) => void): void {
  const { heap, probe } = fakeHeap(live);
  const stop = governMemory(probe, 60_000);
  try {
    steps(heap, probe);
  } finally {
    stop();
  }
}

test("the heap-growth check collects once the heap grew by the threshold since the last collection", () => {
  governed(10 * MiB, (heap, probe) => {
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
  });
});

test("a heap that shrank on its own lowers the baseline", () => {
  governed(20 * MiB, (heap, probe) => {
    heap.used = 8 * MiB;
    governStep(probe);
    heap.used = 12 * MiB;
    governStep(probe);
    expect(heap.collections).toBe(1);
  });
});

test("recording bodies trigger a collection per 8 MiB handed over, which also resets the growth baseline", () => {
  governed(10 * MiB, (heap, probe) => {
    afterLargeGarbage(5 * MiB, probe);
    expect(heap.collections).toBe(0);
    heap.used = 13 * MiB;
    afterLargeGarbage(3 * MiB, probe);
    expect(heap.collections).toBe(1);
    heap.used = 13 * MiB; // 3 MiB above the new baseline: no second collection
    governStep(probe);
    expect(heap.collections).toBe(1);
  });
});
