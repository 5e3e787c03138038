import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { auditUids, countBy, runInTerminal, runToEnd, startWorld, statusJson, type World, sharedWorld } from "../support/world.ts";

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
    const lines = result.stdout.split("\n").filter(Boolean);
    if (json) return lines;
    // The text form starts with a header, or says there is nothing.
    if (lines[0] === "no dead letters") return [];
    expect(lines[0]).toBe("ID\tTIME\tEVENT\tSTATUS\tURL\tREASON");
    return lines.slice(1);
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
    const result = await runToEnd([...retryArgs(), "--to-stored-url"]);
    expect({ code: result.code, stderr: result.code === 0 ? "" : result.stderr }).toEqual({ code: 0, stderr: "" });
    expect(result.stdout).toBe("2 delivered, 0 remain\n");
    expect(countBy(auditUids(world)).get(poison)).toBe(1);
    expect(world.fluentd.records(sessionTag).map((r) => r.record.event)).toEqual(["session.start", "session.end", "resize"]);
    expect(await list()).toEqual([]);
    expect((await statusJson(world.storage)).deadLetters).toBe(0);

    const again = await runToEnd(retryArgs());
    expect(again.code).toBe(0);
    expect(again.stdout).toBe("0 delivered, 0 remain\n");
    expect((await runToEnd(["dead-letters", "list", "--storage", world.storage])).stdout).toBe("no dead letters\n");
  });
});

/**
 * Letters usually pile up because a URL was wrong: once the configuration is fixed, `retry` sends
 * them to the URLs configured now for their stream, not to the ones that refused them.
 */
describe("dead-letters retry after fixing the URLs", () => {
  const world = sharedWorld({ teleport: { events: 200, days: 1, sessions: 3, printsPerSession: 2 } });

  test("resends to the configured fluentd-url and session URL", async () => {
    const log = world.teleport.log;
    const poison = log.eventAt(10).id;
    const resize = [...log.recording(0)].find((e) => e.type === "resize")!.id;
    const poisoned = new Set([poison, resize]);
    world.fluentd.faults.rejectWhen((r) => poisoned.has(String(r.uid)));
    expect((await runToEnd(world.startArgs(["--exit-on-last-event"]))).code).toBe(3);
    world.fluentd.faults.rejectWhen(null);

    // At a terminal, purge wants --yes: these events exist nowhere else.
    const purge = await runInTerminal(["dead-letters", "purge", "--storage", world.storage]);
    expect(purge.code).toBe(2);
    expect(purge.screen).toContain("purge deletes 2 dead letters for good; run it again with --yes");

    const args = ["dead-letters", "retry", ...world.startArgs().slice(1)];
    args[args.indexOf("--fluentd-url") + 1] = `https://localhost:${world.fluentd.port}/fixed.log`;
    args[args.indexOf("--fluentd-session-url") + 1] = `https://localhost:${world.fluentd.port}/fixed-session`;
    const result = await runToEnd(args);
    expect(result.stdout).toBe("2 delivered, 0 remain\n");
    expect(world.fluentd.records("fixed.log").map((r) => r.record.uid)).toEqual([poison]);
    expect(world.fluentd.records(`fixed-session.${log.sessionId(0)}.log`).map((r) => r.record.uid)).toEqual([resize]);
  });
});
