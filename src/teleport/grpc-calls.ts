import { create, isMessage, type DescMessage, type DescMethodStreaming, type DescMethodUnary, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type StreamResponse, type Transport, type UnaryResponse } from "@connectrpc/connect";
import {
  type Compression,
  createDeadlineSignal,
  createLinkedAbortController,
  createMethodSerializationLookup,
  encodeEnvelope,
  getAbortSignalReason,
} from "@connectrpc/connect/protocol";
import { validateResponseWithCompression, validateTrailer } from "@connectrpc/connect/protocol-grpc";
import { compressionGzip, type Http2SessionManager } from "@connectrpc/connect-node";
import { constants as h2, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from "node:http2";

/**
 * gRPC calls straight on the HTTP/2 streams of connect-node's session manager (which keeps the
 * connection: TLS, pings, reconnects), without connect's call runners and HTTP client. Those build
 * a pipeline of down-levelled async generators per call and write the request through another:
 * a page of 20 events cost ~600 µs of CPU that way, ~280 µs here, and at Teleport's default page
 * size that was a quarter of the handler's CPU per event. Streams had a second reason: connect's
 * `runStreamingCall` (2.3.0) races every read against one promise that settles only when the call
 * ends, and each race leaves a reaction holding the message it resolved with, so a 100 MB
 * recording held ~140 MB of envelopes at its end.
 *
 * Same wire behaviour as connect's gRPC transport: binary protobuf, gzip accepted, the status from
 * the headers (trailers-only) or the trailers, deadlines as `grpc-timeout`, a cancelled call reset
 * with CANCEL, and the same ConnectError codes for HTTP/2 resets and socket errors.
 */

/**
 * The most one gRPC message from Teleport may hold, declared or after gzip (connect's default was
 * 4 GiB, and a 208 KB gzip bomb inflated to 200 MB). The anchor is gRPC-Go's default receive
 * limit of 4 MiB per message, what Go clients of Teleport get unless they raise it, and Teleport
 * pages its answers (SearchEvents stops near 1 MiB of events). Four times that leaves headroom
 * without letting one answer cost more than a few tens of MB. Decompression stops at the cap
 * (zlib's maxOutputLength) instead of inflating first and measuring after.
 */
export const READ_MAX_BYTES = 16 * 1024 * 1024;
const ACCEPT = [compressionGzip];
const COMPRESSED = 0b1;

export interface GrpcCallOptions {
  session: Http2SessionManager;
  /** Headers every call carries (Teleport's `version`). */
  header?: Record<string, string>;
  /** Decoders by output message type name, used instead of the runtime's fromBinary. */
  decoders?: ReadonlyMap<string, (bytes: Uint8Array) => unknown>;
}

/**
 * Splits gRPC's length-prefixed messages out of the body chunks, as connect's envelope decoder
 * does (same limits and errors), inside the one loop that reads the body. Chunks are kept as they
 * came and joined once, when a whole message is there: joining on every chunk copied a 500-event
 * page (~20 HTTP/2 frames) about ten times over.
 */
class Envelopes {
  private chunks: Uint8Array[] = [];
  private size = 0;

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** The next whole message, or undefined until more bytes arrive. */
  next(): { flags: number; data: Uint8Array } | undefined {
    if (this.size < 5) return undefined;
    const head = this.front(5);
    const length = ((head[1]! << 24) >>> 0) + (head[2]! << 16) + (head[3]! << 8) + head[4]!;
    if (length > READ_MAX_BYTES) throw new ConnectError(`message size ${length} is larger than configured readMaxBytes ${READ_MAX_BYTES}`, Code.ResourceExhausted);
    const end = 5 + length;
    if (this.size < end) return undefined;
    const buf = this.front(end);
    if (buf.length === end) this.chunks.shift();
    else this.chunks[0] = buf.subarray(end);
    this.size -= end;
    return { flags: buf[0]!, data: buf.subarray(5, end) };
  }

  get leftover(): number {
    return this.size;
  }

  /** The first chunk, made at least `n` bytes long by joining the chunks it takes (n <= size). */
  private front(n: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length >= n) return first;
    let taken = 0;
    let count = 0;
    while (taken < n) taken += this.chunks[count++]!.length;
    const joined = new Uint8Array(taken);
    let at = 0;
    for (let i = 0; i < count; i++) {
      joined.set(this.chunks[i]!, at);
      at += this.chunks[i]!.length;
    }
    this.chunks.splice(0, count, joined);
    return joined;
  }
}

/** What connect-node makes of an HTTP/2 reset: STREAM_CLOSED and NO_ERROR are not errors by themselves. */
export function resetError(rstCode: number | undefined): ConnectError | undefined {
  const code = ((): Code | undefined => {
    switch (rstCode) {
      case h2.NGHTTP2_REFUSED_STREAM:
        return Code.Unavailable;
      case h2.NGHTTP2_CANCEL:
        return Code.Canceled;
      case h2.NGHTTP2_ENHANCE_YOUR_CALM:
        return Code.ResourceExhausted;
      case h2.NGHTTP2_INADEQUATE_SECURITY:
      case h2.NGHTTP2_HTTP_1_1_REQUIRED:
        return Code.PermissionDenied;
      case h2.NGHTTP2_PROTOCOL_ERROR:
      case h2.NGHTTP2_INTERNAL_ERROR:
      case h2.NGHTTP2_FLOW_CONTROL_ERROR:
      case h2.NGHTTP2_SETTINGS_TIMEOUT:
      case h2.NGHTTP2_FRAME_SIZE_ERROR:
      case h2.NGHTTP2_COMPRESSION_ERROR:
      case h2.NGHTTP2_CONNECT_ERROR:
        return Code.Internal;
      default:
        return undefined;
    }
  })();
  return code === undefined ? undefined : new ConnectError(`http/2 stream closed with error code 0x${rstCode!.toString(16)}`, code);
}

/** Socket and stream errors as connect-node classifies them (node-error.ts). */
function nodeError(reason: unknown): ConnectError {
  if (reason instanceof ConnectError) return reason;
  const codes: string[] = [];
  for (let e: unknown = reason; e instanceof Error && codes.length < 8; e = e.cause) codes.push(String((e as NodeJS.ErrnoException).code ?? ""));
  let code = Code.Internal;
  if (codes.some((c) => c === "ERR_STREAM_WRITE_AFTER_END" || c === "ERR_STREAM_DESTROYED" || c === "ERR_HTTP2_INVALID_STREAM" || c === "ECONNRESET")) code = Code.Aborted;
  else if (codes.some((c) => c === "ETIMEDOUT" || c === "ENOTFOUND" || c === "EAI_AGAIN" || c === "ECONNREFUSED")) code = Code.Unavailable;
  const ce = ConnectError.from(reason, code);
  if (ce !== reason) ce.cause = reason;
  return ce;
}

function webHeaders(node: IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const [k, v] of Object.entries(node)) {
    if (k.startsWith(":") || v === undefined) continue;
    if (Array.isArray(v)) for (const e of v) out.append(k, e);
    else out.append(k, String(v));
  }
  return out;
}

/** What connect's gRPC transport sends (requestHeaderWithCompression), built straight as HTTP/2 headers. */
function requestHeaders(timeoutMs: number | undefined, callHeader: HeadersInit | undefined, fixed: Record<string, string>): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ...fixed };
  if (callHeader !== undefined) new Headers(callHeader).forEach((value, key) => (out[key] = value));
  out["content-type"] = "application/grpc+proto";
  out["user-agent"] ??= USER_AGENT;
  if (timeoutMs !== undefined) out["grpc-timeout"] = `${timeoutMs}m`;
  out.te = "trailers";
  out["grpc-accept-encoding"] = ACCEPT.map((c) => c.name).join(",");
  return out;
}

/** connect-es's, as its transport sent it (gRPC's own would be grpc-es/…). */
const USER_AGENT = "connect-es/2.3.0";

type Serialization = ReturnType<typeof createMethodSerializationLookup>;
/** Building one costs more than a small call's serializing (it prepares the JSON form too): once per method. */
const serializations = new WeakMap<object, Serialization>();
function serializationOf(method: Method<DescMessage, DescMessage>): Serialization {
  let s = serializations.get(method);
  if (!s) serializations.set(method, (s = createMethodSerializationLookup(method, undefined, undefined, { readMaxBytes: READ_MAX_BYTES, writeMaxBytes: READ_MAX_BYTES })));
  return s;
}

interface Opened<O extends DescMessage> {
  header: Headers;
  trailer: Headers;
  /** The messages as they arrive, read with back-pressure (streams). */
  messages(): AsyncGenerator<MessageShape<O>>;
  /** The one message of a unary call, read by events: an async iterator per call cost more than the read. */
  single(): Promise<MessageShape<O>>;
}

type Method<I extends DescMessage, O extends DescMessage> = DescMethodUnary<I, O> | DescMethodStreaming<I, O>;

export function createGrpcCalls(opts: GrpcCallOptions): Pick<Transport, "unary" | "stream"> {
  const fixedHeader = Object.fromEntries(Object.entries(opts.header ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  async function open<I extends DescMessage, O extends DescMessage>(
    method: Method<I, O>,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    message: MessageInitShape<I>,
  ): Promise<Opened<O>> {
    // As connect's transport: no timeout, or one not above zero, means no deadline.
    if (timeoutMs !== undefined && timeoutMs <= 0) timeoutMs = undefined;
    const deadline = createDeadlineSignal(timeoutMs);
    const call = createLinkedAbortController(signal, deadline.signal);
    let stream: ClientHttp2Stream | undefined;
    let streamError: Error | undefined;
    /** Why a stream closed before it should have: its reset code, else its error, else that it closed. */
    const closedEarly = (s: ClientHttp2Stream, when: string): ConnectError =>
      resetError(s.rstCode) ??
      (streamError ? nodeError(streamError) : new ConnectError(`http/2 stream closed with error code 0x${(s.rstCode ?? 0).toString(16)} ${when}`, Code.Internal));
    /** Ends the call; a stream still open is reset with CANCEL, as an early `break` should. */
    const end = () => {
      deadline.cleanup();
      call.abort();
    };
    /**
     * The caller's or the deadline's reason when the call was aborted; a failure of ours (a status,
     * a cap) as it is, since leaving the read resets the stream (CANCEL) on the way out; otherwise
     * the reset the server sent, or the socket error.
     */
    const failure = (err: unknown) => {
      const e = call.signal.aborted
        ? ConnectError.from(getAbortSignalReason(call.signal), Code.Canceled)
        : err instanceof ConnectError
          ? err
          : (resetError(stream?.rstCode) ?? nodeError(err));
      end();
      return e;
    };
    call.signal.addEventListener(
      "abort",
      () => {
        if (stream && !stream.destroyed) {
          stream.close(h2.NGHTTP2_CANCEL);
          // A stream closed with data unread is not destroyed until it is read: do it now.
          stream.destroy();
        }
      },
      { once: true },
    );

    const serialization = serializationOf(method as Method<DescMessage, DescMessage>);
    const trailer = new Headers();
    let responseHeader: Headers;
    let foundStatus: boolean;
    let compression: Compression | undefined;
    try {
      const input = isMessage(message, method.input) ? message : create(method.input, message);
      const body = encodeEnvelope(0, serialization.getI(true).serialize(input as MessageShape<I>));
      if (call.signal.aborted) throw getAbortSignalReason(call.signal);
      const path = `/${method.parent.typeName}/${method.name}`;
      const opened = await opts.session.request("POST", path, requestHeaders(timeoutMs, header, fixedHeader), {});
      stream = opened;
      if (call.signal.aborted) throw getAbortSignalReason(call.signal);
      opened.on("trailers", (t: IncomingHttpHeaders) => webHeaders(t).forEach((v, k) => trailer.append(k, v)));
      // A stream error comes before its 'close', which knows the reset code: the calls end on
      // 'close' and use the error only when no code explains it. (Unheard, an 'error' would throw.)
      opened.on("error", (err) => (streamError ??= err));
      let responded = false;
      const response = new Promise<IncomingHttpHeaders>((resolve, reject) => {
        opened.once("response", (headers: IncomingHttpHeaders) => {
          responded = true;
          resolve(headers);
        });
        opened.once("close", () => {
          if (!responded) reject(closedEarly(opened, "before the response was received"));
        });
      });
      opened.end(body);
      const headers = await response;
      responseHeader = webHeaders(headers);
      const validated = validateResponseWithCompression(ACCEPT, Number(headers[":status"]), responseHeader);
      if (validated.headerError) throw validated.headerError;
      foundStatus = validated.foundStatus;
      compression = validated.compression ?? undefined;
    } catch (err) {
      throw failure(err);
    }

    const h2stream = stream;
    const parse = (opts.decoders?.get(method.output.typeName) ?? ((bytes: Uint8Array) => serialization.getO(true).parse(bytes))) as (bytes: Uint8Array) => MessageShape<O>;
    const decode = async (env: { flags: number; data: Uint8Array }) => {
      let { data } = env;
      if (env.flags & COMPRESSED) {
        if (!compression) throw new ConnectError("received compressed envelope, but do not know how to decompress", Code.Internal);
        data = await compression.decompress(data, READ_MAX_BYTES);
      }
      return parse(data);
    };
    /** After the body: a reset, a stray byte or an error status in the trailers fails the call. */
    const finish = (envelopes: Envelopes) => {
      if (envelopes.leftover > 0) throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
      const reset = resetError(h2stream.rstCode);
      if (reset) throw reset;
      if (!foundStatus) validateTrailer(trailer, responseHeader);
    };
    async function* messages(): AsyncGenerator<MessageShape<O>> {
      try {
        const envelopes = new Envelopes();
        for await (const chunk of h2stream) {
          opts.session.notifyResponseByteRead(h2stream);
          envelopes.push(chunk as Uint8Array);
          for (let env = envelopes.next(); env; env = envelopes.next()) {
            // One network chunk can hold several messages: none is delivered once the call is aborted.
            if (call.signal.aborted) throw getAbortSignalReason(call.signal);
            // Compressed envelopes inflate asynchronously; the others need no turn of the event loop.
            yield env.flags & COMPRESSED ? await decode(env) : parse(env.data);
          }
        }
        finish(envelopes);
      } catch (err) {
        throw failure(err);
      } finally {
        end();
      }
    }
    async function single(): Promise<MessageShape<O>> {
      try {
        const envelopes = new Envelopes();
        const received = await new Promise<{ flags: number; data: Uint8Array }[]>((resolve, reject) => {
          const got: { flags: number; data: Uint8Array }[] = [];
          let ended = false;
          h2stream.on("data", (chunk: Uint8Array) => {
            try {
              envelopes.push(chunk);
              // Envelopes refuses a message over the cap before it is buffered; a second one is a protocol error.
              for (let env = envelopes.next(); env; env = envelopes.next()) got.push(env);
              if (got.length > 1) throw new ConnectError("protocol error: received extra output message for unary method", Code.Unimplemented);
            } catch (err) {
              reject(err);
              h2stream.destroy();
            }
          });
          h2stream.once("end", () => {
            ended = true;
            resolve(got);
          });
          h2stream.once("close", () => {
            if (!ended) reject(closedEarly(h2stream, "before the response ended"));
          });
        });
        opts.session.notifyResponseByteRead(h2stream);
        finish(envelopes);
        const first = received[0];
        if (first === undefined) throw new ConnectError("protocol error: missing output message for unary method", trailer.has("grpc-status") ? Code.Unimplemented : Code.Unknown);
        return await decode(first);
      } catch (err) {
        throw failure(err);
      } finally {
        end();
      }
    }
    return { header: responseHeader, trailer, messages, single };
  }

  return {
    async unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      message: MessageInitShape<I>,
    ): Promise<UnaryResponse<I, O>> {
      const call = await open(method, signal, timeoutMs, header, message);
      const output = await call.single();
      return { stream: false, service: method.parent, method, header: call.header, trailer: call.trailer, message: output };
    },

    async stream<I extends DescMessage, O extends DescMessage>(
      method: DescMethodStreaming<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      input: AsyncIterable<MessageInitShape<I>>,
    ): Promise<StreamResponse<I, O>> {
      let first: MessageInitShape<I> | undefined;
      for await (const m of input) {
        first = m;
        break;
      }
      if (first === undefined) throw new ConnectError("a server-streaming call needs one request message", Code.Internal);
      const call = await open(method, signal, timeoutMs, header, first);
      return { stream: true, service: method.parent, method, header: call.header, trailer: call.trailer, message: call.messages() };
    },
  };
}
