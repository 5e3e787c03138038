import { describe, expect, test } from "bun:test";
import { auditUids, countBy, runToEnd, sharedWorld } from "../support/world.ts";

describe("compiled binary exports a multi-day audit log and its recordings", () => {
  const world = sharedWorld({ teleport: { events: 2000, days: 3, sessions: 12, printsPerSession: 5 } });

  test("every audit event exactly once, recordings complete and in order, print skipped", async () => {
    const result = await runToEnd(world.startArgs(["--exit-on-last-event"]));
    expect(result.code).toBe(0);
    expect(result.stderr).toContain("summary:");

    const expected = world.teleport.log.count;
    const uids = auditUids(world);
    expect(uids.length).toBe(expected);
    expect([...countBy(uids).values()].every((n) => n === 1)).toBe(true);

    const sessionTags = new Set(world.fluentd.records().map((r) => r.tag).filter((t) => t.startsWith("session.")));
    expect(sessionTags.size).toBeGreaterThan(0);
    for (const tag of sessionTags) {
      const indexes = world.fluentd.records(tag).map((r) => Number(r.record.ei));
      expect(indexes).toEqual([...indexes].sort((a, b) => a - b));
      expect(world.fluentd.records(tag).some((r) => r.record.event === "print")).toBe(false);
      expect(world.fluentd.records(tag).some((r) => r.record.event === "session.end")).toBe(true);
    }
  });

  test("a second run finds nothing new and exits promptly", async () => {
    const before = world.fluentd.recordCount();
    const started = Date.now();
    const result = await runToEnd(world.startArgs(["--exit-on-last-event"]));
    expect(result.code).toBe(0);
    expect(world.fluentd.recordCount()).toBe(before);
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
