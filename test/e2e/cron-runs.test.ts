import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { freePort, runHandler, runToEnd, startWorld, statusJson, waitUntil, type World, sharedWorld } from "../support/world.ts";

/**
 * Runs from cron or a systemd timer (exit-on-last-event) must end, and their exit code must say
 * how: 0 caught up, 1 a failure that persisted for exit-timeout (progress kept), 3 caught up with
 * events parked in dead letters. SIGTERM ends a run promptly whatever it is waiting for.
 */

describe("exit-timeout", () => {
  const world = sharedWorld({ teleport: { events: 300, days: 1, sessions: 2 } });

  test("Fluentd failing persistently: exit 1 with what failed, and the next run resumes", async () => {
    world.fluentd.faults.failNext(1_000_000, 500);
    const result = await runToEnd(world.startArgs(["--exit-on-last-event", "--exit-timeout", "2s"]));
    expect(result.code).toBe(1);
    // The whole line: an outage said in full, without the "--debug" hint a bug gets.
    const stall = result.stderr.split("\n").filter((l) => l.includes("(exit-timeout)"));
    expect(stall).toEqual([
      expect.stringMatching(
        /^\S* *ERROR +no progress for [\d.]+s \(exit-timeout\): Fluentd deliveries failing for [\d.]+m?s: HTTP 500\. The export position is saved; the next run resumes from it$/,
      ),
    ]);
    // Failing deliveries are not in flight "in time" or not: nothing claims they finished.
    expect(result.stderr).toContain("summary: 0 events delivered");
    const json = await statusJson(world.storage);
    expect(json.delivered.events).toBe(0);
    expect(json.deliveriesFailing.reason).toContain("HTTP 500");
    // Nothing delivered yet: lag counts from the start time, a day before the first event.
    expect(json.lagSeconds).toBeGreaterThan(86_400);
    const status = await runToEnd(["status", "--storage", world.storage]);
    expect(status.stdout).toMatch(/^lag: +\d+h(\d+m)?(\d+s)? \(nothing delivered yet: since the start time\)$/m);
    expect(status.stdout).toMatch(/^deliveries: +failing since \S+Z \([\d.]+m?s\): HTTP 500$/m);

    world.fluentd.faults.failNext(0);
    const next = await runToEnd(world.startArgs(["--exit-on-last-event", "--exit-timeout", "2s"]));
    expect({ code: next.code, stderr: next.code === 0 ? "" : next.stderr }).toEqual({ code: 0, stderr: "" });
    expect(world.fluentd.recordCount("events.log")).toBe(world.teleport.log.count);
    expect((await statusJson(world.storage)).deliveriesFailing).toBeNull();
  });

  test("Teleport unreachable: exit 1 naming Teleport", async () => {
    const args = world.startArgs(["--exit-on-last-event", "--exit-timeout", "2s"]);
    args[args.indexOf("--teleport-addr") + 1] = `127.0.0.1:${freePort()}`;
    const result = await runToEnd(args);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/ERROR +no progress for [\d.]+s \(exit-timeout\): Teleport/);
  });
});

describe("dead letters in a scheduled run", () => {
  const world = sharedWorld({ teleport: { events: 800, days: 1, sessions: 0 } });

  test("exit 3, and one aggregated warning instead of one per event", async () => {
    const rejectedType = world.teleport.log.typeAt(0);
    let rejected = 0;
    for (let i = 0; i < world.teleport.log.count; i++) if (world.teleport.log.typeAt(i) === rejectedType) rejected++;
    expect(rejected).toBeGreaterThan(10);
    world.fluentd.faults.rejectWhen((r) => r.event === rejectedType);
    const result = await runToEnd(world.startArgs(["--exit-on-last-event", "--fluentd-batch-size", "50"]));
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`${rejected} events were dead-lettered in this run; see dead-letters list (exit 3)`);
    const warnings = result.stderr.split("\n").filter((l) => l.includes("Fluentd rejected"));
    // The first batch's at once, the rest counted together at the end of the run.
    expect(warnings.length).toBeLessThanOrEqual(2);
    const counted = warnings.map((l) => (/rejected event /.test(l) ? 1 : Number(/rejected (\d+) events/.exec(l)?.[1])));
    expect(counted.reduce((a, b) => a + b, 0)).toBe(rejected);
    expect(warnings.at(-1)).toMatch(/Fluentd rejected \d+ events permanently; kept in dead letters \(see dead-letters list\): \d+ × HTTP 400: 400 Bad Request/);
  });
});

describe("SIGTERM while Teleport does not answer", () => {
  let blackhole: { port: number; stop(closeActive?: boolean): void } | undefined;
  let world: World;
  let accepted = 0;
  beforeAll(async () => {
    world = await startWorld({ teleport: { events: 10, days: 1, sessions: 0 } });
    // Accepts the TCP connection and never says a word: the TLS handshake waits forever.
    blackhole = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: () => void accepted++, data() {} } });
  });
  afterEach(() => blackhole?.stop(true));
  afterAll(() => world.stop());

  test("exits 0 within a second or two, without claiming batches were in flight", async () => {
    const args = world.startArgs();
    args[args.indexOf("--teleport-addr") + 1] = `127.0.0.1:${blackhole!.port}`;
    const handler = await runHandler(args);
    await waitUntil("the handler is connecting", () => accepted > 0);
    const signalled = performance.now();
    handler.kill("SIGTERM");
    const result = await handler.done;
    const took = performance.now() - signalled;
    expect({ code: result.code, stderr: result.code === 0 ? "" : result.stderr }).toEqual({ code: 0, stderr: "" });
    expect(took).toBeLessThan(5_000);
    expect(result.stderr).not.toContain("did not finish");
  });
});
