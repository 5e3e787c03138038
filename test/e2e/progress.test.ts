import { describe, expect, test } from "bun:test";
import { expectUserError } from "../support/cli.ts";
import { runHandler, runToEnd, sharedWorld, waitUntil } from "../support/world.ts";

/**
 * The lines an operator watches, on intervals short enough to test: the progress line's rate is
 * over its own interval (an average since start stays high for hours after a fast backlog), a
 * filter that drops everything it reads is said, not silently obeyed, and the end of an outage says
 * how much it held back.
 */
describe("periodic log lines", () => {
  const world = sharedWorld({ teleport: { events: 1200, days: 1, sessions: 0 } });

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

  test("the end of a Fluentd outage says how many events were caught up, also as fields", async () => {
    const storage = `${world.dir}/recovery`;
    world.fluentd.faults.failNext(3);
    // One delivery at a time: every acknowledgement comes after the failures, none races past them.
    const result = await runToEnd(world.startArgs(["--exit-on-last-event", "--concurrency", "1", "--log-format", "json"], storage));
    expect({ code: result.code, stderr: result.code === 0 ? "" : result.stderr }).toEqual({ code: 0, stderr: "" });
    const lines = result.stderr.split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const recovered = lines.filter((l) => String(l.msg).startsWith("Fluentd deliveries recovered"));
    expect(recovered).toHaveLength(1);
    const [line] = recovered;
    // Nothing was delivered before the outage ended: every event of the run was caught up.
    expect(line).toMatchObject({ level: "info", events_caught_up: world.teleport.log.count });
    expect(world.teleport.log.count).toBeGreaterThan(999);
    expect(line.msg).toMatch(new RegExp(`^Fluentd deliveries recovered after [\\d.]+m?s; ${world.teleport.log.count.toLocaleString("en-US")} events caught up$`));
    expect(line.failed_seconds).toBeGreaterThanOrEqual(0);
    // Said before the summary, which closes the run.
    expect(lines.indexOf(line)).toBeLessThan(lines.findIndex((l) => String(l.msg).startsWith("summary: ")));
  });

  test("an interval a timer cannot hold is refused naming the setting", async () => {
    const result = await runToEnd(world.startArgs(["--progress-interval", "600h"]));
    expectUserError(result, /^invalid progress-interval "600h" from --progress-interval: must be at most \S+: a longer interval cannot be timed$/);
  });
});
