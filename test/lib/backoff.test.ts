import { expect, test } from "bun:test";
import { backoffDelay } from "../../src/lib/backoff.ts";

test("full jitter grows from the base to the cap", () => {
  const policy = { baseMs: 1000, capMs: 30_000 };
  const top = () => 0.999999;
  expect([1, 2, 3, 5, 6, 50].map((n) => Math.round(backoffDelay(policy, n, top) / 1000))).toEqual([1, 2, 4, 16, 30, 30]);
  expect(backoffDelay(policy, 4, () => 0)).toBe(0);
});
