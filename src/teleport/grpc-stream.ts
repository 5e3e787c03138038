import { create, isMessage, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type StreamResponse, type Transport } from "@connectrpc/connect";
import {
  createDeadlineSignal,
  createLinkedAbortController,
  createMethodSerializationLookup,
  createMethodUrl,
  encodeEnvelope,
  getAbortSignalReason,
  type UniversalClientFn,
} from "@connectrpc/connect/protocol";
import { requestHeaderWithCompression, validateResponseWithCompression, validateTrailer } from "@connectrpc/connect/protocol-grpc";
import { compressionGzip } from "@connectrpc/connect-node";

/**
 * Server-streaming gRPC calls without connect's `runStreamingCall`, which (in 2.3.0) races every
 * read against one promise that settles only when the call ends: each race leaves a reaction on
 * that promise, and the reaction keeps the message it resolved with. Every message of a stream thus
 * stayed in memory until the stream ended, and a 100 MB recording held ~140 MB of envelopes at its
 * end (heap snapshot: 1,500 `SlimPromiseReaction`s chained on the call's `aborted` promise, each
 * holding one decoded message). Here a read is only ever awaited once, and cancellation reaches it
 * through the HTTP client, which aborts the HTTP/2 stream when the call's signal fires.
 *
 * Same wire behaviour as connect's gRPC transport: binary protobuf, gzip accepted, status from the
 * headers (trailers-only) or the trailers. Server-streaming only: Teleport's event APIs need
 * nothing else, and unary calls have no such race.
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

export interface GrpcStreamOptions {
  baseUrl: string;
  httpClient: UniversalClientFn;
  /** Headers every call carries (Teleport's `version`). */
  header?: Record<string, string>;
  /** Decoders by output message type name, used instead of the runtime's fromBinary. */
  decoders?: ReadonlyMap<string, (bytes: Uint8Array) => unknown>;
}

const COMPRESSED = 0b1;

/**
 * Splits gRPC's length-prefixed messages out of the body chunks, as connect's envelope decoder
 * does (same limits and errors). It runs inside the one loop that reads the body: connect's
 * three-stage pipeline of down-levelled async generators cost more per message than decoding
 * a skipped print event.
 */
class Envelopes {
  private buf: Uint8Array = new Uint8Array(0);

  push(chunk: Uint8Array): void {
    if (this.buf.length === 0) {
      this.buf = chunk;
      return;
    }
    const joined = new Uint8Array(this.buf.length + chunk.length);
    joined.set(this.buf);
    joined.set(chunk, this.buf.length);
    this.buf = joined;
  }

  /** The next whole message, or undefined until more bytes arrive. */
  next(): { flags: number; data: Uint8Array } | undefined {
    const { buf } = this;
    if (buf.length < 5) return undefined;
    const length = ((buf[1]! << 24) >>> 0) + (buf[2]! << 16) + (buf[3]! << 8) + buf[4]!;
    if (length > READ_MAX_BYTES) throw new ConnectError(`message size ${length} is larger than configured readMaxBytes ${READ_MAX_BYTES}`, Code.ResourceExhausted);
    if (buf.length < 5 + length) return undefined;
    this.buf = buf.subarray(5 + length);
    return { flags: buf[0]!, data: buf.subarray(5, 5 + length) };
  }

  get leftover(): number {
    return this.buf.length;
  }
}

async function firstOf<T>(input: AsyncIterable<T>): Promise<T> {
  for await (const item of input) return item;
  throw new ConnectError("a server-streaming call needs one request message", Code.Internal);
}

export function createServerStream(opts: GrpcStreamOptions): Transport["stream"] {
  return async function stream<I extends DescMessage, O extends DescMessage>(
    method: Parameters<Transport["stream"]>[0] & { input: I; output: O },
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: AsyncIterable<MessageInitShape<I>>,
  ): Promise<StreamResponse<I, O>> {
    const deadline = createDeadlineSignal(timeoutMs);
    const call = createLinkedAbortController(signal, deadline.signal);
    /** Ends the call; on a stream still open this resets it (CANCEL), as an early `break` should. */
    const end = () => {
      deadline.cleanup();
      call.abort();
    };
    /** The caller's or the deadline's reason when the call was aborted; the failure itself otherwise. */
    const failure = (err: unknown) => {
      const e = call.signal.aborted ? ConnectError.from(getAbortSignalReason(call.signal), Code.Canceled) : ConnectError.from(err);
      end();
      return e;
    };

    const serialization = createMethodSerializationLookup(method, undefined, undefined, { readMaxBytes: READ_MAX_BYTES, writeMaxBytes: READ_MAX_BYTES });
    const requestHeader = requestHeaderWithCompression(true, timeoutMs, header, ACCEPT, null);
    for (const [name, value] of Object.entries(opts.header ?? {})) requestHeader.set(name, value);
    let res: Awaited<ReturnType<UniversalClientFn>>;
    let foundStatus: boolean;
    let compression: ReturnType<typeof validateResponseWithCompression>["compression"];
    try {
      const init = await firstOf(input);
      const message = isMessage(init, method.input) ? init : create(method.input, init);
      const body = encodeEnvelope(0, serialization.getI(true).serialize(message as MessageShape<I>));
      res = await opts.httpClient({
        url: createMethodUrl(opts.baseUrl, method),
        method: "POST",
        header: requestHeader,
        signal: call.signal,
        body: (async function* () {
          yield body;
        })(),
      });
      const validated = validateResponseWithCompression(ACCEPT, res.status, res.header);
      if (validated.headerError) throw validated.headerError;
      foundStatus = validated.foundStatus;
      compression = validated.compression;
    } catch (err) {
      throw failure(err);
    }

    const { header: responseHeader, trailer, body } = res;
    const parse = (opts.decoders?.get(method.output.typeName) ?? ((bytes: Uint8Array) => serialization.getO(true).parse(bytes))) as (
      bytes: Uint8Array,
    ) => MessageShape<O>;
    async function* messages(): AsyncGenerator<MessageShape<O>> {
      try {
        const envelopes = new Envelopes();
        for await (const chunk of body) {
          envelopes.push(chunk);
          for (let env = envelopes.next(); env; env = envelopes.next()) {
            // One network chunk can hold several messages: none is delivered once the call is aborted.
            if (call.signal.aborted) throw getAbortSignalReason(call.signal);
            let { data } = env;
            if (env.flags & COMPRESSED) {
              if (!compression) throw new ConnectError("received compressed envelope, but do not know how to decompress", Code.Internal);
              data = await compression.decompress(data, READ_MAX_BYTES);
            }
            yield parse(data);
          }
        }
        if (envelopes.leftover > 0) throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
        if (!foundStatus) validateTrailer(trailer, responseHeader);
      } catch (err) {
        throw failure(err);
      } finally {
        end();
      }
    }
    return { stream: true, service: method.parent, method, header: responseHeader, trailer, message: messages() } as StreamResponse<I, O>;
  };
}
