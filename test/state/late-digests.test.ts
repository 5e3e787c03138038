import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { idDigest, openClusterState, type StateStore } from "../../src/state/index.ts";
import type { AuditPosition } from "../../src/state/index.ts";

let dir: string;
let state: StateStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "late-state-"));
  state = openClusterState(dir, "c");
});
afterEach(() => {
  state.close();
  rmSync(dir, { recursive: true, force: true });
});

const at = (s: string) => new Date(`2024-05-01T${s}Z`);
const ev = (id: string, time: string) => ({ id, time: at(time) });
const legacyAt = (sweep: NonNullable<Extract<AuditPosition, { kind: "legacy" }>["sweep"]>): AuditPosition => ({
  kind: "legacy",
  checkpoint: { windowStart: at("00:00:00"), pageKey: "", lastEventId: "" },
  seekFinished: false,
  sweep,
});

describe("per-hour digests", () => {
  test("do not depend on delivery order or batching, and count a duplicate", () => {
    state.digests.add([ev("a", "10:00:01"), ev("b", "10:59:59")], "f");
    state.digests.add([ev("c", "10:30:00"), ev("d", "11:00:00")], "f");
    const hours = state.digests.between(at("10:00:00"), at("12:00:00"));
    const ten = hours.get(Math.floor(at("10:00:00").getTime() / 3_600_000))!;
    expect(ten.count).toBe(3);
    expect(ten.digest).toBe(idDigest(["c", "b", "a"]).digest);
    expect(hours.size).toBe(2);

    state.digests.add([ev("a", "10:00:01")], "f");
    const again = state.digests.between(at("10:00:00"), at("11:00:00")).values().next().value!;
    expect(again.count).toBe(4);
    expect(again.digest).not.toBe(ten.digest);
  });

  test("an hour delivered under two filter sets is marked mixed; old hours are pruned", () => {
    state.digests.add([ev("a", "10:00:01")], "f1");
    state.digests.add([ev("b", "10:00:02")], "f2");
    state.digests.add([ev("c", "11:00:02")], "f1");
    expect([...state.digests.between(at("10:00:00"), at("12:00:00")).values()].map((h) => h.filters)).toEqual(["mixed", "f1"]);
    state.digests.prune(at("11:00:00"));
    expect([...state.digests.between(at("00:00:00"), at("23:00:00")).values()].map((h) => h.count)).toEqual([1]);
  });
});

describe("late-event sweep schedule", () => {
  test("a slice comes due after each delay, moves on with its commit, and its ids go with the last sweep", () => {
    const delays = [60_000, 600_000];
    state.late.rememberDelivered([ev("a", "10:00:01"), ev("b", "10:00:09")]);
    state.commitAudit({ position: legacyAt({ read: [{ from: at("10:00:00"), to: at("10:00:10"), readAt: at("10:00:11") }], swept: [] }), delivered: [], sessions: [], deadLetters: [] });
    expect(state.late.frontier()).toEqual(at("10:00:10"));

    expect(state.late.due(at("10:01:10").getTime(), delays)).toEqual([]);
    expect(state.late.due(at("10:01:11").getTime(), delays)).toEqual([{ from: at("10:00:00"), to: at("10:00:10"), next: 0 }]);

    state.commitAudit({ position: legacyAt({ read: [], swept: [{ from: at("10:00:00"), next: 1, last: false }] }), delivered: [], sessions: [], deadLetters: [] });
    expect(state.late.due(at("10:09:00").getTime(), delays)).toEqual([]);
    expect(state.late.due(at("10:10:11").getTime(), delays)).toEqual([{ from: at("10:00:00"), to: at("10:00:10"), next: 1 }]);
    expect([...state.late.delivered(["a", "b", "z"])].sort()).toEqual(["a", "b"]);

    state.commitAudit({ position: legacyAt({ read: [], swept: [{ from: at("10:00:00"), next: 2, last: true }] }), delivered: [], sessions: [], deadLetters: [] });
    expect(state.late.pending()).toBe(0);
    expect(state.late.delivered(["a", "b"]).size).toBe(0);
  });

  test("a shorter delay list drops the sweeps past its end", () => {
    state.commitAudit({ position: legacyAt({ read: [{ from: at("10:00:00"), to: at("10:00:10"), readAt: at("10:00:11") }], swept: [] }), delivered: [], sessions: [], deadLetters: [] });
    state.commitAudit({ position: legacyAt({ read: [], swept: [{ from: at("10:00:00"), next: 1, last: false }] }), delivered: [], sessions: [], deadLetters: [] });
    expect(state.late.due(at("11:00:00").getTime(), [60_000])).toEqual([]);
    expect(state.late.pending()).toBe(0);
  });
});
