import { expect, test } from "bun:test";
import { vmHwmKB } from "../../scripts/bench/measure.ts";
import { runHandler, sharedWorld } from "../support/world.ts";

/**
 * Memory must not grow with the size of a session recording. The recording here is several times
 * larger than the headroom the bound leaves above the handler's own footprint (~80 MB), so a
 * handler that keeps any part of what it has streamed (a leak, a buffer below the consumer)
 * crosses the bound; a bounded one stays well under it (about 110 MB measured). Before the fix a
 * 100 MB recording peaked at 316 MB. The number asserted is the kernel's high-water mark of the
 * handler process, not a time.
 */
const RECORDING_BYTES = 96 * 1024 * 1024;
const PEAK_RSS_BOUND_MB = 160;

const world = sharedWorld({ teleport: { events: 4, sessions: 1, largeRecordingBytes: RECORDING_BYTES }, fluentd: { keepRecords: false } });

test("a recording far larger than the memory bound streams through with print exported", async () => {
  // print goes to Fluentd, so every payload takes the whole path: decode, JSON body, request.
  const handler = await runHandler(world.startArgs(["--exit-on-last-event", "--skip-session-types", "desktop.recording"]));
  let peakKB = 0;
  const poll = setInterval(() => (peakKB = Math.max(peakKB, vmHwmKB(handler.proc.pid))), 20);
  const result = await handler.done;
  clearInterval(poll);
  expect(result.code, result.stderr).toBe(0);

  const log = world.teleport.log;
  const expected = [...log.recording(0)].length;
  expect(expected).toBeGreaterThan(RECORDING_BYTES / (64 * 1024));
  expect(world.fluentd.recordCount(`session.${log.sessionId(0)}.log`)).toBe(expected);
  expect(peakKB).toBeGreaterThan(0);
  expect(peakKB / 1024).toBeLessThan(PEAK_RSS_BOUND_MB);
});
