import { expect, test } from "bun:test";
import { untilSuccess } from "../../src/export/retry.ts";
import { Backoff } from "../../src/lib/backoff.ts";
import { logger } from "../../src/logger.ts";

/**
 * Five failures in a row; `resumable` says each attempt got further before it failed. Returns the
 * failures counted when each retry began (the backoff's delay grows with that count).
 */
async function countsAtEachRetry(resumable: boolean): Promise<number[]> {
  // Delays of a few milliseconds: what is checked is the count, not the time.
  const backoff = new Backoff(2, 4);
  const seen: number[] = [];
  let calls = 0;
  const level = logger.level;
  logger.level = 0; // the retry warnings are expected
  try {
    await untilSuccess(
      "a cut stream",
      async (progressed) => {
        if (calls++ > 0) seen.push(backoff.attempts);
        if (resumable) progressed();
        if (calls <= 5) throw new Error("stream cut");
      },
      new AbortController().signal,
      backoff,
    );
  } finally {
    logger.level = level;
  }
  return seen;
}

test("a stream that gets further before each failure waits the first delay every time", async () => {
  expect(await countsAtEachRetry(true)).toEqual([1, 1, 1, 1, 1]);
});

test("failures without progress count up, so the delays grow", async () => {
  expect(await countsAtEachRetry(false)).toEqual([1, 2, 3, 4, 5]);
});
