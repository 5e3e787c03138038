import type { DescMessage, DescMethodServerStreaming, JsonObject, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { RawEventUnstructured } from "../gen/teleport_event_handler/v1/raw_events_pb.ts";
import { AuthService } from "../gen/teleport/legacy/client/proto/authservice_pb.ts";
import { health } from "../observability/health.ts";
import { errorKinds } from "../observability/metrics.ts";
import { RawAuditLogService } from "./raw-audit-log.ts";
import { explainTeleportFailure, type ConnectionContext } from "./explain.ts";
import { READ_MAX_BYTES } from "./grpc-calls.ts";
import { decodeStruct } from "./struct-json.ts";
import { type PackedStruct, structToMsgpack } from "./struct-msgpack.ts";
import { type DepthLimit, MAX_STRUCT_DEPTH, mayNestBeyond, StructTooDeepError, structDepth } from "./struct-wire.ts";
import {
  TeleportError,
  type AuditEvent,
  type ClusterInfo,
  type ExportedEvent,
  type LockRequest,
  type SearchPage,
  type SearchQuery,
  type TeleportErrorKind,
} from "./types.ts";

/** `types.EventOrderAscending`: Teleport casts this number, so 0 means ascending on the wire. */
const ORDER_ASCENDING_ON_WIRE = 0;

const NETWORK_FAILURE = /ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|socket hang up|GOAWAY|session closed|stream closed|closed before|premature|aborted/i;

function kindOf(err: ConnectError, callerAborted: boolean): TeleportErrorKind {
  switch (err.code) {
    case Code.NotFound:
      return "not-found";
    case Code.Unimplemented:
      return "unimplemented";
    case Code.PermissionDenied:
    case Code.Unauthenticated:
      return "permission-denied";
    case Code.InvalidArgument:
    case Code.OutOfRange:
      return "invalid";
    case Code.Unavailable:
    case Code.DeadlineExceeded:
    case Code.Aborted:
    case Code.ResourceExhausted:
      return "transient";
    case Code.Canceled:
      return callerAborted ? "other" : "transient";
    case Code.Internal:
    case Code.Unknown:
      return NETWORK_FAILURE.test(err.rawMessage) ? "transient" : "other";
    default:
      return "other";
  }
}

/** Folds any failure of a call into a TeleportError the export jobs can act on. */
function toTeleportError(err: unknown, signal?: AbortSignal, context?: ConnectionContext): TeleportError {
  if (err instanceof TeleportError) return err;
  const ce = ConnectError.from(err);
  if (ce.code === Code.ResourceExhausted && /readMaxBytes/.test(ce.rawMessage)) {
    // Retried like any overload, but said plainly: it will not pass until Teleport sends less.
    const cap = `${READ_MAX_BYTES / 1024 / 1024} MiB`;
    return new TeleportError("transient", `teleport: refused a message from Teleport larger than ${cap}, the cap on one gRPC message (${ce.rawMessage})`, ce.code);
  }
  const raw = ce.rawMessage || Code[ce.code];
  const explained = context ? explainTeleportFailure(raw, context) : undefined;
  return new TeleportError(kindOf(ce, signal?.aborted ?? false), `teleport: ${explained ?? raw}`, ce.code);
}

/** Expected answers (the engine probe, a recording not uploaded yet) are not failures. */
const ANSWERS: ReadonlySet<TeleportErrorKind> = new Set(["unimplemented", "not-found"]);

/** Readiness and the error counter, once per call or stream (never per event). */
function observed(err: unknown, signal?: AbortSignal, context?: ConnectionContext): TeleportError {
  const e = toTeleportError(err, signal, context);
  if (signal?.aborted) return e;
  if (ANSWERS.has(e.kind)) {
    health.markTeleportOk();
  } else {
    errorKinds.teleport.inc();
    health.markTeleportFailed(e.message);
  }
  return e;
}

/**
 * One event from the wire, its payload decoded when first read. The type and index come with the
 * envelope, so what is skipped by type (print and desktop.recording in recordings, filtered audit
 * types) is never turned into JSON: in a print-heavy recording that was most of the handler's CPU.
 *
 * An event that cannot be read safely is `invalid` (with the reason), so that it alone is
 * dead-lettered, instead of failing (and, on every restart, re-failing) its whole page. The index
 * is checked here, at once; the payload's depth when `invalid` (or the payload) is first read, so
 * the jobs ask only for events they export, and a skipped event is never even walked.
 */
class LazyEvent implements AuditEvent {
  readonly id: string;
  readonly type: string;
  readonly time: Date;
  readonly index: number;
  private payload: Uint8Array | undefined;
  private decoded: JsonObject | undefined;
  private problem: string | undefined;
  /** How deeply the payload nests, when `checked` had to walk it (only a payload long enough to nest past the limit). */
  private levels: number | undefined;
  private depthChecked = false;

  constructor(item: RawEventUnstructured) {
    this.id = item.id;
    this.type = item.type;
    this.time = item.time ? timestampDate(item.time) : new Date(0);
    // Recording indexes are checkpoints: one that a double cannot hold exactly would resume wrongly.
    if (item.index > MAX_INDEX || item.index < 0n) {
      this.index = -1;
      this.problem = `its index ${item.index} is outside 0..2^53-1`;
      this.decoded = {};
    } else {
      this.index = Number(item.index);
      this.payload = item.unstructured;
    }
  }

  get json(): JsonObject {
    if (this.decoded === undefined) {
      this.checked();
      const bytes = this.payload!;
      this.decoded = this.problem !== undefined || bytes.length === 0 ? {} : decodeStruct(bytes, this.levels);
      // The bytes are a view of the response page: once the object stands for them, holding both
      // kept pages alive (--batch 500: +9 MB peak RSS).
      this.payload = undefined;
    }
    return this.decoded;
  }

  /**
   * Why the event cannot be exported (its `json` is then empty). Checked by walking the payload,
   * not by decoding it: a sink that writes msgpack never needs the object.
   */
  get invalid(): string | undefined {
    this.checked();
    return this.problem;
  }

  /**
   * Undefined once `json` was read (the bytes are gone then), and for an unreadable event (never
   * sent): the sink encodes the object instead.
   */
  msgpack(limit: DepthLimit, headroom = 0): PackedStruct | undefined {
    this.checked();
    return this.problem !== undefined || this.payload === undefined ? undefined : structToMsgpack(this.payload, limit, headroom);
  }

  private checked(): void {
    if (this.depthChecked) return;
    this.depthChecked = true;
    try {
      if (this.payload !== undefined && mayNestBeyond(this.payload, MAX_STRUCT_DEPTH)) this.levels = structDepth(this.payload);
    } catch (err) {
      if (!(err instanceof StructTooDeepError)) throw err;
      this.problem = err.message;
    }
  }
}

const toAuditEvent = (item: RawEventUnstructured): AuditEvent => new LazyEvent(item);

const MAX_INDEX = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * The key is ready as soon as the response is; the payloads are decoded when first read. A reader
 * of chained pages can so send the next request before paying for this page's events.
 */
function lazyPage(items: RawEventUnstructured[], nextKey: string): SearchPage {
  let events: AuditEvent[] | undefined;
  let bytes = 0;
  for (const item of items) bytes += item.unstructured.length;
  return {
    nextKey,
    bytes,
    get events() {
      return (events ??= items.map(toAuditEvent));
    },
  };
}

async function* mapped<T, R>(source: () => AsyncIterable<T>, fn: (item: T) => R, signal?: AbortSignal, context?: ConnectionContext): AsyncIterable<R> {
  try {
    for await (const item of source()) yield fn(item);
  } catch (err) {
    throw observed(err, signal, context);
  }
  health.markTeleportOk();
}

async function call<T>(fn: () => Promise<T>, signal?: AbortSignal, context?: ConnectionContext): Promise<T> {
  try {
    const result = await fn();
    health.markTeleportOk();
    return result;
  } catch (err) {
    throw observed(err, signal, context);
  }
}

/** The typed calls over a transport; no connection or credential handling here. */
export class TeleportClient {
  /** Event payloads are read through the raw views (see raw-audit-log.ts). */
  private readonly audit: Client<RawAuditLogService>;
  private readonly auth: Client<typeof AuthService>;

  /** `context` lets connection failures name the setting to check. */
  constructor(
    private readonly transport: Transport,
    private readonly context?: ConnectionContext,
  ) {
    this.audit = createClient(RawAuditLogService, transport);
    this.auth = createClient(AuthService, transport);
  }

  ping(signal?: AbortSignal): Promise<ClusterInfo> {
    return call(async () => {
      const res = await this.auth.ping({}, { signal });
      return { clusterName: res.ClusterName, serverVersion: res.ServerVersion };
    }, signal, this.context);
  }

  searchEvents(q: SearchQuery, signal?: AbortSignal): Promise<SearchPage> {
    return call(async () => {
      const res = await this.audit.getUnstructuredEvents(
        {
          namespace: "default",
          startDate: timestampFromDate(q.from),
          endDate: timestampFromDate(q.to),
          eventTypes: q.types,
          limit: q.limit,
          startKey: q.startKey,
          order: ORDER_ASCENDING_ON_WIRE,
        },
        { signal },
      );
      return lazyPage(res.items, res.lastKey);
    }, signal, this.context);
  }

  /**
   * A server stream straight from the transport. connect's promise client wraps every message in
   * down-levelled async generators, and a recording is thousands of messages.
   */
  private serverStream<I extends DescMessage, O extends DescMessage>(
    method: DescMethodServerStreaming<I, O>,
    request: MessageInitShape<I>,
    signal?: AbortSignal,
  ): AsyncIterable<MessageShape<O>> {
    const { transport } = this;
    return {
      async *[Symbol.asyncIterator]() {
        const res = await transport.stream(method, signal, undefined, undefined, (async function* () {
          yield request;
        })());
        yield* res.message;
      },
    };
  }

  eventExportChunks(date: Date, signal?: AbortSignal): AsyncIterable<string> {
    return mapped(() => this.serverStream(RawAuditLogService.method.getEventExportChunks, { date: timestampFromDate(date) }, signal), (c) => c.chunk, signal, this.context);
  }

  exportEvents(q: { date: Date; chunk: string; cursor: string }, signal?: AbortSignal): AsyncIterable<ExportedEvent> {
    return mapped(
      () => this.serverStream(RawAuditLogService.method.exportUnstructuredEvents, { date: timestampFromDate(q.date), chunk: q.chunk, cursor: q.cursor }, signal),
      (item): ExportedEvent => {
        if (!item.event) throw new TeleportError("other", "teleport: export stream item without an event");
        return { event: toAuditEvent(item.event), cursor: item.cursor };
      },
      signal,
      this.context,
    );
  }

  sessionEvents(sessionId: string, startIndex: number, signal?: AbortSignal): AsyncIterable<AuditEvent> {
    return mapped(() => this.serverStream(RawAuditLogService.method.streamUnstructuredSessionEvents, { sessionId, startIndex }, signal), toAuditEvent, signal, this.context);
  }

  upsertLock(lock: LockRequest, signal?: AbortSignal): Promise<void> {
    return call(async () => {
      await this.auth.upsertLock(
        {
          Kind: "lock",
          Version: "v2",
          Metadata: { Name: lock.name },
          Spec: {
            Target: { User: lock.user, Login: lock.login },
            Message: lock.message,
            Expires: lock.expires ? timestampFromDate(lock.expires) : undefined,
          },
        },
        { signal },
      );
    }, signal, this.context);
  }
}
