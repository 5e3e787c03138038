import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { auditUids, compiledBinary, logUids, runToEnd, sessionTags, sorted, startWorld, type World } from "../support/world.ts";

/**
 * Filters, dry-run and exit-on-last-event, each against a fresh fake Teleport and receiver so that
 * what the receiver holds is exactly what one run sent.
 */
const SESSIONS = 6;
const PRINTS = 3;
let world: World | undefined;
afterEach(() => world?.stop());

async function freshWorld(): Promise<World> {
  world = await startWorld({ teleport: { events: 300, days: 2, sessions: SESSIONS, printsPerSession: PRINTS } });
  return world;
}

async function exportWith(w: World, extra: string[]) {
  const result = await runToEnd(w.startArgs(["--exit-on-last-event", ...extra]));
  expect(result.stderr).toContain("summary:");
  expect(result.code).toBe(0);
  return result;
}

describe("filters", () => {
  test("types keeps only the listed types, filtered by Teleport (fewer pages than the whole log)", async () => {
    const w = await freshWorld();
    const types = new Set(["user.login", "session.upload"]);
    await exportWith(w, ["--types", [...types].join(","), "--batch", "20"]);
    const expected = logUids(w, (t) => types.has(t));
    expect(expected.length).toBeGreaterThan(20);
    expect(sorted(auditUids(w))).toEqual(sorted(expected));
    // Client-side filtering would page through all 300 events: at least 15 pages of 20.
    const pagesIfClientSide = Math.ceil(w.teleport.log.count / 20);
    expect(w.teleport.calls.GetUnstructuredEvents!).toBeLessThan(pagesIfClientSide);
    // session.upload passed the filter, so the recordings follow.
    expect(sessionTags(w).length).toBe(SESSIONS);
  });

  test("skip-event-types drops the listed types and nothing else", async () => {
    const w = await freshWorld();
    const skipped = new Set(["user.login", "cert.create"]);
    await exportWith(w, ["--skip-event-types", [...skipped].join(",")]);
    const delivered = auditUids(w);
    expect(sorted(delivered)).toEqual(sorted(logUids(w, (t) => !skipped.has(t))));
    expect(w.fluentd.records("events.log").some((r) => skipped.has(String(r.record.event)))).toBe(false);
  });

  test("skip-session-types defaults to print (and desktop.recording); empty sends every recording event", async () => {
    const w = await freshWorld();
    await exportWith(w, []);
    expect(sessionTags(w).length).toBe(SESSIONS);
    for (const tag of sessionTags(w)) {
      const events = w.fluentd.records(tag).map((r) => String(r.record.event));
      expect(events).toEqual(["session.start", "resize", "session.end"]);
    }

    const all = await freshWorld();
    await exportWith(all, ["--skip-session-types="]);
    expect(sessionTags(all).length).toBe(SESSIONS);
    for (const tag of sessionTags(all)) {
      const events = all.fluentd.records(tag).map((r) => String(r.record.event));
      expect(events).toEqual(["session.start", "resize", ...Array(PRINTS).fill("print"), "session.end"]);
    }
  });

  test("excluding session.upload exports no recordings (as the Go tool documents)", async () => {
    const w = await freshWorld();
    await exportWith(w, ["--skip-event-types", "session.upload"]);
    expect(sorted(auditUids(w))).toEqual(sorted(logUids(w, (t) => t !== "session.upload")));
    expect(sessionTags(w)).toEqual([]);
    expect(w.teleport.calls.StreamUnstructuredSessionEvents ?? 0).toBe(0);

    const only = await freshWorld();
    await exportWith(only, ["--types", "user.login"]);
    expect(sorted(auditUids(only))).toEqual(sorted(logUids(only, (t) => t === "user.login")));
    expect(sessionTags(only)).toEqual([]);
  });
});

describe("dry-run", () => {
  test("reads audit log and recordings, sends nothing, locks nobody, leaves no state, logs at debug", async () => {
    const w = await freshWorld();
    // Recent failed logins with a threshold of one: a real run with locking would lock at once.
    w.teleport.appendEvents(60);
    const tmp = join(w.dir, "tmp");
    mkdirSync(tmp);
    const result = await runToEnd(
      w.startArgs(["--dry-run", "--exit-on-last-event", "--debug", "--lock-enabled", "--lock-failed-attempts-count", "1"]),
      { TMPDIR: tmp },
    );
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`summary: ${w.teleport.log.count} events read (dry run, not sent)`);
    expect(w.fluentd.requestCount()).toBe(0);
    expect(w.fluentd.connectionCount()).toBe(0);
    expect(w.teleport.locks).toEqual([]);
    expect(w.teleport.calls.UpsertLock ?? 0).toBe(0);
    expect(readdirSync(w.storage)).toEqual([]);
    expect(readdirSync(tmp)).toEqual([]);
    // It read everything: every audit event and every recording, and says what it would send.
    const wouldSend = result.stderr.match(/would send event \S+/g) ?? [];
    const uid = logUids(w).at(-1)!;
    expect(result.stderr).toContain(`would send event ${uid}`);
    expect(wouldSend.length).toBe(w.teleport.log.count + SESSIONS * 3);
    expect(w.teleport.calls.StreamUnstructuredSessionEvents).toBe(SESSIONS);

    // The same run for real does lock: the dry run's silence is not for lack of failed logins.
    const real = await runToEnd(w.startArgs(["--exit-on-last-event", "--lock-enabled", "--lock-failed-attempts-count", "1"]));
    expect(real.code).toBe(0);
    expect(w.teleport.locks.length).toBeGreaterThan(0);
  });
});

describe("exit-on-last-event", () => {
  test("exits 0 with a summary line; a run with nothing new exits within a second plus a round trip", async () => {
    const w = await freshWorld();
    const first = await exportWith(w, []);
    const summary = first.stderr.split("\n").find((l) => l.includes("summary:"))!;
    expect(summary).toMatch(new RegExp(`${w.teleport.log.count} events delivered, ${SESSIONS} sessions delivered, 0 dead-lettered`));
    expect(summary).toMatch(/events\/s, lag \d+/);

    const before = w.fluentd.recordCount();
    const started = performance.now();
    const second = await exportWith(w, []);
    const elapsed = performance.now() - started;
    expect(w.fluentd.recordCount()).toBe(before);
    expect(second.stderr).toMatch(/summary: 0 events delivered, 0 sessions delivered/);
    // Lag still counts from the last event ever delivered, not "n/a".
    expect(second.stderr).toMatch(/summary: .*, lag \d+/);
    // Process start and TLS set-up included: generous, yet far below one poll interval (5 s).
    expect(elapsed).toBeLessThan(5_000);
  });
});

describe("progress line", () => {
  const slowBacklog = async () => {
    const w = await freshWorld();
    // About two seconds of catching up: the progress line is drawn once a second.
    w.teleport.setLatency(100);
    return w;
  };
  // One window at a time (concurrency 1 turns the read-ahead across windows off), so the backlog
  // really takes its two seconds.
  const args = (w: World) => w.startArgs(["--exit-on-last-event", "--batch", "20", "--concurrency", "1"]);

  test("drawn while catching up when stderr is a terminal", async () => {
    const w = await slowBacklog();
    const quote = (a: string) => `'${a.replaceAll("'", "'\\''")}'`;
    const command = [await compiledBinary(), ...args(w)].map(quote).join(" ");
    // script(1) gives the handler a pseudo-terminal; its output is the terminal's.
    const proc = Bun.spawn(["script", "-qfec", command, "/dev/null"], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    let screen = "";
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout) {
      const drawnBefore = screen.includes("catching up:");
      screen += decoder.decode(chunk, { stream: true });
      // Once the line is up, a Teleport failure makes the handler log a warning under it.
      if (!drawnBefore && screen.includes("catching up:")) w.teleport.setFailEvery(2);
      if (screen.includes("failed, retrying")) w.teleport.setFailEvery(0);
    }
    expect(await proc.exited).toBe(0);
    expect(screen).toMatch(/catching up: \S+ \(\d+\.\d%\), \d+ events\/s, ETA /);
    // Whichever call meets the fault first (the audit reader or a recording) logs the warning.
    expect(screen).toMatch(/WARN {2}(reading the audit log|exporting session \S+) failed, retrying/);
    // Every log entry starts its own line: none is glued to the progress text.
    expect(screen).not.toMatch(/catching up:[^\r\n]*\dZ (DEBUG|INFO|WARN|ERROR) /);
    expect(auditUids(w).length).toBe(w.teleport.log.count);
  });

  test("never written when stderr is not a terminal", async () => {
    const w = await slowBacklog();
    const started = performance.now();
    const result = await runToEnd(args(w));
    expect(result.code).toBe(0);
    expect(performance.now() - started).toBeGreaterThan(1_500);
    expect(result.stderr).not.toContain("catching up");
    expect(result.stderr).not.toContain("\x1b[2K");
  });
});
