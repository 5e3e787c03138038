import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { encode } from "@msgpack/msgpack";
import { connect } from "node:tls";
import { gzipSync } from "node:zlib";
import { sessionUrl } from "../../src/export/records.ts";
import { EVENT_TIME_BYTES, EventTime, eventTimeOf, forwardEncoder, parsedTime, writeEventTime } from "../../src/fluentd/forward/event-time.ts";
import { logger } from "../../src/logger.ts";
import { startFakeForward, type FakeForward } from "../../scripts/fakes/fake-forward.ts";
import { createTestPki, type TestPki } from "../../scripts/fakes/pki.ts";
import { capturingLogs } from "../support/logs.ts";
import { waitUntil } from "../support/world.ts";
import { auditRecords, sinkFrom, sinkOptions, type SinkTestOptions } from "../support/fluentd-records.ts";

/** Teleport session ids are UUIDs; no other id is ever put into a URL. */
const SID = "0b6e2f4e-1b7c-4a7e-9d7a-3d1f2c3b4a5e";

let pki: TestPki;
let forward: FakeForward;
let secured: FakeForward;
let tagSeq = 0;

beforeAll(async () => {
  logger.level = 0; // retry warnings are expected here
  pki = await createTestPki();
  const tls = { ca: pki.fluentdCA.ca.certPem, cert: pki.fluentdServer.certPem, key: pki.fluentdServer.keyPem };
  forward = await startFakeForward(tls);
  secured = await startFakeForward({ ...tls, security: { sharedKey: "s3cret", users: [{ username: "teleport", password: "pw" }] } });
});

afterAll(async () => {
  await Promise.all([forward.stop(), secured.stop()]);
});

afterEach(() => {
  for (const r of [forward, secured]) {
    r.faults.ackDelayMs = 0;
    r.faults.noAckNext(0);
    r.faults.resetNext(0);
    r.faults.refuseHandshakeNext(0);
  }
});

const freshTag = () => `fw${++tagSeq}.log`;

function options(over: SinkTestOptions = {}): SinkTestOptions {
  return sinkOptions(pki, { timeout: 2_000, ...over });
}

const createFluentdSink = sinkFrom;

/** Every record stored once, the record exactly the event JSON (in_forward keeps `time` in it). */
function expectExactlyOnce(receiver: FakeForward, tag: string, records: { id: string; body: string }[]): void {
  const stored = receiver.records(tag);
  expect(stored.map((s) => s.record.uid).sort()).toEqual(records.map((r) => r.id).sort());
  const byId = new Map(stored.map((s) => [s.record.uid, s.record]));
  for (const r of records) expect(byId.get(r.id)).toEqual(JSON.parse(r.body));
}

describe("forward sink against the in_forward receiver", () => {
  for (const packed of [true, false]) {
    test(`PackedForward frames with acks: every record once, in order, tagged by the URL path (${packed ? "written from the Struct" : "from JSON"})`, async () => {
      const sink = await createFluentdSink(options({ batchSize: 10 }));
      const tag = freshTag();
      const records = auditRecords(35, { packed, extra: (i) => ({ nested: { list: [i, -i * 1000, i / 3, null, true, "ü"], deeper: { n: 2 ** 40 + i } } }) });
      const report = await sink.deliver(forward.url(tag), records);
      await sink.close();
      expect(report.delivered).toBe(35);
      expect(report.requests).toBe(4);
      expectExactlyOnce(forward, tag, records);
      expect(forward.records(tag).map((r) => r.record.uid)).toEqual(records.map((r) => r.id));
      const frames = forward.frames.filter((f) => f.tag === tag);
      expect(frames.map((f) => f.mode)).toEqual(["PackedForward", "PackedForward", "PackedForward", "PackedForward"]);
      expect(frames.every((f) => typeof f.chunk === "string" && f.chunk.length > 0)).toBe(true);
      expect(forward.records(tag)[0]!.time).toBe("2024-05-01T12:34:56.789000000Z");
    });

    test(`a record nested deeper than Fluentd's msgpack unpacker reads is dead-lettered, the others delivered (${packed ? "Struct" : "JSON"})`, async () => {
      const sink = await createFluentdSink(options());
      const tag = freshTag();
      /** `levels` in all, the record itself being level 1. */
      const nestedTo = (levels: number) => {
        let v: unknown = "leaf";
        for (let l = 2; l <= levels; l++) v = { v };
        return v;
      };
      const records = auditRecords(3, { packed, extra: (i) => ({ deep: nestedTo(i === 1 ? 128 : 127) }) });
      const report = await sink.deliver(forward.url(tag), records);
      await sink.close();
      expect(report.deadLettered.map((d) => [d.record.id, d.status])).toEqual([[records[1]!.id, 400]]);
      expect(report.deadLettered[0]!.reason).toContain("nests deeper than 127 levels");
      expect(forward.records(tag).map((r) => r.record.uid)).toEqual([records[0]!.id, records[2]!.id]);
    });
  }

  for (const packed of [true, false]) {
    test(`the event time travels as EventTime with its nanoseconds (${packed ? "Struct" : "JSON"})`, async () => {
      const sink = await createFluentdSink(options());
      const tag = freshTag();
      const records = auditRecords(1, { packed, extra: () => ({ time: "2024-05-01T12:34:56.123456789Z" }) });
      await sink.deliver(forward.url(tag), records);
      await sink.close();
      const [stored] = forward.records(tag);
      expect(stored!.eventTime).toEqual({ seconds: Date.UTC(2024, 4, 1, 12, 34, 56) / 1000, nanos: 123456789 });
      expect(stored!.time).toBe("2024-05-01T12:34:56.123456789Z");
    });
  }

  test("a record with no msgpack rendering any more (its object was read) is sent from its JSON", async () => {
    const sink = await createFluentdSink(options());
    const tag = freshTag();
    const records = auditRecords(3, { packed: true }).map((r) => ({ id: r.id, body: r.body, packed: () => undefined }));
    const report = await sink.deliver(forward.url(tag), records);
    await sink.close();
    expect(report.delivered).toBe(3);
    expectExactlyOnce(forward, tag, records);
  });

  test("a path with slashes becomes a dotted tag; session URLs get <sid>.log", async () => {
    const sink = await createFluentdSink(options());
    const records = auditRecords(2);
    await sink.deliver(sessionUrl(`forward+tls://localhost:${forward.port}/teleport/session`, SID), records);
    await sink.close();
    expect(forward.recordCount(`teleport.session.${SID}.log`)).toBe(2);
  });

  test("gzip sends CompressedPackedForward", async () => {
    const sink = await createFluentdSink(options({ compress: "gzip" }));
    const tag = freshTag();
    const records = auditRecords(20);
    await sink.deliver(forward.url(tag), records);
    await sink.close();
    expectExactlyOnce(forward, tag, records);
    expect(forward.frames.filter((f) => f.tag === tag).map((f) => f.mode)).toEqual(["CompressedPackedForward"]);
  });

  test("a frame never acknowledged is sent again after fluentd-timeout: duplicates, no loss", async () => {
    const sink = await createFluentdSink(options({ batchSize: 5, timeout: 300 }));
    const tag = freshTag();
    const records = auditRecords(10);
    forward.faults.noAckNext(1);
    const report = await sink.deliver(forward.url(tag), records);
    await sink.close();
    expect(report.delivered).toBe(10);
    expect(report.retried).toBeGreaterThanOrEqual(5);
    const uids = forward.records(tag).map((r) => String(r.record.uid));
    expect(new Set(uids).size).toBe(10);
    expect(uids.length).toBeGreaterThan(10);
  });

  test("an ack later than fluentd-timeout drops the connection and re-sends", async () => {
    const sink = await createFluentdSink(options({ timeout: 200 }));
    const tag = freshTag();
    forward.faults.ackDelayMs = 400;
    const delivering = sink.deliver(forward.url(tag), auditRecords(3));
    // Once the first copy is stored, acks come in time again.
    await waitUntil("the record is stored", () => forward.recordCount(tag) > 0);
    forward.faults.ackDelayMs = 0;
    const report = await delivering;
    await sink.close();
    expect(report.delivered).toBe(3);
    expect(report.retried).toBe(3);
    expect(forward.recordCount(tag)).toBe(6);
  });

  test("a connection reset mid-frame stores nothing and the frame is re-sent", async () => {
    const sink = await createFluentdSink(options());
    const tag = freshTag();
    const records = auditRecords(7);
    forward.faults.resetNext(1);
    const report = await sink.deliver(forward.url(tag), records);
    await sink.close();
    expect(report.delivered).toBe(7);
    expect(report.retried).toBe(7);
    expectExactlyOnce(forward, tag, records);
    expect(forward.frames.some((f) => f.fault === "reset")).toBe(true);
  });

  test("a reset after frames were acknowledged again starts the backoff from the first delay", async () => {
    const sink = await createFluentdSink(options({ batchSize: 1 }));
    const tag = freshTag();
    const resets = () => forward.frames.filter((f) => f.fault === "reset").length;
    const resetsBefore = resets();
    const { result, logs } = await capturingLogs(async () => {
      // One call of 200 frames (about a second at this ack delay) keeps the connection's queue busy
      // from the first reset to the second.
      forward.faults.ackDelayMs = 20;
      forward.faults.resetNext(1);
      const delivering = sink.deliver(forward.url(tag), auditRecords(200));
      await waitUntil("ten records stored after the first reset", () => forward.recordCount(tag) >= 10);
      forward.faults.resetNext(1);
      const report = await delivering;
      await sink.close();
      return report;
    });
    expect(result).toMatchObject({ delivered: 200 });
    expect(resets() - resetsBefore).toBe(2);
    const attempts = logs.filter((o) => o.args[0] === "Fluentd request failed, retrying").map((o) => (o.args[1] as { attempt: number }).attempt);
    expect(attempts).toEqual([1, 1]);
  });

  test("concurrent calls to one URL share one connection, several frames outstanding, stored in call order", async () => {
    const sink = await createFluentdSink(options({ batchSize: 5 }));
    const tag = freshTag();
    const calls = Array.from({ length: 6 }, (_, k) => auditRecords(5, { prefix: `call${k}` }));
    // Acks held back a little: a client that waits for each before the next shows one outstanding.
    forward.faults.ackDelayMs = 100;
    const reports = await Promise.all(calls.map((records) => sink.deliver(forward.url(tag), records)));
    await sink.close();
    expect(reports.map((r) => r.delivered)).toEqual([5, 5, 5, 5, 5, 5]);
    expect(forward.records(tag).map((r) => r.record.uid)).toEqual(calls.flat().map((r) => r.id));
    expect(new Set(forward.frames.filter((f) => f.tag === tag).map((f) => f.connection)).size).toBe(1);
    expect(forward.maxOutstanding(tag)).toBeGreaterThan(1);
  });

  test("after a reset, the frames of concurrent calls are sent again in call order", async () => {
    const sink = await createFluentdSink(options({ batchSize: 5 }));
    const tag = freshTag();
    const calls = Array.from({ length: 4 }, (_, k) => auditRecords(5, { prefix: `again${k}` }));
    forward.faults.resetNext(1);
    const reports = await Promise.all(calls.map((records) => sink.deliver(forward.url(tag), records)));
    await sink.close();
    expect(reports.map((r) => [r.delivered, r.retried])).toEqual(calls.map(() => [5, 5]));
    expect(forward.records(tag).map((r) => r.record.uid)).toEqual(calls.flat().map((r) => r.id));
  });

  test("a call abandoned while later calls wait: the later ones are still delivered, in order", async () => {
    const sink = await createFluentdSink(options({ batchSize: 5, timeout: 300 }));
    const tag = freshTag();
    forward.faults.noAckNext(1);
    const give = new AbortController();
    const first = sink.deliver(forward.url(tag), auditRecords(5, { prefix: "abandoned" }), give.signal);
    const later = [1, 2].map((k) => auditRecords(5, { prefix: `kept${k}` }));
    const delivering = later.map((records) => sink.deliver(forward.url(tag), records));
    await waitUntil("the receiver stored 15 records", () => forward.recordCount(tag) >= 15);
    give.abort();
    await expect(first).rejects.toThrow("aborted");
    const reports = await Promise.all(delivering);
    await sink.close();
    expect(reports.map((r) => r.delivered)).toEqual([5, 5]);
    const uids = forward.records(tag).map((r) => String(r.record.uid));
    const kept = uids.filter((u) => u.startsWith("kept"));
    expect(new Set(kept)).toEqual(new Set(later.flat().map((r) => r.id)));
    // Whatever was sent again came in order: the first copy of each kept record follows call order.
    expect([...new Set(kept)]).toEqual(later.flat().map((r) => r.id));
  });

  test("the shared-key handshake (with user auth) lets the frames through", async () => {
    const sink = await createFluentdSink(options({ sharedKey: "s3cret", username: "teleport", password: "pw" }));
    const tag = freshTag();
    const records = auditRecords(4);
    await sink.deliver(secured.url(tag), records);
    await sink.close();
    expectExactlyOnce(secured, tag, records);
  });

  test("a refused handshake is retried until the receiver accepts it", async () => {
    const sink = await createFluentdSink(options({ sharedKey: "s3cret", username: "teleport", password: "pw" }));
    const tag = freshTag();
    const before = secured.refusedHandshakes();
    secured.faults.refuseHandshakeNext(2);
    const report = await sink.deliver(secured.url(tag), auditRecords(3));
    await sink.close();
    expect(report.delivered).toBe(3);
    expect(secured.refusedHandshakes() - before).toBe(2);
    expect(secured.recordCount(tag)).toBe(3);
  });

  test("a wrong shared key is refused by the receiver and never stores anything", async () => {
    const sink = await createFluentdSink(options({ sharedKey: "wrong", username: "teleport", password: "pw" }));
    const tag = freshTag();
    const stop = new AbortController();
    const before = secured.refusedHandshakes();
    const delivering = sink.deliver(secured.url(tag), auditRecords(3), stop.signal);
    await waitUntil("two handshakes were refused", () => secured.refusedHandshakes() - before >= 2);
    stop.abort();
    await expect(delivering).rejects.toThrow("aborted");
    await sink.close();
    expect(secured.recordCount(tag)).toBe(0);
  });

  test("without a shared key, a receiver that sends HELO is an error, not a silent drop", async () => {
    const sink = await createFluentdSink(options());
    const stop = new AbortController();
    const tag = freshTag();
    const before = secured.connectionCount();
    const delivering = sink.deliver(secured.url(tag), auditRecords(1), stop.signal);
    await waitUntil("two connections were tried", () => secured.connectionCount() >= before + 2);
    stop.abort();
    await expect(delivering).rejects.toThrow("aborted");
    await sink.close();
    expect(secured.recordCount(tag)).toBe(0);
  });

  test("a record over fluentd-batch-bytes is dead-lettered, the others delivered", async () => {
    const sink = await createFluentdSink(options({ batchBytes: 2048 }));
    const tag = freshTag();
    const records = auditRecords(3, { extra: (i) => (i === 1 ? { blob: "x".repeat(4096) } : {}) });
    const report = await sink.deliver(forward.url(tag), records);
    await sink.close();
    expect(report.delivered).toBe(2);
    expect(report.deadLettered.map((d) => [d.record.id, d.status])).toEqual([[records[1]!.id, 413]]);
    expect(report.deadLettered[0]!.reason).toContain("fluentd-batch-bytes");
    expect(forward.records(tag).map((r) => r.record.uid)).toEqual([records[0]!.id, records[2]!.id]);
  });

  test("plain forward:// (allowed by fluentd-allow-insecure, which the configuration checks) works without TLS", async () => {
    const plain = await startFakeForward();
    try {
      const sink = await createFluentdSink(options({ allowInsecure: true }));
      const tag = freshTag();
      await sink.deliver(plain.url(tag), auditRecords(2));
      await sink.close();
      expect(plain.recordCount(tag)).toBe(2);
    } finally {
      await plain.stop();
    }
  });
});

describe("EventTime from Teleport's time field", () => {
  test("zones, fractions of any length (cut at nanoseconds), and anything else is no time", () => {
    const at = Date.UTC(2024, 4, 1, 12, 34, 56) / 1000;
    expect(eventTimeOf("2024-05-01T12:34:56Z")).toEqual(new EventTime(at, 0));
    expect(eventTimeOf("2024-05-01T12:34:56.5Z")).toEqual(new EventTime(at, 500_000_000));
    expect(eventTimeOf("2024-05-01T12:34:56.123456789123Z")).toEqual(new EventTime(at, 123_456_789));
    expect(eventTimeOf("2024-05-01T14:34:56.000000001+02:00")).toEqual(new EventTime(at, 1));
    for (const bad of [undefined, 42, "", "yesterday", "2024-05-01", "2024-05-01T12:34:56"]) expect(eventTimeOf(bad)).toBeUndefined();
  });

  test("Teleport's own form, read digit by digit, gives what the general parser gives", () => {
    // Times Teleport writes, and near-misses that must fall through to the general parser.
    const rand = (n: number) => Math.floor(Math.random() * n);
    const pad = (v: number, w: number) => String(v).padStart(w, "0");
    const samples: string[] = ["2024-05-01T12:34:56.Z", "2024-05-01T24:00:00Z", "2024-05-01T23:59:60Z", "2024-02-30T00:00:00Z", "2024-13-01T00:00:00Z", "1969-12-31T23:59:59Z", "2106-02-07T06:28:16Z", "2106-02-07T06:28:15.999Z", "2024-05-01t12:34:56z", "2024-05-01 12:34:56Z", "2024-05-01T12:34:56.1234567890123Z", "2024-05-01T12:34:5x.1Z", "2024-05-01T12:34:56.1x2Z", "+02024-05-01T12:34:56Z"];
    for (let i = 0; i < 5_000; i++) {
      const fraction = rand(3) === 0 ? "" : `.${Array.from({ length: 1 + rand(12) }, () => rand(10)).join("")}`;
      samples.push(`${pad(1960 + rand(160), 4)}-${pad(rand(14), 2)}-${pad(rand(33), 2)}T${pad(rand(26), 2)}:${pad(rand(61), 2)}:${pad(rand(62), 2)}${fraction}Z`);
    }
    for (const s of samples) expect([s, eventTimeOf(s)]).toEqual([s, parsedTime(s)]);
    expect(samples.filter((s) => eventTimeOf(s) !== undefined).length).toBeGreaterThan(1_000);
  });

  test("the bytes written per entry are the codec's", () => {
    const out = new Uint8Array(EVENT_TIME_BYTES + 2);
    for (const t of [new EventTime(0, 0), new EventTime(1714566896, 123456789), new EventTime(0xffffffff, 999_999_999)]) {
      writeEventTime(t, out, 1);
      expect(out.subarray(1, 1 + EVENT_TIME_BYTES)).toEqual(forwardEncoder().encode(t));
    }
  });
});

/** Frames written by hand, as other in_forward clients send them: the receiver follows in_forward, not our sink. */
describe("the receiver reads every in_forward mode", () => {
  async function sendRaw(frames: Uint8Array[], acks: number): Promise<unknown[]> {
    const socket = connect({ host: "127.0.0.1", port: forward.port, ca: pki.fluentdCA.ca.certPem, cert: pki.fluentdClient.certPem, key: pki.fluentdClient.keyPem, servername: "localhost" });
    await new Promise<void>((resolve, reject) => socket.once("secureConnect", resolve).once("error", reject));
    const got: Buffer[] = [];
    socket.on("data", (d: Buffer) => got.push(d));
    for (const f of frames) socket.write(f);
    const { decodeMulti } = await import("@msgpack/msgpack");
    const decoded = () => [...decodeMulti(Buffer.concat(got))];
    await waitUntil(`${acks} acks arrived`, () => decoded().length >= acks, 5_000).finally(() => socket.destroy());
    return decoded();
  }

  test("Message, Forward, PackedForward and CompressedPackedForward, acked only with a chunk", async () => {
    const enc = forwardEncoder();
    const t = new EventTime(1_700_000_000, 5);
    const entry = (n: number) => enc.encode([t, { n }]);
    const acks = await sendRaw(
      [
        encode(["m.msg", 1_700_000_000, { n: 1 }, { chunk: "c1" }]),
        encode(["m.noack", 1_700_000_000, { n: 2 }]),
        enc.encode(["m.fwd", [[t, { n: 3 }], [t, null], [0, { n: 4 }]], { chunk: "c2" }]),
        encode(["m.packed", Buffer.concat([entry(5), entry(6)]), { chunk: "c3", size: 2 }]),
        encode(["m.gz", gzipSync(Buffer.concat([entry(7)])), { chunk: "c4", compressed: "gzip" }]),
        encode(["m.norecord", 1_700_000_000, null, { chunk: "never" }]),
      ],
      4,
    );
    expect(acks).toEqual([{ ack: "c1" }, { ack: "c2" }, { ack: "c3" }, { ack: "c4" }]);
    expect(forward.records("m.msg").map((r) => [r.record, r.eventTime])).toEqual([[{ n: 1 }, { seconds: 1_700_000_000, nanos: 0 }]]);
    expect(forward.recordCount("m.noack")).toBe(1);
    expect(forward.records("m.fwd").map((r) => r.record)).toEqual([{ n: 3 }, { n: 4 }]);
    // A zero time is "now", as in_forward's `time.to_i == 0` rule has it.
    expect(forward.records("m.fwd")[1]!.eventTime.seconds).toBeGreaterThan(1_700_000_000);
    expect(forward.records("m.packed").map((r) => r.record)).toEqual([{ n: 5 }, { n: 6 }]);
    expect(forward.records("m.gz").map((r) => [r.record, r.eventTime])).toEqual([[{ n: 7 }, { seconds: 1_700_000_000, nanos: 5 }]]);
    expect(forward.recordCount("m.norecord")).toBe(0);
  });

  test("a client without a certificate is refused (client_cert_auth)", async () => {
    const socket = connect({ host: "127.0.0.1", port: forward.port, ca: pki.fluentdCA.ca.certPem, servername: "localhost" });
    const outcome = await new Promise<string>((resolve) => {
      socket.once("error", () => resolve("error"));
      socket.once("close", () => resolve("closed"));
      socket.once("secureConnect", () => socket.write(encode(["x", 1, { a: 1 }, { chunk: "z" }])));
      socket.once("data", () => resolve("answered"));
    });
    socket.destroy();
    expect(outcome).not.toBe("answered");
  });
});
