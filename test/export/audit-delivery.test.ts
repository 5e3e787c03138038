import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuditDelivery } from "../../src/export/audit-delivery.ts";
import { deliveryLedger } from "../../src/export/ledger.ts";
import { ExportStats } from "../../src/export/stats.ts";
import type { DeliveryReport, FluentdSink, SinkRecord } from "../../src/fluentd/types.ts";
import { openClusterState, type AuditPosition, type StateStore } from "../../src/state/index.ts";
import type { AuditEvent } from "../../src/teleport/types.ts";
import { testExportOptions } from "../support/export-options.ts";
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

/**
 * Delivered ids are what keeps a late-event sweep from sending an event again. Only events a sweep
 * can still read are kept (those not older than its horizon), and that must be judged by when
 * the events were read, not when their batch committed: a Fluentd outage can hold a batch for
 * longer than the longest delay, while the sweeps of what it read stay due.
 */
describe("delivered ids across a long wait for Fluentd", () => {
  const MINUTE = 60_000;
  const read = Date.parse("2025-03-03T12:00:00Z");

  function pipeline(clock: { now: number }) {
    const sink = new HeldSink();
    const options = testExportOptions({ lateEventDelays: [MINUTE, 10 * MINUTE] });
    const ledger = deliveryLedger(state, options, true, () => clock.now);
    const delivery = new AuditDelivery({ sink, state, stats: new ExportStats(), url: URL, sessions: { waitForRoom: async () => {}, wake: () => {} }, participants: [ledger], dedupe: true });
    const live = (readAt: number): AuditPosition => ({ kind: "legacy", checkpoint: { windowStart: new Date(read - 3_600_000), pageKey: "", lastEventId: "" }, seekFinished: false, readAt });
    const deliver = async (events: AuditEvent[], position: AuditPosition, late: boolean) => {
      const calls = sink.calls.length;
      const batch = await delivery.send(events, position, late);
      const sent = sink.calls.slice(calls).flatMap((c) => c.ids);
      sink.calls.at(-1)?.ack();
      await batch.acknowledged;
      return { sent, commit: () => batch.commit() };
    };
    return { live, deliver };
  }

  test("an event read live and committed after a 20-minute outage is not sent again by its sweep", async () => {
    const clock = { now: read };
    const { live, deliver } = pipeline(clock);
    const event = auditEvent("user.login", new Date(read - 5_000));
    const first = await deliver([event], live(read), false);
    expect(first.sent).toEqual([event.id]);
    // Fluentd was down: the acknowledgement, and so the commit, come 20 minutes after the read.
    clock.now = read + 20 * MINUTE;
    first.commit();
    // Both sweeps of the slice are due by now; the first re-reads the event.
    const sweep = await deliver([event], live(clock.now), true);
    expect(sweep.sent).toEqual([]);
  });

  test("an event a sweep found is not sent again by the next sweep, however old it is", async () => {
    const clock = { now: read + MINUTE };
    const { live, deliver } = pipeline(clock);
    // Late by more than the sweeps look back from now, yet found: the next sweep reads it again.
    const found = auditEvent("user.login", new Date(read - 11 * MINUTE));
    const first = await deliver([found], live(clock.now), true);
    expect(first.sent).toEqual([found.id]);
    first.commit();
    clock.now = read + 10 * MINUTE;
    const second = await deliver([found], live(clock.now), true);
    expect(second.sent).toEqual([]);
  });
});
