import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { JsonObject } from "@bufbuild/protobuf";
import { startFakeFluentd, type FakeFluentd } from "../../scripts/fakes/fake-fluentd.ts";
import { SESSION_UPLOAD_INDEX } from "../../scripts/fakes/fake-events.ts";
import { auditUids, countBy, runHandler, runToEnd, startWorld, statusJson, type World } from "../support/world.ts";

/**
 * Data from Teleport is untrusted. A fake Teleport serves what a hostile or broken cluster could:
 * session ids that would steer the recording URL elsewhere, JSON nested past what Teleport itself
 * accepts, a recording whose index goes backwards or beyond 2^53, a message bigger than the cap.
 * Each of these costs at most the one event (counted or dead-lettered), never the export.
 */

/**
 * An event field nesting objects so that the event's Struct is `depth` levels deep in all (the
 * event itself is level 1), for the limit of 10,000 levels.
 */
function nested(depth: number): JsonObject {
  depth -= 2;
  let value: JsonObject = { leaf: true };
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

const BACKWARDS = "6d0f3f0e-8a34-4d51-9e7e-0c6b0b3f0a01";
const HUGE_INDEX = "6d0f3f0e-8a34-4d51-9e7e-0c6b0b3f0a02";
const BEYOND_2_53 = 2n ** 53n + 5n;

describe("a hostile Teleport", () => {
  let world: World;
  let elsewhere: FakeFluentd;
  let result: { code: number | null; stderr: string };
  let deepId: string;
  let shallowId: string;
  let hostileIds: string[];

  beforeAll(async () => {
    world = await startWorld({ teleport: { events: 120, days: 1, sessions: 2, printsPerSession: 2 } });
    // Another receiver the client certificate would be accepted by: nothing may ever reach it.
    elsewhere = await startFakeFluentd({ ca: world.pki.fluentdCA.ca.certPem, cert: world.pki.fluentdServer.certPem, key: world.pki.fluentdServer.keyPem });
    const { teleport } = world;
    hostileIds = ["../../events", "x?a=1", `@127.0.0.1:${elsewhere.port}/x`, "ok\n2026-01-01T00:00:00.000Z INFO  FORGED line", "\u202eevil"];
    for (const sid of hostileIds) {
      // Were the id put into a URL, this recording would be sent there.
      teleport.serveRecording(sid, [{ type: "session.start", ei: 0 }, { type: "session.end", ei: 1 }]);
      teleport.appendEvent({ type: "session.upload", fields: { sid, ei: SESSION_UPLOAD_INDEX } });
    }
    deepId = teleport.appendEvent({ type: "app.session.request", fields: { body: nested(10_001) } });
    shallowId = teleport.appendEvent({ type: "app.session.request", fields: { body: nested(10_000) } });
    teleport.serveRecording(
      BACKWARDS,
      [0, 1, 2, 3, 10, 4, 11].map((ei) => ({ type: ei === 0 ? "session.start" : ei === 11 ? "session.end" : "session.command", ei })),
    );
    teleport.serveRecording(HUGE_INDEX, [
      { type: "session.start", ei: 0 },
      { type: "session.command", ei: BEYOND_2_53 },
      { type: "session.end", ei: 1 },
    ]);
    for (const sid of [BACKWARDS, HUGE_INDEX]) teleport.appendEvent({ type: "session.upload", fields: { sid, ei: SESSION_UPLOAD_INDEX } });
    result = await runToEnd(world.startArgs(["--exit-on-last-event"]));
  });
  afterAll(async () => {
    await world.stop();
    await elsewhere.stop();
  });

  test("the run completes, with every audit event delivered once and the unreadable one dead-lettered", () => {
    // Exit 3: the run finished, and dead-lettered events (the deep one and the 2^53 one).
    expect({ code: result.code, stderr: result.code === 3 ? "" : result.stderr }).toEqual({ code: 3, stderr: "" });
    const uids = world.fluentd.records("events.log").map((r) => String(r.record.uid));
    expect(uids).toContain(shallowId);
    expect(uids).not.toContain(deepId);
    expect(result.stderr).toContain(`Could not export event ${deepId} permanently (unreadable from Teleport: the event's JSON nests deeper than 10000 levels`);
  });

  test("session ids that are not UUIDs never reach a URL, and are logged escaped and counted", async () => {
    expect(elsewhere.requestCount()).toBe(0);
    const tags = new Set(world.fluentd.requests.map((r) => r.tag));
    const allowed = /^(events\.log|session\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.log)$/;
    expect([...tags].filter((t) => !allowed.test(t))).toEqual([]);
    expect(world.teleport.sessionStreams.map((s) => s.sessionId).filter((sid) => hostileIds.includes(sid))).toEqual([]);
    // The forged line never starts a line of its own; the id shows escaped.
    expect(result.stderr.split("\n").filter((l) => l.includes("FORGED")).every((l) => !l.startsWith("2026-01-01"))).toBe(true);
    expect(result.stderr).toContain('session id "ok\\u000a2026-01-01T00:00:00.000Z INFO  FORGED line"');
    expect(result.stderr).toContain('session id "\\u202eevil"');
    const status = await statusJson(world.storage);
    expect(status.sessions.refused).toBe(hostileIds.length);
  });

  test("a recording whose index goes backwards loses nothing", () => {
    const got = world.fluentd.records(`session.${BACKWARDS}.log`).map((r) => Number(r.record.ei));
    expect(got).toEqual([0, 1, 2, 3, 10, 4, 11]);
  });

  test("an index beyond 2^53 is refused as one dead letter, the rest of the recording delivered", async () => {
    const got = world.fluentd.records(`session.${HUGE_INDEX}.log`).map((r) => r.record.event);
    expect(got).toEqual(["session.start", "session.end"]);
    expect(result.stderr).toContain(`its index ${BEYOND_2_53} is outside 0..2^53-1`);
    const listed = await runToEnd(["dead-letters", "list", "--json", "--storage", world.storage]);
    const letters = listed.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l));
    expect(letters.map((l) => l.status)).toEqual([0, 0]);
    expect(letters.map((l) => l.reason).join("\n")).toMatch(/nests deeper than 10000 levels[\s\S]*outside 0\.\.2\^53-1|outside 0\.\.2\^53-1[\s\S]*nests deeper/);
  });

  test("every other audit event arrived exactly once", () => {
    const uids = countBy(auditUids(world));
    expect([...uids].filter(([, n]) => n !== 1)).toEqual([]);
    expect(uids.size).toBe(world.teleport.log.count - 1);
  });
});

describe("a message from Teleport larger than the cap", () => {
  let world: World;
  afterAll(() => world.stop());

  test("is refused with a clear error after bounded decompression, and the export keeps trying", async () => {
    // Bulk export streams through the gRPC router, which gzips: 20 MiB travels as about 20 KB.
    world = await startWorld({ teleport: { events: 30, days: 1, sessions: 0, bulk: true } });
    world.teleport.appendEvent({ type: "app.session.request", fields: { body: "A".repeat(20 * 1024 * 1024) } });
    const handler = await runHandler(world.startArgs());
    await handler.waitForLog("refused a message from Teleport larger than 16 MiB, the cap on one gRPC message", 60_000);
    // It came gzipped and decompression stopped at the cap, rather than inflating first.
    expect(handler.log()).toContain("after decompression");
    expect(handler.proc.exitCode).toBeNull();
    expect(handler.log()).not.toContain("Maximum call stack");
    handler.kill();
    const done = await handler.done;
    expect(done.code).toBe(0);
    expect((await statusJson(world.storage)).deadLetters).toBe(0);
  });
});
