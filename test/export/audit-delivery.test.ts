import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuditDelivery } from "../../src/export/audit-delivery.ts";
import { ExportStats } from "../../src/export/stats.ts";
import type { DeliveryReport, FluentdSink, SinkRecord } from "../../src/fluentd/types.ts";
import { openClusterState, type AuditPosition, type StateStore } from "../../src/state/index.ts";
import { auditEvent } from "../support/memory-teleport.ts";

const URL = "https://fluentd.local/events.log";
const at = new Date("2025-03-03T00:00:00Z");
const position: AuditPosition = { kind: "legacy", checkpoint: { windowStart: at, pageKey: "", lastEventId: "" }, seekFinished: false };

/** A sink that acknowledges each call only when the test says so. */
class HeldSink implements FluentdSink {
  readonly calls: Array<{ ids: string[]; ack(): void }> = [];
  deliver(_url: string, records: SinkRecord[]): Promise<DeliveryReport> {
    return new Promise((resolve) => {
      const ack = () => resolve({ delivered: records.length, deadLettered: [], requests: 1, bytes: 0, retried: 0 });
      this.calls.push({ ids: records.map((r) => r.id), ack });
    });
  }
  async close(): Promise<void> {}
}

let dir: string;
let state: StateStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "audit-delivery-test-"));
  state = openClusterState(dir, "test.example.com");
});
afterEach(() => {
  state.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("audit delivery with batches in flight", () => {
  test("a sweep's batch drops an event still in flight in an earlier batch, so it is delivered once", async () => {
    const sink = new HeldSink();
    const stats = new ExportStats();
    const delivery = new AuditDelivery({ sink, state, stats, url: URL, sessions: { waitForRoom: async () => {}, wake: () => {} }, participants: [], dedupe: true });
    const late = auditEvent("user.login", at);
    const other = auditEvent("user.login", at);
    const first = await delivery.send([auditEvent("user.login", at), late], position, false);
    // The sweep found `late` again before the first batch was acknowledged.
    const sweep = await delivery.send([late, other], position, true);
    expect(sink.calls.map((c) => c.ids)).toEqual([[expect.any(String), late.id], [other.id]]);
    expect(stats.awaitingCommit).toBe(0);
    sink.calls[1]!.ack();
    await sweep.acknowledged;
    expect(stats.awaitingCommit).toBe(1);
    sink.calls[0]!.ack();
    await first.acknowledged;
    first.commit();
    sweep.commit();
    expect(stats.awaitingCommit).toBe(0);
    expect(stats.eventsDelivered).toBe(3);
    expect(stats.lateEvents).toBe(1);
  });
});
