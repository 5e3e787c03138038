import { describe, expect, test } from "bun:test";
import { expectUserError } from "../support/cli.ts";
import { runHandler, runToEnd, sharedWorld, waitUntil } from "../support/world.ts";

/**
 * The two periodic lines of a long-running export, on intervals short enough to watch: the
 * progress line's rate is over its own interval (an average since start stays high for hours after
 * a fast backlog), and a filter that drops everything it reads is said, not silently obeyed.
 */
describe("periodic log lines", () => {
  const world = sharedWorld({ teleport: { events: 200, days: 1, sessions: 0 } });

  test("progress-interval: after the burst, the next line's rate is 0, with its figures as JSON fields", async () => {
    const handler = await runHandler(world.startArgs(["--progress-interval", "500ms", "--log-format", "json"]));
    try {
      const progress = () =>
        handler
          .log()
          .split("\n")
          .filter((l) => l.includes('"progress: '))
          .map((l) => JSON.parse(l));
      const total = world.teleport.log.count;
      // A line once everything is delivered, and one more after it: the quiet interval.
      await waitUntil("a progress line after the last delivery", () => progress().filter((l) => l.events_delivered === total).length >= 2);
      const lines = progress();
      const burst = lines.find((l) => l.rate > 0);
      expect(burst).toBeDefined();
      const quiet = lines.filter((l) => l.events_delivered === total).at(-1);
      // Since start the average is still total / elapsed, far from 0.
      expect(quiet).toMatchObject({ level: "info", events_delivered: total, sessions_delivered: 0, dead_lettered: 0, rate: 0 });
      expect(quiet.lag_seconds).toBeGreaterThanOrEqual(0);
      expect(quiet.msg).toMatch(new RegExp(`^progress: ${total} events delivered, .*, 0 events/s, lag `));
    } finally {
      handler.kill();
      await handler.done;
    }
  });

  test("filter-warning-interval: filters that drop every event read are warned about, with the count", async () => {
    const storage = `${world.dir}/filtered`;
    // `types` is sent to Teleport, which then returns nothing to count; skip-event-types is applied
    // here, to what was read.
    const log = world.teleport.log;
    const every = [...new Set(Array.from({ length: log.count }, (_, i) => log.typeAt(i)))];
    const stored = world.fluentd.recordCount();
    const handler = await runHandler(world.startArgs(["--skip-event-types", every.join(","), "--filter-warning-interval", "1s"], storage));
    try {
      const dropped = () => [...handler.log().matchAll(/filters \(types \/ skip-event-types\) dropped all (\d+) audit events read in the last 1s; nothing of them was sent to Fluentd/g)].map((m) => Number(m[1]));
      const total = world.teleport.log.count;
      // Reading may straddle two looks: each says what it saw, and together they saw every event.
      await waitUntil("the warnings count every event read", () => dropped().reduce((a, b) => a + b, 0) >= total);
      expect(dropped().reduce((a, b) => a + b, 0)).toBe(total);
    } finally {
      handler.kill();
      await handler.done;
    }
    expect(world.fluentd.recordCount()).toBe(stored);
  });

  test("an interval a timer cannot hold is refused naming the setting", async () => {
    const result = await runToEnd(world.startArgs(["--progress-interval", "600h"]));
    expectUserError(result, /^invalid progress-interval "600h" from --progress-interval: must be at most \S+: a longer interval cannot be timed$/);
  });
});
