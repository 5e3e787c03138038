import { describe, expect, test } from "bun:test";
import { runToEnd, sharedWorld } from "../support/world.ts";

/** JSON logs a pipeline can use without parsing sentences. */
describe("--log-format json", () => {
  const world = sharedWorld({ teleport: { events: 150, days: 1, sessions: 2 } });

  test("the summary carries its figures as fields", async () => {
    const result = await runToEnd(world.startArgs(["--exit-on-last-event", "--log-format", "json"]));
    expect(result.code).toBe(0);
    const lines = result.stderr.split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const summary = lines.find((l) => String(l.msg).startsWith("summary: "));
    const sessions = new Set(world.fluentd.records().filter((r) => r.tag.startsWith("session.")).map((r) => r.tag)).size;
    expect(sessions).toBeGreaterThan(0);
    expect(summary).toMatchObject({ level: "info", events_delivered: world.teleport.log.count, sessions_delivered: sessions, dead_lettered: 0 });
    expect(typeof summary.rate).toBe("number");
    expect(summary.lag_seconds).toBeGreaterThanOrEqual(0);
    // The text form says it in words; the fields are not repeated there.
    expect(summary.msg).not.toContain("events_delivered=");
  });

  test("an error in the arguments honours FDFWD_LOG_FORMAT=json", async () => {
    const result = await runToEnd(["start", "--no-such-flag"], { FDFWD_LOG_FORMAT: "json" });
    expect(result.code).toBe(2);
    const [line] = result.stderr.split("\n").filter(Boolean);
    expect(JSON.parse(line!)).toMatchObject({ level: "error", msg: expect.stringContaining("--no-such-flag") });
  });
});
