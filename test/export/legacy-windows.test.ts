import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runExport } from "../../src/export/index.ts";
import { openClusterState } from "../../src/state/index.ts";
import { EVENTS_URL as EVENTS, testExportOptions } from "../support/export-options.ts";
import { MemoryFluentd } from "../support/memory-fluentd.ts";
import { auditEvent, CountingTeleport } from "../support/memory-teleport.ts";

const DAY = 86_400_000;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "legacy-windows-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test("a year of empty history costs a handful of queries, and no event is skipped or repeated", async () => {
  const teleport = new CountingTeleport();
  teleport.bulk = false;
  const now = Date.now();
  const start = new Date(now - 400 * DAY);
  // A quiet year, one lone event in the middle, then two busy days.
  const lone = auditEvent("user.login", new Date(now - 200 * DAY + 1234));
  teleport.add(lone);
  for (let i = 0; i < 30; i++) teleport.add(auditEvent("user.login", new Date(now - 2 * DAY + i * 3_600_000 + 7)));
  const sink = new MemoryFluentd();
  const state = openClusterState(dir, teleport.clusterName);
  try {
    await runExport({
      source: teleport,
      sink,
      state,
      options: testExportOptions({ batch: 7, startTime: start, concurrency: 1 }),
      stopSignal: new AbortController().signal,
    });
  } finally {
    state.close();
  }
  const got = sink.uids(EVENTS);
  expect(got).toEqual(teleport.events.map((e) => e.id));
  // One query per day would be ~400; widening needs about 2·log2(400) plus the busy days' pages.
  expect(teleport.queries.length).toBeLessThan(40);
  // Every page key was used inside a window of exactly window-size.
  for (const q of teleport.queries.filter((q) => q.startKey)) expect(q.to.getTime() - q.from.getTime()).toBeLessThanOrEqual(DAY);
});
