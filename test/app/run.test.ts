import { afterEach, beforeEach, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createShutdown } from "../../src/app/shutdown.ts";
import { runWithParts } from "../../src/app/run.ts";
import type { ExportOptions } from "../../src/export/index.ts";
import { acquireInstanceLock, InstanceLockedError } from "../../src/state/index.ts";
import { EVENTS_URL as EVENTS, testExportOptions, type TestRunOptions } from "../support/export-options.ts";
import { MemoryFluentd } from "../support/memory-fluentd.ts";
import { auditEvent, MemoryTeleport } from "../support/memory-teleport.ts";
import { waitUntil } from "../support/world.ts";

let storage: string;
beforeEach(() => {
  storage = mkdtempSync(join(tmpdir(), "app-test-"));
});
afterEach(() => rmSync(storage, { recursive: true, force: true }));

const start = new Date(Date.now() - 3600_000);

function options(overrides: TestRunOptions = {}) {
  return testExportOptions({ skipSessionTypes: ["print"], startTime: start, fluentd: { sessionUrl: "https://fluentd.local/session", batchSize: 16 } }, overrides, { storage });
}

function teleport(count: number): MemoryTeleport {
  const t = new MemoryTeleport();
  t.bulk = false;
  for (let i = 0; i < count; i++) t.add(auditEvent("user.login", new Date(start.getTime() + i * 1000)));
  return t;
}

test("dry run reads everything, sends nothing and leaves no state", async () => {
  const sink = new MemoryFluentd();
  const stats = await runWithParts({ source: teleport(40), sink, config: options({ dryRun: true }) });
  expect(stats.eventsDelivered).toBe(40);
  expect(sink.calls).toBe(0);
  expect(readdirSync(storage)).toEqual([]);
});

test("a second instance on the same storage is refused with the holder's pid", async () => {
  const held = acquireInstanceLock(storage);
  try {
    const run = runWithParts({ source: teleport(1), sink: new MemoryFluentd(), config: options() });
    await expect(run).rejects.toThrow(InstanceLockedError);
    await expect(run).rejects.toThrow(`pid ${process.pid}`);
  } finally {
    held.release();
  }
});

test("a graceful stop while following the log commits and releases the storage", async () => {
  const source = teleport(30);
  const sink = new MemoryFluentd();
  const shutdown = createShutdown({ handleSignals: false });
  const run = runWithParts({ source, sink, config: options({ exitOnLastEvent: false }), shutdown });
  await waitUntil("the backlog is delivered", () => sink.uids(EVENTS).length === 30);
  const late = auditEvent("user.login", new Date(Date.now() - 1000));
  source.add(late);
  await waitUntil("the late event is delivered", () => sink.uids(EVENTS).includes(late.id));
  shutdown.request("test");
  const stats = await run;
  shutdown.dispose();
  expect(stats.eventsDelivered).toBe(31);
  expect(sink.uids(EVENTS).at(-1)).toBe(late.id);
  expect(existsSync(join(storage, "instance.pid"))).toBe(false);

  // Nothing new: the next run exits quickly and delivers nothing again.
  const again = await runWithParts({ source, sink: new MemoryFluentd(), config: options() });
  expect(again.eventsDelivered).toBe(0);
});
