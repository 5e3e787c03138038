import { describe, expect, test } from "bun:test";
import { runToEnd, sharedWorld } from "../support/world.ts";

/** A typo in a type filter exports nothing (or skips nothing) and looks like success: say so at start-up. */
describe("unknown event type names", () => {
  const world = sharedWorld({ teleport: { events: 40, days: 1, sessions: 0 } });

  test("a typo in types is warned about with what was probably meant", async () => {
    const result = await runToEnd(world.startArgs(["--exit-on-last-event", "--types", "user.logn,session.start", "--skip-session-types", "prnt"]));
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/WARN +types: "user\.logn" is not a Teleport event type; did you mean "user\.login"\?/);
    expect(result.stderr).toMatch(/WARN +skip-session-types: "prnt" is not a Teleport event type; did you mean "print"\?/);
    expect(result.stderr).not.toContain('"session.start" is not');
  });

  test("the defaults and the fake cluster's types raise no such warning", async () => {
    const result = await runToEnd(world.startArgs(["--exit-on-last-event"]));
    expect(result.code).toBe(0);
    expect(result.stderr).not.toContain("is not a Teleport event type");
  });
});
