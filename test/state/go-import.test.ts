import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../scripts/fakes/pki.ts";
import { goStateDir, importGoState, readGoState } from "../../src/state/go-import/index.ts";
import { writeImported } from "../../src/state/go-import/import.ts";
import { StateStore } from "../../src/state/index.ts";
import { goMissingRecording, goSessionIndex, writeGoState } from "../support/go-state.ts";

/**
 * The reader's byte-level rules (reference §B), on fixtures written as the Go tool writes them.
 * What arrives at Fluentd after an import is tested end to end in test/e2e/go-import.test.ts.
 */
describe("Go state reader", () => {
  test("names the directory as the Go tool does, IPv6 brackets removed", () => {
    expect(goStateDir("/s", { host: "teleport.example.com", port: 443 })).toBe("/s/teleport.example.com_443");
    expect(goStateDir("/s", { host: "::1", port: 3025 })).toBe("/s/::1_3025");
  });

  test("encodings: big-endian session index, Go JSON of a missing recording, completed chunks overridden by a cursor", () => {
    expect(goSessionIndex(42).toString("hex")).toBe("000000000000002a");
    expect(goMissingRecording({ index: 0, attempt: 2, timestamp: new Date("2024-05-02T10:11:12.345Z") })).toBe(
      '{"Index":0,"Attempt":2,"Timestamp":"2024-05-02T10:11:12.345Z"}',
    );
    const storage = tempDir("teh-go-read-");
    const dir = writeGoState(storage, "teleport.example.com:443", {
      startTime: Buffer.from("2024-05-01T02:00:00+02:00"),
      windowTime: new Date("2024-05-03T00:00:00Z"),
      cursor: "stale",
      id: "stale",
      sessions: { "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0": 42 },
      missing: { "7a6b5c4d-3e2f-1a0b-9c8d-7e6f5a4b3c2d": { index: 5, attempt: 2 } },
      bulk: {
        "2024-05-02": {},
        "2024-05-03": { completed: ["chunkA", "chunkB"], cursors: { chunkB: "cur-b", chunkC: "cur-c", chunkD: "" } },
      },
    });
    // What the Go tool tolerates: a key named exactly "session", stray files and non-date directories.
    writeFileSync(join(dir, "session"), "");
    writeFileSync(join(dir, "cursor_v2", "README"), "x");
    mkdirSync(join(dir, "cursor_v2", "not-a-date"));
    mkdirSync(join(dir, "profiles"));
    writeFileSync(join(dir, "profiles", "session1-heap.profile"), "x");

    const go = readGoState(dir)!;
    expect(go.warnings).toEqual([]);
    expect(go.startTime?.toISOString()).toBe("2024-05-01T00:00:00.000Z");
    // Bulk state present: the legacy keys are stale, as for the Go tool.
    expect(go.legacy).toBeUndefined();
    expect(go.staleLegacy).toBe(true);
    expect(go.bulkDates).toEqual(["2024-05-02", "2024-05-03"]);
    expect(go.bulkChunks).toEqual([
      { date: "2024-05-03", chunk: "chunkA", cursor: "", completed: true },
      { date: "2024-05-03", chunk: "chunkB", cursor: "cur-b", completed: false },
      { date: "2024-05-03", chunk: "chunkC", cursor: "cur-c", completed: false },
    ]);
    expect(go.sessions).toEqual([{ sid: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", index: 42 }]);
    expect(go.missing).toEqual([{ sid: "7a6b5c4d-3e2f-1a0b-9c8d-7e6f5a4b3c2d", index: 5, attempts: 2, uploadTime: undefined }]);
  });

  test("an unterminated last line of completed-chunks is not taken as completed", () => {
    const storage = tempDir("teh-go-read-");
    const dir = writeGoState(storage, "localhost:3025", {
      startTime: new Date("2024-05-01T00:00:00Z"),
      bulk: { "2024-05-03": { completed: Buffer.from("chunkA\nchu") } },
    });
    const go = readGoState(dir)!;
    expect(go.bulkChunks.map((c) => c.chunk)).toEqual(["chunkA"]);
    expect(go.warnings).toEqual([
      `${join(dir, "cursor_v2", "2024-05-03", "completed-chunks")} ends in an unterminated line "chu" (truncated by a crash?): that chunk is not taken as completed`,
    ]);
  });

  test("empty time keys are crash artefacts: the start falls back to the earliest saved position", () => {
    const storage = tempDir("teh-go-read-");
    const bulk = writeGoState(storage, "a:1", { startTime: Buffer.alloc(0), bulk: { "2024-05-03": {}, "2024-05-02": {} } });
    const fromBulk = readGoState(bulk)!;
    expect(fromBulk.startTime?.toISOString()).toBe("2024-05-02T00:00:00.000Z");
    expect(fromBulk.warnings).toEqual([
      `${join(bulk, "start_time")} is empty (written by a crash?): the start time is taken as 2024-05-02T00:00:00.000Z, where the saved position begins`,
    ]);

    const noStart = writeGoState(storage, "c:1", { bulk: { "2024-05-04": {} } });
    expect(readGoState(noStart)!.warnings).toEqual([
      `${join(noStart, "start_time")} is missing: the start time is taken as 2024-05-04T00:00:00.000Z, where the saved position begins`,
    ]);

    const legacy = writeGoState(storage, "b:1", { startTime: new Date("2024-05-01T00:00:00Z"), windowTime: Buffer.alloc(0), cursor: "k", id: "e" });
    const fromStart = readGoState(legacy)!;
    expect(fromStart.legacy).toEqual({ windowStart: new Date("2024-05-01T00:00:00Z"), pageKey: "", lastEventId: "" });
    expect(fromStart.warnings).toEqual([
      `${join(legacy, "window_time")} is empty (written by a crash?): the legacy export restarts at the start time (events are sent again, none skipped)`,
    ]);
  });

  test("a key larger than the Go tool writes is not read: the window is read again from its first page", () => {
    const storage = tempDir("teh-go-read-");
    const dir = writeGoState(storage, "a:1", { startTime: new Date("2024-05-01T00:00:00Z"), windowTime: new Date("2024-05-02T00:00:00Z"), cursor: "k".repeat(70_000), id: "e" });
    const go = readGoState(dir)!;
    expect(go.legacy).toEqual({ windowStart: new Date("2024-05-02T00:00:00Z"), pageKey: "", lastEventId: "e" });
    expect(go.warnings).toEqual([`${join(dir, "cursor")} is 70000 bytes, more than the 65536 a Go key holds: the window is read again from its first page`]);
  });

  test("no state, or only a dry run's leftover: nothing to import", () => {
    const storage = tempDir("teh-go-read-");
    expect(readGoState(join(storage, "localhost_3025"))).toBeUndefined();
    const dir = writeGoState(storage, "localhost:3025", { dryRun: { startTime: new Date("2024-05-01T00:00:00Z"), sessions: { abc: 1 } } });
    expect(readGoState(dir)).toBeUndefined();
  });
});

describe("import", () => {
  test("Go state kept for another teleport-addr is named, not imported", () => {
    const storage = tempDir("teh-go-import-");
    const other = writeGoState(storage, "old-proxy.example.com:443", { startTime: new Date("2024-05-01T00:00:00Z") });
    mkdirSync(join(storage, "profiles"));
    const outcome = importGoState(storage, "test-cluster", goStateDir(storage, { host: "proxy.example.com", port: 443 }));
    expect(outcome.imported).toBeUndefined();
    expect(outcome.elsewhere).toEqual([other]);
    expect(existsSync(outcome.path)).toBe(false);
  });

  test("a failed import leaves our state absent: nothing half-applied, no side file left", () => {
    const storage = tempDir("teh-go-import-");
    const dir = writeGoState(storage, "localhost:3025", { startTime: new Date("2024-05-01T00:00:00Z"), sessions: { a: 1, b: 2 } });
    const go = readGoState(dir)!;
    // The second session's index cannot be stored: the transaction fails after the first one was written.
    go.sessions[1]!.index = Number.NaN;
    const path = join(storage, "test-cluster.sqlite");
    expect(() => writeImported(path, "test-cluster", go, new Date())).toThrow();
    expect(readdirSync(storage).filter((f) => f.startsWith("test-cluster"))).toEqual([]);
    expect(readdirSync(dir).sort()).toEqual(["sessiona", "sessionb", "start_time"]);
    // The next attempt (here with the data intact) imports.
    expect(importGoState(storage, "test-cluster", dir).imported?.sessions.length).toBe(2);
  });

  test("imports once: our state records the import, a second call reads nothing", () => {
    const storage = tempDir("teh-go-import-");
    const dir = writeGoState(storage, "localhost:3025", { startTime: new Date("2024-05-01T00:00:00Z"), sessions: { abc: 7 } });
    const first = importGoState(storage, "test-cluster", dir, new Date("2026-01-01T00:00:00Z"));
    expect(first.imported?.sessions).toEqual([{ sid: "abc", index: 7 }]);
    const state = StateStore.open(first.path, { create: false });
    try {
      expect(state.meta.goImport()).toEqual({ dir, at: new Date("2026-01-01T00:00:00Z") });
      expect(state.sessions.list().find((s) => s.sid === "abc")?.nextIndex).toBe(7);
      expect(state.meta.startTime()?.toISOString()).toBe("2024-05-01T00:00:00.000Z");
    } finally {
      state.close();
    }
    expect(existsSync(`${first.path}.go-import`)).toBe(false);
    const second = importGoState(storage, "test-cluster", dir);
    expect(second).toEqual({ goDir: dir, path: first.path, existed: true, elsewhere: [] });

    // Teleport's cluster name changed: the new name's state is fresh, but the Go position was taken over already.
    const renamed = importGoState(storage, "renamed-cluster", dir);
    expect(renamed.imported).toBeUndefined();
    expect(renamed.importedBefore).toBe(first.path);
    expect(existsSync(renamed.path)).toBe(false);
  });
});
