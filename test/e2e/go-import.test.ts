import { afterEach, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { goTimeToDate } from "../../scripts/fakes/fake-events.ts";
import type { FakeTeleportOptions } from "../../scripts/fakes/fake-teleport.ts";
import { writeGoState, type GoStateFixture } from "../support/go-state.ts";
import { auditUids, logUids, runToEnd, sessionIndexes, sorted, startWorld, statusJson, type World } from "../support/world.ts";

/**
 * Switching from Teleport's Go event handler: its state, written byte for byte as the Go tool
 * writes it, is imported at the first start of the compiled binary, which then delivers exactly
 * what the Go tool had not (plus the documented page re-send), never less.
 */
const SESSIONS = 7;
let world: World | undefined;
afterEach(() => world?.stop());

async function goWorld(teleport: Omit<FakeTeleportOptions, "pki"> = {}): Promise<World> {
  world = await startWorld({ teleport: { events: 300, days: 3, sessions: SESSIONS, printsPerSession: 4, ...teleport } });
  return world;
}

const timeOf = (w: World, i: number) => goTimeToDate(w.teleport.log.timeAt(i));
const idOf = (w: World, i: number) => w.teleport.log.eventAt(i).id;
const sid = (w: World, k: number) => w.teleport.log.sessionId(k);
const utcDate = (d: Date) => d.toISOString().slice(0, 10);

/** Every file of a tree with its bytes, to prove the import leaves the Go files alone. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const path = join(dir, name);
    if (statSync(path).isFile()) out[name] = readFileSync(path).toString("hex");
  }
  return out;
}

/** The recording events of session `k` from `index` (inclusive), as the receiver should get them (prints skipped by default). */
function recordingFrom(w: World, k: number, index: number): number[] {
  return [...w.teleport.log.recording(k, index)].filter((e) => e.type !== "print").map((e) => e.ei);
}

const tag = (w: World, k: number) => `session.${sid(w, k)}.log`;

/** A legacy position: page key at log position `page`, inside the window that starts at event `windowAt`. */
function legacyAt(w: World, windowAt: number, page: number, id: string): GoStateFixture {
  return { startTime: w.startTime, windowTime: timeOf(w, windowAt), cursor: w.teleport.pageKeyAt(page), id };
}

async function startOnce(w: World, extra: string[] = []) {
  const result = await runToEnd(w.startArgs(["--exit-on-last-event", ...extra]));
  expect(result.stderr).not.toContain("(run with --debug for details)");
  expect(result.code).toBe(0);
  return result;
}

describe("legacy position", () => {
  const PAGE = 110;

  test("in the middle of a page: delivery resumes after the saved id, the start time is kept", async () => {
    const w = await goWorld();
    const dir = writeGoState(w.storage, w.teleport.addr, legacyAt(w, 100, PAGE, idOf(w, PAGE + 5)));
    const before = snapshot(dir);
    const result = await startOnce(w);
    expect(result.stderr).toContain(`imported the Go tool's state from ${dir}`);
    expect(result.stderr).toContain(`after event ${idOf(w, PAGE + 5)}`);
    expect(sorted(auditUids(w))).toEqual(sorted(logUids(w).slice(PAGE + 6)));
    expect(snapshot(dir)).toEqual(before);

    const status = await statusJson(w.storage);
    expect(status.startTime).toBe(w.startTime.toISOString());
    expect(status.imported.from).toBe(dir);

    // Imported once: a second run neither imports again nor re-sends.
    const again = await startOnce(w);
    expect(again.stderr).not.toContain("imported the Go tool's state");
    expect(auditUids(w).length).toBe(logUids(w).length - (PAGE + 6));

    // The imported start time is binding, and the refusal says where it came from.
    const changed = await runToEnd(w.startArgs(["--exit-on-last-event", "--start-time", "2020-01-01T00:00:00Z"]));
    expect(changed.code).not.toBe(0);
    expect(changed.stderr).toContain(`differs from ${w.startTime.toISOString()}`);
    expect(changed.stderr).toContain(`imported from the Go tool's state in ${dir}`);
    expect(changed.stderr).toContain(`and move ${dir} away to restart the export from scratch`);
  });

  test("a dry run previews from the Go position and leaves no state of ours", async () => {
    const w = await goWorld();
    const dir = writeGoState(w.storage, w.teleport.addr, legacyAt(w, 100, PAGE, idOf(w, PAGE + 5)));
    const before = snapshot(w.storage);
    const result = await startOnce(w, ["--dry-run"]);
    expect(result.stderr).toContain(`imported the Go tool's state from ${dir}`);
    expect(result.stderr).toContain(`summary: ${logUids(w).length - (PAGE + 6)} events read (dry run, not sent)`);
    expect(w.fluentd.recordCount("events.log")).toBe(0);
    expect(snapshot(w.storage)).toEqual(before);
  });

  test("at the last event of a page: delivery resumes with the next page", async () => {
    const w = await goWorld();
    writeGoState(w.storage, w.teleport.addr, legacyAt(w, 100, PAGE, idOf(w, PAGE + 19)));
    await startOnce(w);
    expect(sorted(auditUids(w))).toEqual(sorted(logUids(w).slice(PAGE + 20)));
  });

  test("an id not on the page: the whole page is sent again, nothing before it", async () => {
    const w = await goWorld();
    writeGoState(w.storage, w.teleport.addr, legacyAt(w, 100, PAGE, "00000000-0000-4000-a000-000000000000"));
    const result = await startOnce(w);
    expect(result.stderr).toContain("is no longer in its page; the page is sent again");
    expect(sorted(auditUids(w))).toEqual(sorted(logUids(w).slice(PAGE)));
  });

  test("the bulk API found at first start: restart at the legacy window's date, as the Go tool does", async () => {
    const w = await goWorld({ bulk: true, chunkSize: 30 });
    writeGoState(w.storage, w.teleport.addr, legacyAt(w, 150, 160, idOf(w, 165)));
    const result = await startOnce(w);
    expect(result.stderr).toContain(`the export restarts at the start of ${utcDate(timeOf(w, 150))}`);
    const from = w.teleport.log.lowerBound(new Date(`${utcDate(timeOf(w, 150))}T00:00:00Z`));
    expect(sorted(auditUids(w))).toEqual(sorted(logUids(w).slice(from)));
  });

  test("IPv6 teleport-addr: the state in ::1_<port> is found", async () => {
    const w = await goWorld({ host: "::1" });
    const dir = writeGoState(w.storage, w.teleport.addr, legacyAt(w, 100, PAGE, idOf(w, PAGE + 5)));
    expect(dir).toBe(join(w.storage, `::1_${w.teleport.port}`));
    const result = await startOnce(w);
    expect(result.stderr).toContain(`imported the Go tool's state from ${dir}`);
    expect(sorted(auditUids(w))).toEqual(sorted(logUids(w).slice(PAGE + 6)));
  });
});

describe("bulk state", () => {
  test("completed and partial chunks over 3 dates: completed chunks are not re-read, partial ones resume at their cursor", async () => {
    const w = await goWorld({ bulk: true, chunkSize: 30 });
    const log = w.teleport.log;
    const dates = [...new Set(logUids(w).map((_, i) => utcDate(timeOf(w, i))))];
    const [d0, d1, d2] = dates as [string, string, string];
    const chunks = (d: string) => w.teleport.exportChunksOf(new Date(`${d}T00:00:00Z`));
    const c0 = chunks(d0);
    const c1 = chunks(d1);
    expect(c1.length).toBeGreaterThanOrEqual(4);
    writeGoState(w.storage, w.teleport.addr, {
      startTime: w.startTime,
      bulk: {
        [d0]: { completed: c0.map((c) => c.chunk) },
        // c1[2] is listed as completed and still has its cursor: a crash between the two writes.
        [d1]: { completed: [c1[0]!.chunk, c1[2]!.chunk], cursors: { [c1[1]!.chunk]: c1[1]!.items[9]!.cursor, [c1[2]!.chunk]: c1[2]!.items[4]!.cursor } },
        [d2]: {},
      },
    });
    const result = await startOnce(w);
    expect(result.stderr).toContain(`bulk export dates ${d0} (${c0.length} completed, 0 partial chunks), ${d1} (1 completed, 2 partial chunks), ${d2} (0 completed, 0 partial chunks)`);

    const expected = [
      ...c1[1]!.items.slice(10),
      ...c1[2]!.items.slice(5),
      ...c1.slice(3).flatMap((c) => c.items),
    ].map((item) => idOf(w, item.position));
    const fromD2 = log.lowerBound(new Date(`${d2}T00:00:00Z`));
    for (let i = fromD2; i < log.count; i++) expected.push(idOf(w, i));
    expect(sorted(auditUids(w))).toEqual(sorted(expected));
  });
});

describe("sessions and missing recordings", () => {
  test("sessions resume at their index, missing recordings keep their attempts, a dry_run/ leftover is ignored", async () => {
    const w = await goWorld();
    const last = w.teleport.log.count - 1;
    writeGoState(w.storage, w.teleport.addr, {
      ...legacyAt(w, last, last, idOf(w, last)),
      sessions: { [sid(w, 0)]: 0, [sid(w, 1)]: 3, [sid(w, 2)]: Buffer.alloc(0) },
      missing: {
        [sid(w, 3)]: { index: 2, attempt: 1, timestamp: new Date(Date.now() - 3_600_000) },
        // Session 6 has no recording at all; with two attempts spent, the next miss gives up.
        [sid(w, 6)]: { index: 0, attempt: 2 },
      },
      dryRun: { ...legacyAt(w, 0, 0, ""), sessions: { [sid(w, 4)]: 0 } },
    });
    const result = await startOnce(w);
    expect(result.stderr).toContain("3 session recordings in progress; 2 missing recordings");
    expect(result.stderr).toContain(`session${sid(w, 2)} is 0 bytes, not an 8-byte index (empty by a crash?)`);
    expect(sorted(auditUids(w))).toEqual(sorted([]));

    expect(Object.fromEntries(sessionIndexes(w))).toEqual({
      [tag(w, 0)]: recordingFrom(w, 0, 0),
      [tag(w, 1)]: recordingFrom(w, 1, 3),
      [tag(w, 2)]: recordingFrom(w, 2, 0),
      [tag(w, 3)]: recordingFrom(w, 3, 2),
    });
    expect(w.teleport.sessionStreams.find((s) => s.sessionId === sid(w, 1))?.startIndex).toBe(3);
    expect(w.teleport.sessionStreams.some((s) => s.sessionId === sid(w, 4))).toBe(false);
    expect(result.stderr).toContain(`recording of session ${sid(w, 6)} not found after 3 attempts; giving up on it`);
    expect((await statusJson(w.storage)).sessions).toEqual({ pending: 0, missing: 0, givenUp: 1, refused: 0 });
  });
});

describe("crash artefacts", () => {
  test("truncated files: each is named with its fallback, and the fallback re-sends", async () => {
    const w = await goWorld();
    const PAGE = 110;
    const dir = writeGoState(w.storage, w.teleport.addr, {
      ...legacyAt(w, 100, PAGE, idOf(w, PAGE + 5)),
      startTime: Buffer.from("2026-11-2"),
      sessions: { [sid(w, 0)]: Buffer.from([0, 0, 3]) },
      missing: { [sid(w, 1)]: Buffer.from('{"Index":4,"Att') },
    });
    const args = w.startArgs(["--exit-on-last-event"]);
    const at = args.indexOf("--start-time");
    args.splice(at, 2);
    const result = await runToEnd(args);
    expect(result.code).toBe(0);
    const windowStart = new Date(Math.floor(timeOf(w, 100).getTime() / 1000) * 1000).toISOString();
    expect(result.stderr).toContain(`${join(dir, "start_time")} holds "2026-11-2", not an RFC 3339 time (truncated by a crash?): the start time is taken as ${windowStart}`);
    expect(result.stderr).toContain(`${join(dir, `session${sid(w, 0)}`)} is 3 bytes, not an 8-byte index (truncated by a crash?): its recording is sent again from the start`);
    expect(result.stderr).toContain(`${join(dir, `missing_recording${sid(w, 1)}`)} is not valid JSON (truncated by a crash?)`);

    expect(sorted(auditUids(w))).toEqual(sorted(logUids(w).slice(PAGE + 6)));
    const got = sessionIndexes(w);
    expect(got.get(tag(w, 0))).toEqual(recordingFrom(w, 0, 0));
    expect(got.get(tag(w, 1))).toEqual(recordingFrom(w, 1, 0));
    expect((await statusJson(w.storage)).startTime).toBe(windowStart);
  });
});

describe("migrate command", () => {
  test("--dry-run prints what would be imported, from an IPv6 address's directory, and writes nothing", async () => {
    const w = await goWorld();
    const dir = writeGoState(w.storage, "[::1]:3025", {
      ...legacyAt(w, 100, 110, idOf(w, 115)),
      missing: { [sid(w, 1)]: Buffer.from("{") },
    });
    const args = w.startArgs().slice(1);
    args[args.indexOf("--teleport-addr") + 1] = "[::1]:3025";
    const before = snapshot(w.storage);
    const result = await runToEnd(["migrate", "--dry-run", ...args]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`warning: ${join(dir, `missing_recording${sid(w, 1)}`)} is not valid JSON`);
    expect(result.stdout).toContain(`would import from ${join(w.storage, "::1_3025")}: start time ${w.startTime.toISOString()}; legacy position`);
    expect(result.stdout).toContain(`after event ${idOf(w, 115)}; 0 session recordings in progress; 1 missing recording`);
    expect(snapshot(w.storage)).toEqual(before);
    expect(w.teleport.calls.Ping ?? 0).toBe(0);

    // Before any import, status points at the Go state instead of only saying there is nothing.
    const status = await runToEnd(["status", "--storage", w.storage]);
    expect(status.code).toBe(2);
    expect(status.stderr).toContain(`the Go tool's state in ${dir} is imported by the first start, or now by migrate`);
  });

  test("imports before the first start, once; start then resumes from the imported position", async () => {
    const w = await goWorld();
    const dir = writeGoState(w.storage, w.teleport.addr, legacyAt(w, 100, 110, idOf(w, 115)));
    const args = w.startArgs().slice(1);
    const migrated = await runToEnd(["migrate", ...args]);
    expect(migrated.code).toBe(0);
    expect(migrated.stdout).toContain(`imported from ${dir} into `);
    const status = await runToEnd(["status", "--storage", w.storage]);
    expect(status.stdout).toMatch(new RegExp(`position from: +imported from the Go tool's state in ${dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} on `));

    const again = await runToEnd(["migrate", ...args]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`already imported from ${dir}`);

    const result = await startOnce(w);
    expect(result.stderr).not.toContain("imported the Go tool's state");
    expect(sorted(auditUids(w))).toEqual(sorted(logUids(w).slice(116)));
  });
});
