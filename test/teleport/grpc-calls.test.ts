import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { Http2SessionManager } from "@connectrpc/connect-node";
import { constants, createServer, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from "node:http2";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { PingResponseSchema } from "../../src/gen/teleport/legacy/client/proto/authservice_pb.ts";
import { createGrpcCalls, READ_MAX_BYTES, resetError } from "../../src/teleport/grpc-calls.ts";
import { RAW_DECODERS, RawAuditLogService } from "../../src/teleport/raw-audit-log.ts";
import { AuthService } from "../../src/gen/teleport/legacy/client/proto/authservice_pb.ts";
import { RawEventsUnstructuredSchema } from "../../src/gen/teleport_event_handler/v1/raw_events_pb.ts";
import { waitUntil } from "../support/world.ts";
import { rejectionOf } from "../support/rejection.ts";

/**
 * The calls on raw HTTP/2 streams against a server that answers as a gRPC server may, well or
 * badly: each answer below is what gRPC-Go can send, and each must end the call with the code
 * connect's transport gave it, since the client's error handling keys on those codes.
 */

type Answer = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void;
let answer: Answer;
const seen: { headers: IncomingHttpHeaders; closedWith?: number }[] = [];
let server: Http2Server;
let session: Http2SessionManager;

const envelope = (bytes: Uint8Array, flags = 0) => {
  const out = new Uint8Array(5 + bytes.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, bytes.length);
  out.set(bytes, 5);
  return out;
};
const ping = toBinary(PingResponseSchema, create(PingResponseSchema, { ClusterName: "c1", ServerVersion: "17.1.0" }));
const GRPC = { ":status": 200, "content-type": "application/grpc" };
/** A well-formed answer: headers, the messages, then the status in trailers. */
const reply =
  (messages: Uint8Array[], status = "0", extra: Record<string, string> = {}): Answer =>
  (stream) => {
    stream.respond({ ...GRPC, ...extra }, { waitForTrailers: true });
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": status, ...(status === "0" ? {} : { "grpc-message": "denied%20here" }) }));
    for (const m of messages) stream.write(m);
    stream.end();
  };

beforeAll(async () => {
  server = createServer();
  server.on("stream", (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const record: (typeof seen)[number] = { headers };
    seen.push(record);
    stream.on("close", () => (record.closedWith = stream.rstCode));
    stream.on("error", () => undefined);
    stream.on("data", () => undefined);
    stream.on("end", () => answer(stream, headers));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  session = new Http2SessionManager(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});

afterAll(() => {
  session.abort();
  server.close();
});

const calls = () => createGrpcCalls({ session, header: { version: "17.0.0" }, decoders: RAW_DECODERS });
const pingCall = (signal?: AbortSignal, timeoutMs?: number) => calls().unary(AuthService.method.ping, signal, timeoutMs, undefined, {});

const failure = (p: Promise<unknown>) => rejectionOf(p, ConnectError);

describe("unary calls on raw HTTP/2 streams", () => {
  test("a well-formed answer: the message, and the request carries gRPC's and Teleport's headers", async () => {
    answer = reply([envelope(ping)]);
    const res = await pingCall(undefined, 5_000);
    expect(res.message.ClusterName).toBe("c1");
    const { headers } = seen.at(-1)!;
    expect(headers[":path"]).toBe("/proto.AuthService/Ping");
    expect(headers["content-type"]).toBe("application/grpc+proto");
    expect(headers.te).toBe("trailers");
    expect(headers.version).toBe("17.0.0");
    expect(headers["grpc-accept-encoding"]).toBe("gzip");
    expect(headers["grpc-timeout"]).toBe("5000m");
  });

  test("a page is read with the hand decoder, gzip included", async () => {
    const page = toBinary(RawEventsUnstructuredSchema, create(RawEventsUnstructuredSchema, { items: [{ type: "user.login", id: "e1" }], lastKey: "k" }));
    answer = reply([envelope(gzipSync(page), 1)], "0", { "grpc-encoding": "gzip" });
    const res = await calls().unary(RawAuditLogService.method.getUnstructuredEvents, undefined, undefined, undefined, {});
    expect(res.message.lastKey).toBe("k");
    expect(res.message.items.map((i) => i.id)).toEqual(["e1"]);
  });

  test("a page larger than an HTTP/2 frame, written in odd pieces, is read whole", async () => {
    const items = Array.from({ length: 3_000 }, (_, i) => ({ type: "user.login", id: `event-${i}`, unstructured: new Uint8Array(40).fill(i % 251) }));
    const page = envelope(toBinary(RawEventsUnstructuredSchema, create(RawEventsUnstructuredSchema, { items, lastKey: "end" })));
    expect(page.length).toBeGreaterThan(5 * 16_384);
    // The header split in two, then the body in pieces that never line up with a frame.
    const cuts = [3, 7, 1_000, 20_000, 50_001, page.length];
    answer = reply(cuts.map((end, i) => page.subarray(i === 0 ? 0 : cuts[i - 1], end)));
    const res = await calls().unary(RawAuditLogService.method.getUnstructuredEvents, undefined, undefined, undefined, {});
    expect(res.message.lastKey).toBe("end");
    expect(res.message.items.map((i) => i.id)).toEqual(items.map((i) => i.id));
    expect(res.message.items[2_999]!.unstructured).toEqual(items[2_999]!.unstructured);
  });

  test("an error status in the trailers, or in the headers alone, is that code with its message", async () => {
    answer = reply([], "7");
    const inTrailers = await failure(pingCall());
    expect(inTrailers.code).toBe(Code.PermissionDenied);
    expect(inTrailers.rawMessage).toBe("denied here");
    answer = (stream) => stream.respond({ ...GRPC, "grpc-status": "16", "grpc-message": "no%20cert" }, { endStream: true });
    const trailersOnly = await failure(pingCall());
    expect(trailersOnly.code).toBe(Code.Unauthenticated);
    expect(trailersOnly.rawMessage).toBe("no cert");
  });

  test("no message, two messages, half a message: protocol errors", async () => {
    answer = reply([]);
    expect((await failure(pingCall())).code).toBe(Code.Unimplemented);
    answer = reply([envelope(ping), envelope(ping)]);
    expect((await failure(pingCall())).code).toBe(Code.Unimplemented);
    answer = reply([envelope(ping).subarray(0, 8)]);
    expect((await failure(pingCall())).code).toBe(Code.InvalidArgument);
  });

  test("a message declared over the cap is refused before it is read", async () => {
    const head = new Uint8Array(5);
    new DataView(head.buffer).setUint32(1, READ_MAX_BYTES + 1);
    answer = reply([head]);
    const err = await failure(pingCall());
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(err.rawMessage).toContain("larger than configured readMaxBytes");
  });

  test("an HTTP status other than 200 maps as connect maps it; a reset stream fails the call", async () => {
    answer = (stream) => stream.respond({ ":status": 503 }, { endStream: true });
    expect((await failure(pingCall())).code).toBe(Code.Unavailable);
    // Bun's HTTP/2 client reports no reset code for a Bun server's RST_STREAM: the call must still end.
    answer = (stream) => stream.close(constants.NGHTTP2_REFUSED_STREAM);
    expect([Code.Unavailable, Code.Internal]).toContain((await failure(pingCall())).code);
  });

  test("reset codes map as connect-node maps them", () => {
    expect(resetError(constants.NGHTTP2_NO_ERROR)).toBeUndefined();
    expect(resetError(constants.NGHTTP2_STREAM_CLOSED)).toBeUndefined();
    expect(resetError(constants.NGHTTP2_REFUSED_STREAM)!.code).toBe(Code.Unavailable);
    expect(resetError(constants.NGHTTP2_CANCEL)!.code).toBe(Code.Canceled);
    expect(resetError(constants.NGHTTP2_ENHANCE_YOUR_CALM)!.code).toBe(Code.ResourceExhausted);
    expect(resetError(constants.NGHTTP2_INADEQUATE_SECURITY)!.code).toBe(Code.PermissionDenied);
    expect(resetError(constants.NGHTTP2_PROTOCOL_ERROR)!.code).toBe(Code.Internal);
  });

  test("an aborted call ends with Canceled and resets its stream with CANCEL", async () => {
    answer = () => undefined; // never answers
    const abort = new AbortController();
    const call = pingCall(abort.signal);
    const waiting = seen.length;
    await waitUntil("the server has the stream", () => seen.length > waiting);
    abort.abort();
    expect((await failure(call)).code).toBe(Code.Canceled);
    const record = seen.at(-1)!;
    await waitUntil("the server saw the stream close", () => record.closedWith !== undefined);
    expect(record.closedWith).toBe(constants.NGHTTP2_CANCEL);
  });

  test("a deadline that passes ends the call with DeadlineExceeded", async () => {
    answer = () => undefined;
    expect((await failure(pingCall(undefined, 50))).code).toBe(Code.DeadlineExceeded);
  });
});

describe("server streams on raw HTTP/2 streams", () => {
  const recording = () =>
    calls().stream(
      RawAuditLogService.method.streamUnstructuredSessionEvents,
      undefined,
      undefined,
      undefined,
      (async function* () {
        yield {};
      })(),
    );

  test("messages arrive one by one, and the trailers' status ends the stream", async () => {
    const event = (id: string) => envelope(toBinary(RawEventsUnstructuredSchema.fields[0]!.message!, create(RawEventsUnstructuredSchema.fields[0]!.message!, { id })));
    answer = reply([event("a"), event("b"), event("c")], "0");
    const res = await recording();
    const ids: string[] = [];
    for await (const m of res.message) ids.push((m as { id: string }).id);
    expect(ids).toEqual(["a", "b", "c"]);
    // Messages that share a write, and one cut across two writes, arrive whole and in order.
    const joined = new Uint8Array([...event("d"), ...event("e"), ...event("f")]);
    answer = reply([joined.subarray(0, 12), joined.subarray(12)], "0");
    const split: string[] = [];
    for await (const m of (await recording()).message) split.push((m as { id: string }).id);
    expect(split).toEqual(["d", "e", "f"]);
    answer = reply([event("a")], "5");
    const failing = await recording();
    const got: string[] = [];
    const err = await failure(
      (async () => {
        for await (const m of failing.message) got.push((m as { id: string }).id);
      })(),
    );
    expect(got).toEqual(["a"]);
    expect(err.code).toBe(Code.NotFound);
  });
});
