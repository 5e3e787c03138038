import { Code, ConnectError, createContextKey, createContextValues, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { fromBinary } from "@bufbuild/protobuf";
import {
  GetUnstructuredEventsRequestSchema,
  StreamUnstructuredSessionEventsRequestSchema,
  type GetUnstructuredEventsRequest,
} from "../../src/gen/teleport/auditlog/v1/auditlog_pb.ts";
import type { RawEventUnstructured } from "../../src/gen/teleport_event_handler/v1/raw_events_pb.ts";
import { RawAuditLogService } from "../../src/teleport/raw-audit-log.ts";
import { AuthService } from "../../src/gen/teleport/legacy/client/proto/authservice_pb.ts";
import type { LockV2 } from "../../src/gen/teleport/legacy/types/types_pb.ts";
import type { JsonObject } from "@bufbuild/protobuf";
import { FakeEventLog, type AppendedEvent, type EventLogOptions, type FakeEvent } from "./fake-events.ts";
import { writeIdentity, type WrittenIdentity } from "./identity.ts";
import { createTestPki, type TestPki } from "./pki.ts";
import { installFastUnary } from "./grpc-fast-unary.ts";
import { encodeEventsPage, encodeRawEvent, encodeStruct } from "./struct-encode.ts";

/**
 * A fake Teleport Auth server for tests, demos and benchmarks: the real gRPC method paths over
 * mutual TLS, paging and export semantics as Teleport's backends implement them (reference Part C),
 * deterministic events, session recordings and fault injection. One implementation, used
 * in-process by tests and as a process by scripts/fake-teleport.ts.
 */

export interface FakeTeleportOptions extends EventLogOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Loopback address to listen on: 127.0.0.1 (default) or ::1. */
  host?: "127.0.0.1" | "::1";
  /** Serve GetEventExportChunks/ExportUnstructuredEvents; otherwise UNIMPLEMENTED (non-Athena backends). */
  bulk?: boolean;
  /** Events per bulk-export chunk. */
  chunkSize?: number;
  /** Answer UNAVAILABLE on every Nth call (counting all calls). */
  failEvery?: number;
  /** Delay before every answer. */
  latencyMs?: number;
  /** Drop the HTTP/2 connection after this many items of every server stream. */
  dropStreamsAfter?: number;
  /** Live appends: events per second (0 = none). */
  appendRate?: number;
  serverVersion?: string;
  /** Refuse UpsertLock with PERMISSION_DENIED, as Teleport does when the role lacks lock create/update. */
  denyLocks?: boolean;
  /** Reuse a PKI (e.g. to share it with a fake Fluentd); created otherwise. */
  pki?: TestPki;
  /** Where the identity files go; the PKI directory by default. */
  outDir?: string;
  /**
   * Encodes every recording once at start (benchmarks): streams are then served in one write, so
   * thousands of print events cost the fake next to nothing while the handler is measured. The
   * large recording is left out (it is generated while streaming, to keep the fake small).
   */
  warmRecordings?: boolean;
  /**
   * Encodes the log's events (up to the cache's size) once at start (benchmarks): otherwise the
   * first run against this fake pays for the encoding, on the same two cores as the handler, and
   * a side-by-side comparison favours whichever build runs second.
   */
  warmEvents?: boolean;
}

/** An accepted UpsertLock, with Kind and Version as the client sent them (Teleport would force them). */
export interface RecordedLock {
  name: string;
  kind: string;
  version: string;
  target: { user: string; login: string; role: string };
  message: string;
  expires?: Date;
}

export interface FakeTeleport {
  port: number;
  /** `127.0.0.1:<port>` (or `[::1]:<port>`), what teleport-addr takes. */
  addr: string;
  url: string;
  pki: TestPki;
  clusterName: string;
  /** Identity file (tctl auth sign --format=file layout) and the cert/key/CA triplet. */
  identity: WrittenIdentity;
  log: FakeEventLog;
  locks: RecordedLock[];
  /** Calls per method name, including rejected ones. */
  calls: Record<string, number>;
  /** Requests the hot path served: GetUnstructuredEvents, and warmed recordings (the rest went through the connect router). */
  readonly hotPathCalls: number;
  /** Every admitted StreamUnstructuredSessionEvents request, in call order. */
  sessionStreams: { sessionId: string; startIndex: number }[];
  /** ALPN protocol lists offered by clients, in connection order. */
  alpnOffers: string[][];
  /** SNI names seen, in connection order. */
  serverNames: string[];
  /** The per-stream receive window (SETTINGS_INITIAL_WINDOW_SIZE) each client connection announced. */
  clientStreamWindows: number[];
  /** Client certificate CN of every admitted call, in call order. */
  peers: string[];
  appendEvents(n: number, at?: Date): void;
  /** Appends one event of the test's choosing (e.g. `failedLoginFields`); returns its id. */
  appendEvent(event: AppendedEvent): string;
  /** The next server stream drops its connection after `items` items. */
  dropNextStreamAfter(items: number): void;
  /** Cuts every open client connection now (an Auth restart); returns how many were cut. */
  dropConnections(): number;
  setFailEvery(n: number): void;
  setLatency(ms: number): void;
  setDenyLocks(deny: boolean): void;
  /**
   * Serves `events` as the recording of `sessionId` (any string: hostile ids included), instead
   * of a generated one. Each event's index is its `ei`, which may be a bigint beyond 2^53.
   */
  serveRecording(sessionId: string, events: CustomRecordingEvent[]): void;
  /** The start_key GetUnstructuredEvents pages from at log position `i` (to write Go-state fixtures). */
  pageKeyAt(i: number): string;
  /** The export chunks of a UTC date as ExportUnstructuredEvents streams them: each item's log position and cursor. */
  exportChunksOf(date: Date): { chunk: string; items: { position: number; cursor: string }[] }[];
  stop(): Promise<void>;
}

export interface CustomRecordingEvent {
  type: string;
  ei: number | bigint;
  /** Merged into the event JSON (which carries `ei` as a number, as Teleport's does). */
  fields?: JsonObject;
}

const EVENTS_DEFAULT_LIMIT = 500;
/** About 150 MB: a benchmark's 200,000-event log is encoded once for all its runs. */
const ENCODED_EVENTS_KEPT = 250_000;
const EVENTS_MAX_LIMIT = 10_000;
const SERVER_NAME = "teleport.cluster.local";
const DAY_MS = 86_400_000;

const requestKey = createContextKey<http2.Http2ServerRequest | undefined>(undefined);

/** Served through the raw view: the same bytes as EventUnstructured, without reflection. */
function toProto(e: FakeEvent): Omit<RawEventUnstructured, "$typeName"> {
  return {
    type: e.type,
    id: e.id,
    time: { $typeName: "google.protobuf.Timestamp", seconds: BigInt(e.time.seconds), nanos: e.time.nanos },
    index: BigInt(e.ei),
    unstructured: encodeStruct(e.json),
  };
}

function customProto(sessionId: string, e: CustomRecordingEvent, n: number): Omit<RawEventUnstructured, "$typeName"> {
  const now = new Date();
  const json: JsonObject = { ei: Number(e.ei), event: e.type, sid: sessionId, time: now.toISOString(), ...e.fields };
  return {
    type: e.type,
    id: `custom-${n}-${String(e.ei)}`,
    time: { $typeName: "google.protobuf.Timestamp", seconds: BigInt(Math.floor(now.getTime() / 1000)), nanos: 0 },
    index: BigInt(e.ei),
    unstructured: encodeStruct(json),
  };
}

/** Opaque to clients; ours is a versioned, base64url-wrapped position. */
function encodeKey(parts: (string | number)[]): string {
  return Buffer.from(["v1", ...parts].join("|")).toString("base64url");
}

function decodeKey(key: string, what: string): string[] {
  const parts = Buffer.from(key, "base64url").toString().split("|");
  if (parts[0] !== "v1") throw new ConnectError(`invalid ${what} "${key}"`, Code.InvalidArgument);
  return parts.slice(1);
}

const utcDay = (d: Date) => Math.floor(d.getTime() / DAY_MS);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startFakeTeleport(opts: FakeTeleportOptions = {}): Promise<FakeTeleport> {
  const pki = opts.pki ?? (await createTestPki({ clusterName: opts.clusterName }));
  const clusterName = pki.clusterName;
  const log = new FakeEventLog({ ...opts, clusterName });
  const chunkSize = opts.chunkSize ?? 1000;
  const host = opts.host ?? "127.0.0.1";
  const locks: RecordedLock[] = [];
  const calls: Record<string, number> = {};
  const sessionStreams: FakeTeleport["sessionStreams"] = [];
  const alpnOffers: string[][] = [];
  const clientStreamWindows: number[] = [];
  const serverNames: string[] = [];
  const peers: string[] = [];
  let totalCalls = 0;
  // Parsing the peer certificate on every call cost more than serving a 20-event page.
  const peerNames = new WeakMap<http2.Http2Session, string>();
  const peerName = (session: http2.Http2Session | undefined): string => {
    if (!session) return "";
    let name = peerNames.get(session);
    if (name === undefined) {
      const socket = session.socket as TLSSocket | undefined;
      peerNames.set(session, (name = String(socket?.getPeerCertificate?.()?.subject?.CN ?? "")));
    }
    return name;
  };
  let failEvery = opts.failEvery ?? 0;
  let latencyMs = opts.latencyMs ?? 0;
  let denyLocks = opts.denyLocks ?? false;
  let dropNext: number | undefined;
  const customRecordings = new Map<string, CustomRecordingEvent[]>();
  /**
   * Sealed chunks per UTC day: index ranges, fixed once listed so appends land in new chunks.
   * Events not searchable yet when their range was sealed (late arrival) are held out of it and
   * sealed later in chunks of their own, as a backend writes a late batch into a new file.
   */
  const sealed = new Map<number, { ranges: [number, number][]; next: number; held: Set<number>; waiting: number[]; late: number[][] }>();

  /** Counting, peer bookkeeping, the version header check and the call faults, for every method. */
  async function admitCall(method: string, version: string | null | undefined, session: http2.Http2Session | undefined): Promise<void> {
    calls[method] = (calls[method] ?? 0) + 1;
    totalCalls++;
    peers.push(peerName(session));
    if (!version) throw new ConnectError("missing the version metadata header", Code.InvalidArgument);
    if (latencyMs > 0) await sleep(latencyMs);
    if (failEvery > 0 && totalCalls % failEvery === 0) throw new ConnectError("injected fault: auth server unavailable", Code.Unavailable);
  }

  const admit = (method: string, ctx: HandlerContext) => admitCall(method, ctx.requestHeader.get("version"), ctx.values.get(requestKey)?.stream.session);

  /** Wraps a server stream with the connection-drop fault. */
  async function* faulty<T>(ctx: HandlerContext, items: Iterable<T>): AsyncGenerator<T> {
    const dropAfter = dropNext ?? opts.dropStreamsAfter;
    dropNext = undefined;
    let n = 0;
    for (const item of items) {
      if (dropAfter !== undefined && n === dropAfter) {
        ctx.values.get(requestKey)?.stream.session?.destroy();
        throw new ConnectError("injected fault: connection dropped", Code.Unavailable);
      }
      yield item;
      n++;
    }
  }

  function* page(start: number, end: number, types: Set<string>, limit: number, descending: boolean, out: number[]): Generator<number> {
    // Yields the position after the page when more matches follow; nothing otherwise.
    const step = descending ? -1 : 1;
    for (let i = start; descending ? i >= end : i < end; i += step) {
      if (types.size > 0 && !types.has(log.typeAt(i))) continue;
      if (!log.isVisible(i)) continue;
      if (out.length === limit) {
        yield i;
        return;
      }
      out.push(i);
    }
  }

  function timeOrDefault(t: Timestamp | undefined, fallback: Date): Date {
    return t ? timestampDate(t) : fallback;
  }

  function sealChunks(day: number): string[] {
    const lo = log.lowerBound(new Date(day * DAY_MS));
    const hi = log.lowerBound(new Date((day + 1) * DAY_MS));
    const state = sealed.get(day) ?? { ranges: [], next: lo, held: new Set<number>(), waiting: [], late: [] };
    const arrived = state.waiting.filter((i) => log.isVisible(i));
    if (arrived.length > 0) {
      state.waiting = state.waiting.filter((i) => !log.isVisible(i));
      state.late.push(arrived);
    }
    for (let a = Math.max(state.next, lo); a < hi; a += chunkSize) {
      const b = Math.min(a + chunkSize, hi);
      for (let i = a; i < b; i++) {
        if (log.isVisible(i)) continue;
        state.held.add(i);
        state.waiting.push(i);
      }
      state.ranges.push([a, b]);
    }
    state.next = Math.max(state.next, hi);
    sealed.set(day, state);
    return [...state.ranges.map(([a, b]) => encodeKey([day, a, b])), ...state.late.map((_, n) => encodeKey([day, "late", n]))];
  }

  /** The log positions of a chunk in its served order, without those held back as late. */
  function chunkPositions(day: number, parts: string[]): number[] | undefined {
    const state = sealed.get(day);
    if (parts[1] === "late") return state?.late[Number(parts[2])];
    const [a, b] = [Number(parts[1]), Number(parts[2])];
    if (!Number.isInteger(a) || !Number.isInteger(b)) return undefined;
    const order = chunkOrder(a, b);
    return state && state.held.size > 0 ? order.filter((i) => !state.held.has(i)) : order;
  }

  /** A fixed shuffle of a chunk: Teleport promises no order inside a chunk. */
  function chunkOrder(a: number, b: number): number[] {
    const n = b - a;
    const order: number[] = [];
    const stride = n > 2 ? [7, 5, 3].find((s) => n % s !== 0) ?? 1 : 1;
    for (let k = 0; k < n; k++) order.push(a + ((k * stride) % n));
    return order;
  }

  /** A chunk's events in stream order (see `chunkPositions`), each with the cursor that resumes after it. */
  function chunkItems(positions: number[]): { position: number; cursor: string }[] {
    return positions.map((position, k) => ({ position, cursor: encodeKey([k]) }));
  }

  function requireBulk(): void {
    if (!opts.bulk) throw new ConnectError("event export is not implemented by this audit log backend", Code.Unimplemented);
  }

  // Encoded events by log position, for the hot path: the benchmark reads one log several times.
  const encodedEvents = new Map<number, Uint8Array>();
  const encodedEvent = (i: number): Uint8Array => {
    let bytes = encodedEvents.get(i);
    if (!bytes) {
      bytes = encodeRawEvent(toProto(log.eventAt(i)));
      // No eviction: evicting the oldest entry of a Map on every insert turned quadratic (a
      // 1,000,000-event run cost the fake 150 s of CPU); past the cap events are just encoded.
      if (encodedEvents.size < ENCODED_EVENTS_KEPT) encodedEvents.set(i, bytes);
    }
    return bytes;
  };
  if (opts.warmEvents) for (let i = 0; i < Math.min(log.count, ENCODED_EVENTS_KEPT); i++) encodedEvent(i);

  /** StreamUnstructuredSessionEvents after admission: bookkeeping, then the recording's session or NOT_FOUND. */
  function recordingOf(req: { sessionId: string; startIndex: number }): number {
    sessionStreams.push({ sessionId: req.sessionId, startIndex: req.startIndex });
    const k = log.sessionIndexOf(req.sessionId);
    if (k === undefined || !log.hasRecording(k)) throw new ConnectError(`session recording ${req.sessionId} not found`, Code.NotFound);
    return k;
  }

  /** Recordings as gRPC frames back to back, with where each event's frame starts (by `ei`). */
  const warmed = new Map<number, { frames: Buffer; offsets: number[] }>();
  if (opts.warmRecordings) {
    for (let k = 0; k < log.sessions; k++) {
      if (!log.hasRecording(k) || (k === 0 && log.largeRecordingBytes > 0)) continue;
      const messages = [...log.recording(k)].map((e) => encodeRawEvent(toProto(e)));
      const frames = Buffer.allocUnsafe(messages.reduce((n, m) => n + 5 + m.length, 0));
      const offsets: number[] = [];
      let at = 0;
      for (const m of messages) {
        offsets.push(at);
        frames[at] = 0;
        frames.writeUInt32BE(m.length, at + 1);
        frames.set(m, at + 5);
        at += 5 + m.length;
      }
      warmed.set(k, { frames, offsets });
    }
  }

  /** GetUnstructuredEvents after admission: the log positions of the page, and the next page's key. */
  function eventsPage(req: GetUnstructuredEventsRequest): { positions: number[]; lastKey: string } {
    if (req.limit > EVENTS_MAX_LIMIT) throw new ConnectError(`limit ${req.limit} exceeds the maximum of ${EVENTS_MAX_LIMIT}`, Code.InvalidArgument);
    const order = req.order as number;
    if (order !== 0 && order !== 1) throw new ConnectError(`unknown order ${order}`, Code.InvalidArgument);
    const descending = order === 1;
    const limit = req.limit <= 0 ? EVENTS_DEFAULT_LIMIT : req.limit;
    const lo = log.lowerBound(timeOrDefault(req.startDate, new Date(0)));
    const hi = log.lowerBound(timeOrDefault(req.endDate, new Date(8.64e15)));
    let start = descending ? hi - 1 : lo;
    if (req.startKey) {
      const [pos] = decodeKey(req.startKey, "start_key");
      start = Number(pos);
      if (!Number.isInteger(start)) throw new ConnectError(`invalid start_key "${req.startKey}"`, Code.InvalidArgument);
    }
    const positions: number[] = [];
    const [next] = [...page(start, descending ? lo : hi, new Set(req.eventTypes), limit, descending, positions)];
    return { positions, lastKey: next === undefined ? "" : encodeKey([next]) };
  }

  const routes = (r: ConnectRouter) => {
    r.service(RawAuditLogService, {
      async getUnstructuredEvents(req, ctx) {
        await admit("GetUnstructuredEvents", ctx);
        const { positions, lastKey } = eventsPage(req);
        return { items: positions.map((i) => toProto(log.eventAt(i))), lastKey };
      },

      async *streamUnstructuredSessionEvents(req, ctx) {
        await admit("StreamUnstructuredSessionEvents", ctx);
        const custom = customRecordings.get(req.sessionId);
        if (custom) {
          sessionStreams.push({ sessionId: req.sessionId, startIndex: req.startIndex });
          const items = custom.filter((e) => BigInt(e.ei) >= BigInt(req.startIndex)).map((e, n) => customProto(req.sessionId, e, n));
          for await (const item of faulty(ctx, items)) yield item;
          return;
        }
        const k = recordingOf(req);
        for await (const e of faulty(ctx, log.recording(k, req.startIndex))) yield toProto(e);
      },

      async *getEventExportChunks(req, ctx) {
        await admit("GetEventExportChunks", ctx);
        requireBulk();
        const day = utcDay(timeOrDefault(req.date, new Date()));
        for await (const chunk of faulty(ctx, sealChunks(day))) yield { chunk };
      },

      async *exportUnstructuredEvents(req, ctx) {
        await admit("ExportUnstructuredEvents", ctx);
        requireBulk();
        const day = utcDay(timeOrDefault(req.date, new Date()));
        const parts = decodeKey(req.chunk, "chunk");
        const order = Number(parts[0]) === day ? chunkPositions(day, parts) : undefined;
        if (!order) throw new ConnectError(`chunk ${req.chunk} not found for this date`, Code.NotFound);
        let from = 0;
        if (req.cursor) from = Number(decodeKey(req.cursor, "cursor")[0]) + 1;
        for await (const item of faulty(ctx, chunkItems(order).slice(from))) {
          yield { event: toProto(log.eventAt(item.position)), cursor: item.cursor };
        }
      },
    });

    r.service(AuthService, {
      async ping(_req, ctx) {
        await admit("Ping", ctx);
        return { ClusterName: clusterName, ServerVersion: opts.serverVersion ?? "17.4.2" };
      },
      async upsertLock(req: LockV2, ctx) {
        await admit("UpsertLock", ctx);
        if (denyLocks) throw new ConnectError('access denied to perform action "create" on "lock"', Code.PermissionDenied);
        const name = req.Metadata?.Name ?? "";
        if (!name) throw new ConnectError("missing parameter Name", Code.InvalidArgument);
        const t = req.Spec?.Target;
        if (!t || !Object.values({ ...t, $typeName: undefined }).some((v) => typeof v === "string" && v !== "")) {
          throw new ConnectError("at least one target field must be set", Code.InvalidArgument);
        }
        locks.push({
          name,
          kind: req.Kind,
          version: req.Version,
          target: { user: t.User, login: t.Login, role: t.Role },
          message: req.Spec?.Message ?? "",
          expires: req.Spec?.Expires ? timestampDate(req.Spec.Expires) : undefined,
        });
        return {};
      },
    });
  };

  const server = http2.createSecureServer(
    {
      key: pki.authServer.keyPem,
      cert: pki.authServer.certPem,
      // Clients are signed by the user CA, which only the server trusts (reference Part C.4).
      ca: pki.userCA.ca.certPem,
      requestCert: true,
      rejectUnauthorized: true,
      ALPNCallback: ({ servername, protocols }: { servername: string; protocols: string[] }) => {
        alpnOffers.push(protocols);
        serverNames.push(servername);
        return servername === SERVER_NAME && protocols.includes("h2") ? "h2" : undefined;
      },
    } as http2.SecureServerOptions,
    connectNodeAdapter({
      routes,
      grpc: true,
      connect: false,
      grpcWeb: false,
      contextValues: (req) => createContextValues().set(requestKey, req as http2.Http2ServerRequest),
    }),
  );
  // The benchmark's hot call, served without the adapter's per-call overhead (same wire, same faults).
  const hotPath = installFastUnary(server, {
    [`/${RawAuditLogService.typeName}/${RawAuditLogService.method.getUnstructuredEvents.name}`]: async (bytes, call) => {
      await admitCall("GetUnstructuredEvents", call.headers["version"] as string | undefined, call.session);
      const { positions, lastKey } = eventsPage(fromBinary(GetUnstructuredEventsRequestSchema, bytes));
      return encodeEventsPage(positions.map(encodedEvent), lastKey);
    },
  }, {
    [`/${RawAuditLogService.typeName}/${RawAuditLogService.method.streamUnstructuredSessionEvents.name}`]: {
      // A warmed recording in one write; a stream-drop fault needs the item-by-item path.
      accept: () => warmed.size > 0 && customRecordings.size === 0 && dropNext === undefined && opts.dropStreamsAfter === undefined,
      serve: async (bytes, call) => {
        await admitCall("StreamUnstructuredSessionEvents", call.headers["version"] as string | undefined, call.session);
        const req = fromBinary(StreamUnstructuredSessionEventsRequestSchema, bytes);
        const k = recordingOf(req);
        const recording = warmed.get(k);
        if (!recording) throw new ConnectError(`fake: recording of session ${req.sessionId} was not warmed`, Code.Internal);
        return recording.frames.subarray(recording.offsets[req.startIndex] ?? recording.frames.length);
      },
    },
  });
  // A handshake that fails (no or foreign client certificate) must not crash the fake.
  server.on("tlsClientError", () => {});
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s: http2.ServerHttp2Session) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
    s.once("remoteSettings", (settings: http2.Settings) => clientStreamWindows.push(settings.initialWindowSize ?? 65_535));
  });
  server.on("secureConnection", (socket: TLSSocket) => {
    if ((socket as TLSSocket & { servername?: string }).servername !== SERVER_NAME) socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const addr = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;

  const identity = await writeIdentity(opts.outDir ?? pki.dir, clusterName, {
    keyPem: pki.teleportClient.keyPem,
    certPem: pki.teleportClient.certPem,
    caPems: [pki.hostCA.ca.certPem],
  });

  const appendTimer = opts.appendRate ? setInterval(() => log.append(Math.max(1, Math.round(opts.appendRate! / 10))), 100) : undefined;

  return {
    port,
    addr,
    url: `https://${addr}`,
    pki,
    clusterName,
    identity,
    log,
    locks,
    calls,
    sessionStreams,
    get hotPathCalls() {
      return hotPath.served + hotPath.streamed;
    },
    alpnOffers,
    serverNames,
    clientStreamWindows,
    peers,
    appendEvents: (n, at) => log.append(n, at),
    appendEvent: (event) => log.appendEvent(event),
    dropNextStreamAfter: (items) => {
      dropNext = items;
    },
    dropConnections: () => {
      const open = [...sessions];
      for (const s of open) s.destroy();
      return open.length;
    },
    setFailEvery: (n) => {
      failEvery = n;
    },
    setLatency: (ms) => {
      latencyMs = ms;
    },
    setDenyLocks: (deny) => {
      denyLocks = deny;
    },
    serveRecording: (sessionId, events) => void customRecordings.set(sessionId, events),
    pageKeyAt: (i) => encodeKey([i]),
    exportChunksOf: (date) => sealChunks(utcDay(date)).map((chunk) => ({ chunk, items: chunkItems(chunkPositions(utcDay(date), decodeKey(chunk, "chunk"))!) })),
    async stop() {
      if (appendTimer) clearInterval(appendTimer);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Open HTTP/2 sessions keep close() waiting; the fake ends them.
        for (const s of sessions) s.destroy();
      });
    },
  };
}

