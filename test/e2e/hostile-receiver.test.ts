import { afterEach, describe, expect, test } from "bun:test";
import { startFakeFluentd, type FakeFluentd } from "../../scripts/fakes/fake-fluentd.ts";
import {
  expectAuditExactlyOnce,
  expectRecordingsExactlyOnce,
  freePort,
  metricsBase,
  runHandler,
  runToEnd,
  startWorld,
  statusJson,
  waitUntil,
  type World,
} from "../support/world.ts";

/**
 * A receiver, or whatever sits in front of it, that misbehaves: redirects, refuses every request.
 * Neither may move the checkpoint or turn the stream into dead letters; both must say what is wrong.
 */

describe("a hostile receiver", () => {
  let world: World | undefined;
  let elsewhere: FakeFluentd | undefined;
  afterEach(async () => {
    await world?.stop();
    await elsewhere?.stop();
    world = elsewhere = undefined;
  });

  test("a redirect is never followed: nothing is sent there, nothing checkpointed, the warning names the host", async () => {
    world = await startWorld({ teleport: { events: 80, days: 1, sessions: 2, printsPerSession: 2 } });
    // It would accept our client certificate: only the handler's refusal keeps the batch away.
    elsewhere = await startFakeFluentd({ ca: world.pki.fluentdCA.ca.certPem, cert: world.pki.fluentdServer.certPem, key: world.pki.fluentdServer.keyPem });
    world.fluentd.faults.redirect(`https://127.0.0.1:${elsewhere.port}/events.log`);
    const handler = await runHandler(world.startArgs(["--exit-on-last-event"]));
    await handler.waitForLog(`the receiver redirects to https://127.0.0.1:${elsewhere.port}; redirects are never followed`);
    expect(elsewhere.requestCount()).toBe(0);
    expect(world.fluentd.recordCount()).toBe(0);
    expect((await statusJson(world.storage)).delivered.events).toBe(0);

    world.fluentd.faults.redirect(null);
    const result = await handler.done;
    expect({ code: result.code, stderr: result.code === 0 ? "" : result.stderr }).toEqual({ code: 0, stderr: "" });
    expect(elsewhere.requestCount()).toBe(0);
    expectAuditExactlyOnce(world);
    expectRecordingsExactlyOnce(world, { withPrints: false });
  });

  test("a receiver that answers 400 to every request: nothing dead-lettered or checkpointed, /readyz fails, delivery resumes once fixed", async () => {
    world = await startWorld({ teleport: { events: 300, days: 1, sessions: 3, printsPerSession: 2 } });
    const { fluentd } = world;
    fluentd.faults.failNext(Number.MAX_SAFE_INTEGER, 400);
    const handler = await runHandler(
      world.startArgs(["--exit-on-last-event", "--metrics-addr", `127.0.0.1:${freePort()}`, "--ready-failure-period", "1s", "--fluentd-batch-size", "50"]),
    );
    const base = await metricsBase(handler);
    await handler.waitForLog("the receiver refused every record of a request one by one");
    expect(handler.log()).toContain("the fault is in the path");
    // Teleport is connected by now: what /readyz reports is the receiver.
    let readyz = "";
    await waitUntil("/readyz fails on Fluentd", () => {
      void fetch(`${base}/readyz`).then(async (r) => (readyz = `${r.status} ${await r.text()}`), () => undefined);
      return readyz.startsWith("503 fluentd: deliveries failing");
    });
    expect(readyz).toContain("the receiver refused every record of a request one by one");
    const during = await statusJson(world.storage);
    expect({ deadLetters: during.deadLetters, events: during.delivered.events, last: during.lastDelivered }).toEqual({ deadLetters: 0, events: 0, last: null });
    expect(fluentd.recordCount()).toBe(0);

    fluentd.faults.failNext(0);
    const result = await handler.done;
    expect({ code: result.code, stderr: result.code === 0 ? "" : result.stderr }).toEqual({ code: 0, stderr: "" });
    expect(result.stderr).toMatch(/summary: .* 0 dead-lettered/);
    expectAuditExactlyOnce(world);
    expectRecordingsExactlyOnce(world, { withPrints: false });
    expect((await statusJson(world.storage)).deadLetters).toBe(0);
  });
});

describe("credentials in a Fluentd URL", () => {
  let world: World;
  afterEach(() => world?.stop());

  test("never appear in any log line (text or JSON, --debug), dry-run line or stored dead letter, yet resends keep them", async () => {
    world = await startWorld({ teleport: { events: 150, days: 1, sessions: 2, printsPerSession: 2 } });
    const plain = `https://localhost:${world.fluentd.port}`;
    const secret = "s3cret-Pa55";
    const withCredentials = (args: string[]) => args.map((a) => (a.startsWith(plain) ? a.replace("https://", `https://alice:${secret}@`) : a));
    const poison = world.teleport.log.eventAt(42).id;
    world.fluentd.faults.rejectWhen((r) => r.uid === poison);

    const outputs: string[] = [];
    for (const [run, extra] of [["--debug"], ["--debug", "--log-format", "json"], ["--debug", "--dry-run"]].entries()) {
      const result = await runToEnd(withCredentials(world.startArgs(["--exit-on-last-event", ...extra])));
      // Exit 3: the first run dead-letters the poison event; the next finds nothing new, the dry run sends nothing.
      const expected = run === 0 ? 3 : 0;
      expect({ code: result.code, stderr: result.code === expected ? "" : result.stderr }).toEqual({ code: expected, stderr: "" });
      outputs.push(result.stdout, result.stderr);
    }
    const listed = await runToEnd(["dead-letters", "list", "--json", "--storage", world.storage]);
    const listedText = await runToEnd(["dead-letters", "list", "--storage", world.storage]);
    outputs.push(listed.stdout, listedText.stdout);
    const all = outputs.join("\n");
    // The runs did print URLs (so the grep means something), only ever redacted.
    expect(all).toContain(`https://***@localhost:${world.fluentd.port}/events.log`);
    expect(all).toContain("dry run: would send event");
    expect(all).toContain(`Fluentd rejected event ${poison} permanently`);
    expect(all).not.toContain(secret);
    expect(all).not.toContain("alice");
    expect(listed.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l).url)).toEqual([`https://***@localhost:${world.fluentd.port}/events.log`]);

    world.fluentd.faults.rejectWhen(null);
    const before = world.fluentd.requests.length;
    const retry = await runToEnd(withCredentials(["dead-letters", "retry", ...world.startArgs().slice(1)]));
    expect({ code: retry.code, stdout: retry.stdout }).toEqual({ code: 0, stdout: "1 delivered, 0 remain\n" });
    expect(retry.stderr).not.toContain(secret);
    const resent = world.fluentd.requests.slice(before);
    expect(resent.map((r) => r.headers.authorization)).toEqual([`Basic ${btoa(`alice:${secret}`)}`]);
  });
});
