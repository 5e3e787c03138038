import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import http2 from "node:http2";
import { GetUnstructuredEventsRequestSchema } from "../../src/gen/teleport/auditlog/v1/auditlog_pb.ts";
import { loadCredentials } from "../../src/teleport/index.ts";
import { startFakeTeleport, type FakeTeleport } from "../../scripts/fakes/fake-teleport.ts";

/**
 * The fake Teleport serves GetUnstructuredEvents on a hot path of its own (grpc-fast-unary.ts).
 * Whatever a client sends, the bytes that come back must be those of the connect router, which
 * still serves the request whenever it carries a deadline: so each request goes both ways here
 * and the two answers are compared frame for frame.
 */

const START = new Date("2025-03-03T00:00:00Z");
const PATH = "/teleport.auditlog.v1.AuditLogService/GetUnstructuredEvents";
let fake: FakeTeleport;
let session: http2.ClientHttp2Session;

interface Answer {
  status: number | undefined;
  contentType: string | undefined;
  body: Buffer;
  trailers: Record<string, string | undefined>;
}

function frame(message: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

function call(body: Buffer, extra: http2.OutgoingHttpHeaders): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ":method": "POST", ":path": PATH, "content-type": "application/grpc", te: "trailers", ...extra });
    const answer: Answer = { status: undefined, contentType: undefined, body: Buffer.alloc(0), trailers: {} };
    const chunks: Buffer[] = [];
    req.on("response", (h) => {
      answer.status = h[":status"];
      answer.contentType = h["content-type"];
      // A trailers-only answer carries the status in the headers.
      if (h["grpc-status"] !== undefined) answer.trailers = { "grpc-status": String(h["grpc-status"]), "grpc-message": h["grpc-message"] as string | undefined };
    });
    req.on("trailers", (t) => (answer.trailers = { "grpc-status": String(t["grpc-status"]), "grpc-message": t["grpc-message"] as string | undefined }));
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve({ ...answer, body: Buffer.concat(chunks) }));
    req.on("error", reject);
    req.end(body);
  });
}

/** The same request on the hot path and (with a deadline) on the connect router. */
async function bothWays(body: Buffer, headers: http2.OutgoingHttpHeaders = { version: "17.0.0" }, reachesMethod = true): Promise<[Answer, Answer]> {
  const before = fake.calls.GetUnstructuredEvents ?? 0;
  const hotBefore = fake.hotPathCalls;
  const hot = await call(body, headers);
  expect(fake.hotPathCalls).toBe(hotBefore + 1);
  const routed = await call(body, { ...headers, "grpc-timeout": "30S" });
  expect(fake.hotPathCalls).toBe(hotBefore + 1);
  expect(fake.calls.GetUnstructuredEvents ?? 0).toBe(before + (reachesMethod ? 2 : 0));
  return [hot, routed];
}

const request = (fields: Partial<{ limit: number; startKey: string; order: number }>) =>
  frame(
    toBinary(
      GetUnstructuredEventsRequestSchema,
      create(GetUnstructuredEventsRequestSchema, {
        namespace: "default",
        startDate: timestampFromDate(START),
        endDate: timestampFromDate(new Date(START.getTime() + 3 * 86_400_000)),
        limit: 7,
        ...fields,
      }),
    ),
  );

beforeAll(async () => {
  fake = await startFakeTeleport({ events: 60, days: 3, start: START });
  const creds = loadCredentials({ identity: fake.identity.identityFile });
  session = http2.connect(fake.url, { key: creds.keyPem, cert: creds.certPem, ca: creds.caPems, servername: "teleport.cluster.local" });
});

afterAll(async () => {
  session.close();
  await fake.stop();
});

describe("the fake Teleport's hot path answers byte for byte as the connect router", () => {
  test("a page of events, then the next page from its key", async () => {
    const [hot, routed] = await bothWays(request({}));
    expect(hot).toEqual(routed);
    expect(hot).toMatchObject({ status: 200, contentType: "application/grpc+proto", trailers: { "grpc-status": "0" } });
    expect(hot.body.length).toBeGreaterThan(7 * 100);
    const [hot2, routed2] = await bothWays(request({ startKey: Buffer.from("v1|7").toString("base64url") }));
    expect(hot2).toEqual(routed2);
    expect(hot2.body).not.toEqual(hot.body);
  });

  test("errors: invalid arguments, a missing version header, an injected fault", async () => {
    for (const body of [request({ limit: 10_001 }), request({ order: 5 }), request({ startKey: "bm9wZQ" })]) {
      const [hot, routed] = await bothWays(body);
      expect(hot).toEqual(routed);
      expect(hot.trailers["grpc-status"]).toBe("3");
      expect(hot.trailers["grpc-message"]).toBeTruthy();
    }
    const [bare, bareRouted] = await bothWays(request({}), {});
    expect(bare).toEqual(bareRouted);
    expect(decodeURIComponent(bare.trailers["grpc-message"] ?? "")).toBe("missing the version metadata header");

    fake.setFailEvery(1);
    try {
      const [hot, routed] = await bothWays(request({}));
      expect(hot).toEqual(routed);
      expect(hot.trailers["grpc-status"]).toBe("14");
    } finally {
      fake.setFailEvery(0);
    }
  });

  test("malformed envelopes fail the same way, before reaching the method", async () => {
    const whole = request({});
    const compressed = Buffer.from(whole);
    compressed[0] = 1;
    for (const body of [whole.subarray(0, whole.length - 3), whole.subarray(0, 3), Buffer.alloc(0), Buffer.concat([whole, whole]), compressed]) {
      const [hot, routed] = await bothWays(body, undefined, false);
      expect(hot).toEqual(routed);
      expect(hot.trailers["grpc-status"]).not.toBe("0");
      expect(hot.body.length).toBe(0);
    }
  });
});
