import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { auditUids, countBy, runToEnd, startWorld, statusJson, type World } from "../support/world.ts";

/**
 * A poison event (the receiver answers 400 for it, whatever the batch) is dead-lettered: kept in
 * the state with its URL, status and reason, counted by `status`, listed by `dead-letters list`,
 * and everything else is delivered. `dead-letters retry` resends it once the receiver accepts it.
 */
describe("poison events", () => {
  let world: World;
  let poison: string;
  let sessionPoison: string;
  let sessionTag: string;
  const retryArgs = () => ["dead-letters", "retry", ...world.startArgs().slice(1)];
  const list = async (json = false) => {
    const result = await runToEnd(["dead-letters", "list", "--storage", world.storage, ...(json ? ["--json"] : [])]);
    expect(result.code).toBe(0);
    return result.stdout.split("\n").filter(Boolean);
  };

  beforeAll(async () => {
    world = await startWorld({ teleport: { events: 600, days: 1, sessions: 6, printsPerSession: 5 } });
    const log = world.teleport.log;
    poison = log.eventAt(123).id;
    // The resize event of the first recording: a poison record on a session URL.
    const resize = [...log.recording(0)].find((e) => e.type === "resize")!;
    sessionPoison = resize.id;
    sessionTag = `session.${log.sessionId(0)}.log`;
    const poisoned = new Set([poison, sessionPoison]);
    world.fluentd.faults.rejectWhen((r) => poisoned.has(String(r.uid)));
  });
  afterAll(() => world.stop());

  test("is dead-lettered while everything else is delivered", async () => {
    const result = await runToEnd(world.startArgs(["--exit-on-last-event", "--fluentd-batch-size", "50"]));
    // Caught up, but with events parked: exit 3 tells a scheduler so.
    expect({ code: result.code, stderr: result.code === 3 ? "" : result.stderr }).toEqual({ code: 3, stderr: "" });
    expect(result.stderr).toContain(`Fluentd rejected event ${poison} permanently (HTTP 400`);
    expect(result.stderr).toMatch(/summary: .*2 dead-lettered/);

    const uids = countBy(auditUids(world));
    expect(uids.has(poison)).toBe(false);
    expect(uids.size).toBe(world.teleport.log.count - 1);
    expect([...uids.values()].every((n) => n === 1)).toBe(true);
    const recording = world.fluentd.records(sessionTag).map((r) => r.record.event);
    expect(recording).toEqual(["session.start", "session.end"]);

    const status = await statusJson(world.storage);
    expect(status.deadLetters).toBe(2);
    expect(status.delivered.deadLettered).toBe(2);

    const lines = await list();
    expect(lines).toHaveLength(2);
    expect(lines.find((l) => l.includes(poison))).toContain("HTTP 400\thttps://localhost:");
    const bodies = (await list(true)).map((l) => JSON.parse(l));
    expect(bodies.map((b) => JSON.parse(b.body).uid).sort()).toEqual([poison, sessionPoison].sort());
    expect(bodies.find((b) => b.eventId === sessionPoison).url).toContain(`/${sessionTag}`);
  });

  test("retry keeps them while the receiver still refuses, exit code 1", async () => {
    const result = await runToEnd(retryArgs());
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("0 delivered, 2 remain\n");
    expect(await list()).toHaveLength(2);
    expect(auditUids(world)).not.toContain(poison);
  });

  test("retry delivers them once the receiver accepts them, and empties the store", async () => {
    world.fluentd.faults.rejectWhen(null);
    const result = await runToEnd(retryArgs());
    expect({ code: result.code, stderr: result.code === 0 ? "" : result.stderr }).toEqual({ code: 0, stderr: "" });
    expect(result.stdout).toBe("2 delivered, 0 remain\n");
    expect(countBy(auditUids(world)).get(poison)).toBe(1);
    expect(world.fluentd.records(sessionTag).map((r) => r.record.event)).toEqual(["session.start", "session.end", "resize"]);
    expect(await list()).toEqual([]);
    expect((await statusJson(world.storage)).deadLetters).toBe(0);

    const again = await runToEnd(retryArgs());
    expect(again.code).toBe(0);
    expect(again.stdout).toBe("0 delivered, 0 remain\n");
  });
});
