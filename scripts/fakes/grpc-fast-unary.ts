import { Code, ConnectError } from "@connectrpc/connect";
import type http2 from "node:http2";

/**
 * A hot path for chosen unary gRPC methods of the fake Teleport, straight on node:http2 streams.
 *
 * At page size 20 the connect-node adapter (compat request/response objects, async-iterable
 * pipelines, header objects) cost the fake ~1.6 ms of CPU per GetUnstructuredEvents call, which
 * made the fake, not the handler, the bottleneck of the benchmark. The wire stays what connect-node
 * sends: HTTP 200, `content-type: application/grpc+proto`, one 5-byte length-prefixed message, then
 * trailers with `grpc-status` (and a percent-encoded `grpc-message` on errors). Anything unusual
 * (another HTTP method or content type, compression, a deadline) goes to the connect router, so the
 * rare cases keep connect-node's exact behaviour.
 */

export interface FastUnaryCall {
  headers: http2.IncomingHttpHeaders;
  session: http2.Http2Session | undefined;
}

/** Decodes the request, serves it and returns the encoded response message; throws ConnectError. */
export type FastUnaryHandler = (request: Uint8Array, call: FastUnaryCall) => Uint8Array | Promise<Uint8Array>;

/**
 * A server-streaming method served in one write: `serve` returns every response message already
 * framed (5-byte prefix each, back to back), e.g. a recording encoded once. `accept` is asked when
 * the request arrives; false leaves it to the router (e.g. while a mid-stream fault is armed).
 */
export interface FastStreamMethod {
  accept(): boolean;
  serve(request: Uint8Array, call: FastUnaryCall): Promise<Uint8Array>;
}

type StreamListener = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number, rawHeaders: string[]) => void;

const CONTENT_TYPE = "application/grpc+proto";
/** The content types connect-node accepts as binary gRPC; JSON goes to the router. */
const BINARY_GRPC = /^application\/grpc(?:\+proto)?$/i;

/** Taken for the fast path only when connect-node would treat the request in the plain way. */
function plain(headers: http2.IncomingHttpHeaders): boolean {
  const encoding = headers["grpc-encoding"];
  return (
    headers[":method"] === "POST" &&
    BINARY_GRPC.test(String(headers["content-type"] ?? "")) &&
    (encoding === undefined || encoding === "identity") &&
    headers["grpc-timeout"] === undefined
  );
}

/**
 * Installs the hot path in front of the server's existing `stream` listeners (the connect adapter's
 * compat layer, registered when the request handler was): requests for `handlers`' paths are served
 * here, every other stream goes on to those listeners unchanged.
 */
export function installFastUnary(
  server: http2.Http2SecureServer,
  handlers: Record<string, FastUnaryHandler>,
  streams: Record<string, FastStreamMethod> = {},
): { served: number; streamed: number } {
  const stats = { served: 0, streamed: 0 };
  const fallback = server.listeners("stream") as StreamListener[];
  server.removeAllListeners("stream");
  server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number, rawHeaders: string[]) => {
    const path = headers[":path"] ?? "";
    const handler = handlers[path];
    const streaming = streams[path];
    if (handler && plain(headers)) {
      stats.served++;
      serve(stream, headers, handler, false);
    } else if (streaming && plain(headers) && streaming.accept()) {
      stats.streamed++;
      serve(stream, headers, (request, call) => streaming.serve(request, call), true);
    } else for (const listener of fallback) listener.call(server, stream, headers, flags, rawHeaders);
  });
  return stats;
}

/** `framed`: the handler's answer is already a sequence of framed messages (a server stream). */
function serve(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, handler: FastUnaryHandler, framed: boolean): void {
  const chunks: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk));
  stream.on("error", () => {});
  stream.on("end", () => {
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    let answer: Uint8Array | Promise<Uint8Array>;
    try {
      answer = handler(unframe(body), { headers, session: stream.session });
    } catch (err) {
      reply(stream, undefined, err, framed);
      return;
    }
    if (answer instanceof Uint8Array) reply(stream, answer, undefined, framed);
    else answer.then((message) => reply(stream, message, undefined, framed), (err: unknown) => reply(stream, undefined, err, framed));
  });
}

/** The one message of a unary request: flag byte, 4-byte big-endian length, the bytes (connect-node's errors). */
function unframe(body: Buffer): Uint8Array {
  if (body.length === 0) throw new ConnectError("protocol error: missing input message for unary method", Code.Unimplemented);
  const length = body.length < 5 ? Infinity : body.readUInt32BE(1);
  if (body.length < 5 + length) throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  if (body.length > 5 + length) throw new ConnectError("protocol error: received extra input message for unary method", Code.Unimplemented);
  if ((body[0]! & 0b1) !== 0) throw new ConnectError("received compressed envelope, but do not know how to decompress", Code.Internal);
  return body.subarray(5);
}

function reply(stream: http2.ServerHttp2Stream, message: Uint8Array | undefined, err: unknown, framed: boolean): void {
  // A fault may have dropped the connection, or the client may have cancelled.
  if (stream.destroyed || stream.closed) return;
  const trailers: http2.OutgoingHttpHeaders = { "grpc-status": "0" };
  if (err !== undefined) {
    const ce = err instanceof ConnectError ? err : new ConnectError("internal error", Code.Internal);
    trailers["grpc-status"] = String(ce.code);
    trailers["grpc-message"] = encodeURIComponent(ce.rawMessage);
  }
  stream.respond({ ":status": 200, "content-type": CONTENT_TYPE }, { waitForTrailers: true });
  stream.once("wantTrailers", () => stream.sendTrailers(trailers));
  if (message === undefined) {
    stream.end();
    return;
  }
  if (framed) {
    stream.end(message);
    return;
  }
  const frame = Buffer.allocUnsafe(5 + message.length);
  frame[0] = 0;
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  stream.end(frame);
}
