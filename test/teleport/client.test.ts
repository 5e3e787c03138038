import type { JsonObject } from "@bufbuild/protobuf";
import { parseHostPort } from "../../src/config/values.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AuthService } from "../../src/gen/teleport/legacy/client/proto/authservice_pb.ts";
import { createTeleportSource, TeleportError, type AuditEvent, type TeleportSourceHandle } from "../../src/teleport/index.ts";
import { TeleportClient } from "../../src/teleport/client.ts";
import { RawAuditLogService } from "../../src/teleport/raw-audit-log.ts";
import { startFakeTeleport, type FakeTeleport } from "../../scripts/fakes/fake-teleport.ts";
import { SESSION_UPLOAD_INDEX } from "../../scripts/fakes/fake-events.ts";
import { encodeStructIteratively } from "../../scripts/fakes/struct-encode.ts";
import { rejectionOf } from "../support/rejection.ts";

const START = new Date("2025-03-03T00:00:00Z");
const END = new Date("2025-03-06T00:00:00Z");
let fake: FakeTeleport;
let src: TeleportSourceHandle;

beforeAll(async () => {
  fake = await startFakeTeleport({ events: 240, days: 3, sessions: 8, start: START, printsPerSession: 6 });
  src = await createTeleportSource({ addr: parseHostPort(fake.addr), identity: fake.identity.identityFile, refreshEnabled: false, refreshInterval: 60_000, tlsRouting: "auto" });
});

afterAll(async () => {
  await src.close();
  await fake.stop();
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const failure = (p: Promise<unknown>) => rejectionOf(p, TeleportError);

async function allPages(q: { from: Date; to: Date; types: string[]; limit: number }): Promise<AuditEvent[]> {
  const events: AuditEvent[] = [];
  let startKey = "";
  for (let pages = 0; pages < 1000; pages++) {
    const page = await src.searchEvents({ ...q, startKey });
    // What read-ahead budgets by: the payloads' size, there whenever events are.
    expect(page.bytes! > 0).toBe(page.events.length > 0);
    events.push(...page.events);
    if (!page.nextKey) return events;
    expect(page.events).toHaveLength(q.limit);
    startKey = page.nextKey;
  }
  throw new Error("paging did not end");
}

describe("client against the fake Teleport over mTLS", () => {
  test("ping returns the cluster name and server version; every call carried the client certificate", async () => {
    expect(await src.ping()).toEqual({ clusterName: "test-cluster", serverVersion: "17.4.2" });
    expect(fake.peers.at(-1)).toBe("teleport-event-handler");
    expect(fake.serverNames.at(-1)).toBe("teleport.cluster.local");
    expect(fake.alpnOffers.at(-1)).toEqual(["h2"]);
  });

  test("paging walks the whole window once, in ascending time order, with an empty key at the end", async () => {
    const events = await allPages({ from: START, to: END, types: [], limit: 7 });
    expect(events).toHaveLength(240);
    expect(new Set(events.map((e) => e.id)).size).toBe(240);
    for (let i = 1; i < events.length; i++) expect(events[i]!.time.getTime()).toBeGreaterThanOrEqual(events[i - 1]!.time.getTime());
    // Teleport's times: RFC3339Nano with trailing zeros trimmed, several events per timestamp.
    const times = events.map((e) => String(e.json.time));
    expect(times.some((t) => /:\d\dZ$/.test(t))).toBe(true);
    expect(times.some((t) => /\.\d{9}Z$/.test(t))).toBe(true);
    expect(new Set(times).size).toBeLessThan(times.length);
  });

  test("windows are [from, to) and the type filter applies across pages", async () => {
    const all = await allPages({ from: START, to: END, types: [], limit: 500 });
    const mid = all[100]!.time;
    const before = await allPages({ from: START, to: mid, types: [], limit: 13 });
    const after = await allPages({ from: mid, to: END, types: [], limit: 13 });
    expect(before.length + after.length).toBe(240);
    expect(after[0]!.time.getTime()).toBe(mid.getTime());
    const logins = await allPages({ from: START, to: END, types: ["user.login"], limit: 5 });
    expect(logins.length).toBe(all.filter((e) => e.type === "user.login").length);
    expect(logins.every((e) => e.type === "user.login")).toBe(true);
    const failed = logins.filter((e) => e.json.success === false);
    expect(failed.length).toBeGreaterThan(0);
    expect(failed[0]!.json).toMatchObject({ code: "T1000W", login: expect.any(String), user: expect.any(String), error: expect.any(String) });
  });

  test("session.upload events carry sid, url and ei MaxInt32; access requests keep their own id", async () => {
    const uploads = await allPages({ from: START, to: END, types: ["session.upload"], limit: 100 });
    expect(uploads).toHaveLength(8);
    expect(uploads[0]!.index).toBe(SESSION_UPLOAD_INDEX);
    expect(uploads[0]!.json).toMatchObject({ event: "session.upload", code: "T2005I", sid: expect.any(String), url: expect.stringContaining(String(uploads[0]!.json.sid)) });
    const requests = await allPages({ from: START, to: END, types: ["access_request.create"], limit: 100 });
    for (const r of requests) expect(r.json.id).not.toBe(r.id);
  });

  test("limits and order are validated like Teleport", async () => {
    expect((await failure(src.searchEvents({ from: START, to: END, types: [], limit: 10_001, startKey: "" }))).kind).toBe("invalid");
    const page = await src.searchEvents({ from: START, to: END, types: [], limit: 0, startKey: "" });
    expect(page.events).toHaveLength(240);
    expect(page.nextKey).toBe("");
  });

  test("session recordings stream in order; startIndex is inclusive; missing recordings are not-found", async () => {
    const uploads = await allPages({ from: START, to: END, types: ["session.upload"], limit: 100 });
    const sid = String(uploads[0]!.json.sid);
    const events = await collect(src.sessionEvents(sid, 0));
    expect(events.map((e) => e.type)).toEqual(["session.start", "resize", ...Array(6).fill("print"), "session.end"]);
    expect(events.map((e) => e.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    const print = events[2]!;
    expect(print.json.uid).toBeUndefined();
    expect(print.json.code).toBeUndefined();
    expect(Buffer.from(String(print.json.data), "base64").length).toBe(Number(print.json.bytes));
    expect(print.id).toMatch(/^[0-9a-f]{64}$/);
    const resumed = await collect(src.sessionEvents(sid, 4));
    expect(resumed.map((e) => e.index)).toEqual([4, 5, 6, 7, 8]);
    expect(resumed[0]!.id).toBe(events[4]!.id);

    const missing = String(uploads[6]!.json.sid); // every 7th session has no recording
    expect((await failure(collect(src.sessionEvents(missing, 0)))).kind).toBe("not-found");
    expect((await failure(collect(src.sessionEvents("no-such-session", 0)))).kind).toBe("not-found");
  });

  test("bulk export is UNIMPLEMENTED by default", async () => {
    const err = await failure(collect(src.eventExportChunks(START)));
    expect(err.kind).toBe("unimplemented");
    expect(err.code).toBe(12);
  });

  test("upsertLock records the lock; an empty target is invalid", async () => {
    const expires = new Date(Date.now() + 3_600_000);
    await src.upsertLock({ name: "event-handler-auto-lock-bob-root", user: "bob", login: "root", message: "too many failed logins", expires });
    expect(fake.locks.at(-1)).toEqual({
      name: "event-handler-auto-lock-bob-root",
      kind: "lock",
      version: "v2",
      target: { user: "bob", login: "root", role: "" },
      message: "too many failed logins",
      expires,
    });
    expect((await failure(src.upsertLock({ name: "x", user: "", login: "", message: "" }))).kind).toBe("invalid");
    expect((await failure(src.upsertLock({ name: "", user: "bob", login: "", message: "" }))).kind).toBe("invalid");
  });

  test("the fake rejects calls without the version header", async () => {
    const bare = createGrpcTransport({
      baseUrl: fake.url,
      nodeOptions: { key: src.credentials.keyPem, cert: src.credentials.certPem, ca: src.credentials.caPems, servername: "teleport.cluster.local" },
    });
    await expect(createClient(AuthService, bare).ping({})).rejects.toThrow(/version/);
  });
});

describe("faults", () => {
  test("UNAVAILABLE on every Nth call and a dropped connection mid-stream are transient", async () => {
    const uploads = await allPages({ from: START, to: END, types: ["session.upload"], limit: 100 });
    fake.setFailEvery(1);
    try {
      expect((await failure(src.ping())).kind).toBe("transient");
    } finally {
      fake.setFailEvery(0);
    }
    fake.dropNextStreamAfter(3);
    const seen: AuditEvent[] = [];
    const err = await failure(
      (async () => {
        for await (const e of src.sessionEvents(String(uploads[0]!.json.sid), 0)) seen.push(e);
      })(),
    );
    expect(err.kind).toBe("transient");
    expect(seen.length).toBeLessThanOrEqual(3);
    // The client reconnects for the next call.
    expect((await collect(src.sessionEvents(String(uploads[0]!.json.sid), 0))).length).toBe(9);
  });
});

describe("stream cancellation", () => {
  test("breaking out early and aborting mid-stream both end the call; the session serves the next one", async () => {
    const uploads = await allPages({ from: START, to: END, types: ["session.upload"], limit: 100 });
    const sid = String(uploads[0]!.json.sid);
    const firstTwo: number[] = [];
    for await (const e of src.sessionEvents(sid, 0)) {
      firstTwo.push(e.index);
      if (firstTwo.length === 2) break;
    }
    expect(firstTwo).toEqual([0, 1]);

    const abort = new AbortController();
    const seen: number[] = [];
    let caught: unknown;
    try {
      for await (const e of src.sessionEvents(sid, 0, abort.signal)) {
        seen.push(e.index);
        if (seen.length === 3) abort.abort();
      }
    } catch (err) {
      caught = err;
    }
    // An abort the caller asked for is not a failure to retry, and no event follows it.
    expect(caught).toBeInstanceOf(TeleportError);
    expect((caught as TeleportError).kind).toBe("other");
    expect(seen).toEqual([0, 1, 2]);
    expect((await collect(src.sessionEvents(sid, 0))).length).toBe(9);
  });
});

describe("bulk export", () => {
  test("chunks per UTC date, every event once, and a cursor resumes after its item", async () => {
    const bulk = await startFakeTeleport({ events: 90, days: 3, sessions: 3, start: START, bulk: true, chunkSize: 10, pki: fake.pki, outDir: fake.pki.dir });
    const s = await createTeleportSource({ addr: parseHostPort(bulk.addr), identity: bulk.identity.identityFile, refreshEnabled: false, refreshInterval: 60_000, tlsRouting: "off" });
    try {
      const ids = new Set<string>();
      let resumes = 0;
      for (let day = 0; day < 3; day++) {
        const date = new Date(START.getTime() + day * 86_400_000 + 3_600_000);
        const chunks = await collect(s.eventExportChunks(date));
        expect(chunks.length).toBeGreaterThan(1);
        for (const chunk of chunks) {
          const items = await collect(s.exportEvents({ date, chunk, cursor: "" }));
          for (const it of items) {
            expect(it.event.time.getUTCDate()).toBe(date.getUTCDate());
            ids.add(it.event.id);
          }
          if (items.length < 5) continue;
          const resumed = await collect(s.exportEvents({ date, chunk, cursor: items[3]!.cursor }));
          expect(resumed.map((r) => r.event.id)).toEqual(items.slice(4).map((r) => r.event.id));
          resumes++;
        }
      }
      expect(ids.size).toBe(90);
      expect(resumes).toBeGreaterThan(3);
      // The Go handler probes with a date two days ahead: no chunks, no error.
      expect(await collect(s.eventExportChunks(new Date(Date.now() + 2 * 86_400_000)))).toEqual([]);
      // Live appends land in new chunks; sealed ones never change.
      const today = new Date();
      const before = await collect(s.eventExportChunks(today));
      bulk.appendEvents(5, today);
      const after = await collect(s.eventExportChunks(today));
      expect(after.slice(0, before.length)).toEqual(before);
      expect(after.length).toBe(before.length + 1);
    } finally {
      await s.close();
      await bulk.stop();
    }
  });
});

describe("decoding", () => {
  test("an event's payload is decoded only when read, so an event skipped by type never is", async () => {
    // A Struct entry declaring 127 bytes and carrying none: decoding it fails, reading type and index must not.
    const broken = new Uint8Array([0x0a, 0x7f]);
    const transport = createRouterTransport(({ service }) =>
      service(RawAuditLogService, {
        async *streamUnstructuredSessionEvents() {
          yield { type: "print", id: "p1", index: 2n, unstructured: broken };
        },
        async getUnstructuredEvents() {
          return { items: [{ type: "kube.request", id: "k1", index: 0n, unstructured: broken }], lastKey: "" };
        },
      }),
    );
    const client = new TeleportClient(transport);
    const [print] = await collect(client.sessionEvents("s1", 0));
    expect([print!.type, print!.index, print!.id]).toEqual(["print", 2, "p1"]);
    expect(() => print!.json).toThrow(/truncated Struct/);
    const page = await client.searchEvents({ from: START, to: END, types: [], limit: 10, startKey: "" });
    expect(page.events.map((e) => e.type)).toEqual(["kube.request"]);
    expect(() => page.events[0]!.json).toThrow(/truncated Struct/);
  });

  test("the validity checks run lazily: a payload deeper than 10,000 levels is invalid once decoded, an index beyond 2^53 at once", async () => {
    let body: JsonObject = { leaf: true };
    for (let i = 0; i < 10_000; i++) body = { a: body };
    const deep = encodeStructIteratively({ body });
    const transport = createRouterTransport(({ service }) =>
      service(RawAuditLogService, {
        async *streamUnstructuredSessionEvents() {
          yield { type: "print", id: "p1", index: 1n, unstructured: deep };
          yield { type: "session.command", id: "c2", index: 2n, unstructured: deep };
          yield { type: "print", id: "p3", index: 2n ** 53n + 5n, unstructured: deep };
          yield { type: "session.end", id: "e4", index: 4n, unstructured: new Uint8Array() };
        },
      }),
    );
    const [print, command, huge, end] = await collect(new TeleportClient(transport).sessionEvents("s1", 0));
    expect([print!.type, print!.index]).toEqual(["print", 1]);
    expect(command!.invalid).toMatch(/nests deeper than 10000 levels/);
    expect(command!.json).toEqual({});
    expect([huge!.index, huge!.invalid]).toEqual([-1, `its index ${2n ** 53n + 5n} is outside 0..2^53-1`]);
    expect(end!.invalid).toBeUndefined();
    expect(end!.json).toEqual({});
  });
});
