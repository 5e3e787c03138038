/**
 * Sliding-window counting by event time. Pure, so the rule can be tested without a clock: two
 * failures share a window when they are less than `periodMs` apart.
 *
 * Returns the time of the failure that completes the first run of `threshold` failures inside
 * one window, or undefined. `times` must be ascending; the order events arrive in does not matter,
 * because the caller passes every stored failure around the new one.
 */
export function thresholdReachedAt(times: readonly number[], periodMs: number, threshold: number): number | undefined {
  let first = 0;
  for (let last = 0; last < times.length; last++) {
    while (times[last]! - times[first]! >= periodMs) first++;
    if (last - first + 1 >= threshold) return times[last];
  }
  return undefined;
}
