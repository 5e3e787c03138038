import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ExportOptions, runExport } from "../../src/export/index.ts";
import type { FluentdSink } from "../../src/fluentd/types.ts";
import { openClusterState, StartTimeChangedError } from "../../src/state/index.ts";
import { EVENTS_URL as EVENTS, testExportOptions, type TestRunOptions } from "../support/export-options.ts";
import { MemoryFluentd } from "../support/memory-fluentd.ts";
import { type AuditEvent, TeleportError } from "../../src/teleport/types.ts";
import { auditEvent, MemoryTeleport, recording } from "../support/memory-teleport.ts";

/** Teleport session ids are UUIDs; anything else is never exported (see filters.ts). */
const S1 = "0b6e2f4e-1b7c-4a7e-9d7a-3d1f2c3b4a5e";

const HOUR = 3600_000;
const SESSIONS = "https://fluentd.local/session";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "export-test-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const start = new Date(Math.floor((Date.now() - 3 * 24 * HOUR) / HOUR) * HOUR);

function options(overrides: TestRunOptions = {}) {
  return testExportOptions(
    { batch: 5, skipSessionTypes: ["print", "desktop.recording"], startTime: start, fluentd: { sessionUrl: SESSIONS, batchSize: 8 }, missingRecordingRetryMs: 10 },
    overrides,
  );
}

/** Three days of logins, a few of them before the start time, and one recorded session. */
function cluster(bulk: boolean): MemoryTeleport {
  const teleport = new MemoryTeleport();
  teleport.bulk = bulk;
  teleport.add(auditEvent("user.login", new Date(start.getTime() - 30 * 60_000)));
  for (let i = 0; i < 60; i++) teleport.add(auditEvent(i % 10 === 0 ? "app.create" : "user.login", new Date(start.getTime() + i * HOUR)));
  teleport.add(auditEvent("session.upload", new Date(start.getTime() + 61 * HOUR), { sid: S1 }));
  teleport.recordings.set(S1, recording(S1, ["session.start", "print", "session.command", "print", "session.end"]));
  return teleport;
}

function expectedUids(teleport: MemoryTeleport, keep: (type: string) => boolean = () => true): string[] {
  return teleport.events.filter((e) => e.time >= start && keep(e.type)).map((e) => e.id);
}

/**
 * `ahead` runs the export's clock ahead of the wall clock: time passing between runs, without
 * sleeping (a number of ms, or the clock itself when a test moves it during the run).
 */
async function exportOnce(teleport: MemoryTeleport, sink: FluentdSink, opts = options(), ahead: number | (() => number) = 0): Promise<void> {
  const state = openClusterState(dir, teleport.clusterName);
  const now = typeof ahead === "function" ? ahead : () => Date.now() + ahead;
  try {
    await runExport({ source: teleport, sink, state, options: opts, stopSignal: new AbortController().signal, now });
  } finally {
    state.close();
  }
}

describe.each([
  ["legacy", false],
  ["bulk", true],
])("%s engine", (_name, bulk) => {
  test("exports every event from start-time once, and the recording without print events", async () => {
    const teleport = cluster(bulk);
    const sink = new MemoryFluentd();
    await exportOnce(teleport, sink);
    const got = sink.uids(EVENTS);
    expect(new Set(got).size).toBe(got.length);
    expect([...got].sort()).toEqual(expectedUids(teleport).sort());
    const session = (sink.received.get(`${SESSIONS}.${S1}.log`) ?? []).map((b) => (JSON.parse(b) as { event: string }).event);
    expect(session).toEqual(["session.start", "session.command", "session.end"]);
  });

  test("filters by types and skip-event-types", async () => {
    const teleport = cluster(bulk);
    const sink = new MemoryFluentd();
    await exportOnce(teleport, sink, options({ types: ["user.login", "app.create"], skipEventTypes: ["app.create"] }));
    expect([...sink.uids(EVENTS)].sort()).toEqual(expectedUids(teleport, (t) => t === "user.login").sort());
    expect(sink.received.has(`${SESSIONS}.${S1}.log`)).toBe(false);
  });

  test("a crash after acknowledgement re-sends at most one batch, and nothing is lost", async () => {
    const teleport = cluster(bulk);
    teleport.failEvery = 4;
    const sink = new MemoryFluentd();
    for (const crashAt of [2, 3, 5]) {
      sink.restart(crashAt);
      const before = sink.uids(EVENTS).length;
      await expect(exportOnce(teleport, sink)).rejects.toThrow("simulated crash");
      expect(sink.uids(EVENTS).length).toBeGreaterThan(before);
    }
    sink.restart();
    await exportOnce(teleport, sink);
    const got = sink.uids(EVENTS);
    expect(new Set(got)).toEqual(new Set(expectedUids(teleport)));
    expect(got.length - new Set(got).size).toBeLessThanOrEqual(3 * options().fluentd.batchSize);
  });

  test("a permanently rejected event is dead-lettered and the export goes on", async () => {
    const teleport = cluster(bulk);
    const poison = expectedUids(teleport)[10]!;
    const sink = new MemoryFluentd();
    sink.rejectIds.add(poison);
    await exportOnce(teleport, sink);
    expect([...sink.uids(EVENTS)].sort()).toEqual(expectedUids(teleport).filter((id) => id !== poison).sort());
    const reopened = openClusterState(dir, teleport.clusterName);
    expect(reopened.deadLetters.list().map((d) => [d.eventId, d.status, d.url])).toEqual([[poison, 400, EVENTS]]);
    reopened.close();
  });
});

describe("start position", () => {
  test("a different start-time is refused on a later run", async () => {
    const teleport = cluster(false);
    await exportOnce(teleport, new MemoryFluentd());
    await expect(exportOnce(teleport, new MemoryFluentd(), options({ startTime: new Date(start.getTime() + HOUR) }))).rejects.toThrow(
      StartTimeChangedError,
    );
    // The same instant written with another offset is the same start time.
    await exportOnce(teleport, new MemoryFluentd(), options({ startTime: new Date(start.toISOString().replace("Z", "+00:00")) }));
  });

  test("cursor resumes right after that event when the state was lost", async () => {
    const teleport = cluster(false);
    const all = expectedUids(teleport);
    const sink = new MemoryFluentd();
    await exportOnce(teleport, sink, options({ cursor: all[24] }));
    expect(sink.uids(EVENTS)).toEqual(all.slice(25));
  });

  test("cursor is ignored once there is state to resume from", async () => {
    const teleport = cluster(false);
    await exportOnce(teleport, new MemoryFluentd());
    // Stamped after the first run, as a new event is: an older stamp could fall in a window the
    // first run already closed (anchored at start-time, so one closes every day at its hour).
    const newer = auditEvent("user.login", new Date());
    teleport.add(newer);
    const sink = new MemoryFluentd();
    // A second later: the open window now ends after the new event.
    await exportOnce(teleport, sink, options({ cursor: expectedUids(teleport)[3] }), 1000);
    expect(sink.uids(EVENTS)).toEqual([newer.id]);
  });
});

describe("sessions", () => {
  test("a missing recording is retried, then given up, without stopping the audit log", async () => {
    const teleport = cluster(false);
    teleport.recordings.delete(S1);
    const sink = new MemoryFluentd();
    // Each run a minute after the last: the missing recording (retried after 10 ms) is due again.
    for (let run = 0; run < 3; run++) await exportOnce(teleport, sink, options(), run * 60_000);
    const state = openClusterState(dir, teleport.clusterName);
    expect(state.sessions.list().map((s) => [s.sid, s.status, s.attempts])).toEqual([[S1, "given-up", 3]]);
    state.close();
    expect(new Set(sink.uids(EVENTS))).toEqual(new Set(expectedUids(teleport)));
  });

  test("a recording resumes after the last delivered index", async () => {
    const teleport = cluster(false);
    teleport.recordings.set(S1, recording(S1, Array.from({ length: 20 }, (_, i) => `session.command.${i}`)));
    // The session is already queued from an earlier run; its upload event was delivered then.
    teleport.events = teleport.events.filter((e) => e.type !== "session.upload");
    const sink = new MemoryFluentd();
    const state = openClusterState(dir, teleport.clusterName);
    state.meta.settleStartTime(start, new Date());
    state.sessions.enqueue({ sid: S1, uploadTime: new Date() });
    state.sessions.commitProgress(S1, 13, [], false);
    state.close();
    await exportOnce(teleport, sink);
    const indexes = (sink.received.get(`${SESSIONS}.${S1}.log`) ?? []).map((b) => (JSON.parse(b) as { ei: number }).ei);
    expect(indexes).toEqual([13, 14, 15, 16, 17, 18, 19]);
  });
});

test("in a recording, an unreadable event is dead-lettered with its reason, and a skipped one is never read", async () => {
  const teleport = cluster(false);
  const events = recording(S1, ["session.start", "print", "session.command", "session.end"]);
  // The print event's payload is never to be decoded: asking whether it is readable would.
  Object.defineProperty(events[1]!, "invalid", { get: () => { throw new Error("a skipped event was decoded"); } });
  events[2]!.invalid = "the event's JSON nests deeper than 10000 levels, more than Teleport itself accepts";
  events[2]!.json = {};
  teleport.recordings.set(S1, events);
  const sink = new MemoryFluentd();
  await exportOnce(teleport, sink);
  const indexes = (sink.received.get(`${SESSIONS}.${S1}.log`) ?? []).map((b) => (JSON.parse(b) as { ei: number }).ei);
  expect(indexes).toEqual([0, 3]);
  const state = openClusterState(dir, teleport.clusterName);
  try {
    expect(state.deadLetters.list().map((d) => [d.eventId, d.reason])).toEqual([[events[2]!.id, expect.stringContaining("unreadable from Teleport: the event's JSON nests deeper")]]);
    expect(state.sessions.list()).toEqual([]);
  } finally {
    state.close();
  }
});

test("a recording of large events reaches the sink in calls of about fluentd-batch-bytes, not fluentd-batch-size", async () => {
  const teleport = cluster(false);
  const events = recording(S1, ["session.start", ...Array.from({ length: 40 }, () => "print"), "session.end"]);
  for (const e of events) if (e.type === "print") e.json.data = "x".repeat(10_000);
  teleport.recordings.set(S1, events);
  const sink = new MemoryFluentd();
  const maxBytes = 32 * 1024;
  await exportOnce(teleport, sink, options({ skipSessionTypes: [], fluentd: { batchSize: 100, batchBytes: maxBytes } }));
  const url = `${SESSIONS}.${S1}.log`;
  const indexes = (sink.received.get(url) ?? []).map((b) => (JSON.parse(b) as { ei: number }).ei);
  expect(indexes).toEqual(events.map((e) => e.index));
  const calls = sink.callChars.get(url) ?? [];
  // A call closes at the first event that reaches the limit: at most one event beyond it.
  expect(Math.max(...calls)).toBeLessThan(maxBytes + 10_100);
  expect(calls.length).toBeGreaterThanOrEqual(Math.ceil((40 * 10_000) / (maxBytes + 10_100)));
});

describe("late-event sweeps after a long Fluentd outage (legacy engine)", () => {
  test("what was read live and acknowledged only after the outage is not sent again by its sweeps", async () => {
    const MINUTE = 60_000;
    let aheadMs = 0;
    const now = () => Date.now() + aheadMs;
    const teleport = new MemoryTeleport();
    teleport.bulk = false;
    for (let i = 0; i < 12; i++) teleport.add(auditEvent("user.login", new Date(Date.now() - 50_000 + i * 3_000)));
    const received = new MemoryFluentd();
    // Fluentd is down for 20 minutes the first time it is called: the batch is acknowledged, and
    // committed, only then, twice the longest delay after it was read.
    const sink: FluentdSink = {
      async deliver(url, records) {
        if (aheadMs === 0) aheadMs = 20 * MINUTE;
        return received.deliver(url, records);
      },
      close: async () => {},
    };
    const opts = testExportOptions({ batch: 50, lateEventDelays: [MINUTE, 10 * MINUTE], startTime: new Date(Date.now() - 60_000) });
    // The second run finds both sweeps of what the first read due, and reads it again.
    for (let run = 0; run < 2; run++) await exportOnce(teleport, sink, opts, now);
    // The first sweep of the slice the first run read has been made.
    const state = openClusterState(dir, teleport.clusterName);
    try {
      expect(state.late.due(now(), opts.ingest.lateEventDelays)[0]).toMatchObject({ from: opts.ingest.startTime, next: 1 });
    } finally {
      state.close();
    }
    const uids = received.uids(EVENTS);
    expect(uids.toSorted()).toEqual(teleport.events.map((e) => e.id).toSorted());
  });
});

/** Cuts every recording stream after `cutAfter` events, as a proxy with a maximum stream age would. */
class CuttingTeleport extends MemoryTeleport {
  constructor(private readonly cutAfter: number) {
    super();
  }

  override async *sessionEvents(sessionId: string, startIndex: number): AsyncIterable<AuditEvent> {
    let sent = 0;
    for await (const e of super.sessionEvents(sessionId, startIndex)) {
      if (sent++ === this.cutAfter) throw new TeleportError("transient", "stream cut (injected)", 14);
      yield e;
    }
  }
}

describe("a recording whose stream is cut again and again, each time after progress", () => {
  test("each cut after a checkpointed batch starts the backoff over: every retry within the first delay", async () => {
    let ahead = 0;
    const now = () => Date.now() + ahead;
    const teleport = new CuttingTeleport(6);
    teleport.add(auditEvent("session.upload", new Date(start.getTime() + HOUR), { sid: S1 }));
    teleport.recordings.set(S1, recording(S1, Array.from({ length: 40 }, () => "session.command")));
    const sink = new MemoryFluentd();
    const state = openClusterState(dir, teleport.clusterName);
    // Each retry's delay is noted, and the clock moved past it instead of waiting for it.
    const delays: number[] = [];
    const retryLater = state.sessions.retryLater.bind(state.sessions);
    state.sessions.retryLater = (sid, notBefore) => {
      delays.push(notBefore.getTime() - now());
      ahead += 120_000;
      retryLater(sid, notBefore);
    };
    try {
      // Two events a batch: every cut comes after a batch was acknowledged and checkpointed.
      await runExport({ source: teleport, sink, state, options: options({ fluentd: { sessionUrl: SESSIONS, batchSize: 2 } }), stopSignal: new AbortController().signal, now });
    } finally {
      state.close();
    }
    expect(sink.received.get(`${SESSIONS}.${S1}.log`)?.length).toBe(40);
    expect(delays.length).toBeGreaterThan(5);
    expect(delays.filter((d) => d >= 1_000)).toEqual([]);
  });
});
