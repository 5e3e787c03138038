import type { JsonObject } from "@bufbuild/protobuf";
import type { PackedStruct } from "./struct-msgpack.ts";
import type { DepthLimit } from "./struct-wire.ts";

export type { PackedStruct } from "./struct-msgpack.ts";
export { type DepthLimit, StructTooDeepError } from "./struct-wire.ts";

/**
 * The contract between the export jobs and the Teleport source. Keep it small: the jobs must not
 * know about protobuf messages, transports or credentials.
 */
export interface AuditEvent {
  /** EventUnstructured.id: the event's uid, or the SHA-256 of its payload. The unique key. */
  id: string;
  type: string;
  time: Date;
  /** `ei`: unique and ordered only inside one session recording. */
  index: number;
  /** The event object exactly as Teleport sent it. */
  json: JsonObject;
  /**
   * Set when the event could not be read safely (JSON nested deeper than Teleport allows, an
   * index beyond 2^53): `json` is then empty, and the jobs dead-letter the event with this reason.
   */
  invalid?: string;
  /**
   * The event as a msgpack map (see struct-msgpack.ts), for sources that can write it without
   * building `json`: undefined when they cannot (any more); throws StructTooDeepError when it nests
   * deeper than `limit`.
   */
  msgpack?(limit: DepthLimit, headroom?: number): PackedStruct | undefined;
}

export interface SearchQuery {
  from: Date;
  to: Date;
  types: string[];
  limit: number;
  startKey: string;
}

export interface SearchPage {
  events: AuditEvent[];
  /** Empty when this was the last page of the window. */
  nextKey: string;
  /** Bytes of the events' payloads, when the source knows them: read-ahead budgets by it. */
  bytes?: number;
}

export interface ExportedEvent {
  event: AuditEvent;
  /** Resumes the chunk after this event. */
  cursor: string;
}

export interface LockRequest {
  name: string;
  user: string;
  login: string;
  message: string;
  expires?: Date;
}

export interface ClusterInfo {
  clusterName: string;
  serverVersion: string;
}

export interface TeleportSource {
  ping(signal?: AbortSignal): Promise<ClusterInfo>;
  searchEvents(q: SearchQuery, signal?: AbortSignal): Promise<SearchPage>;
  eventExportChunks(date: Date, signal?: AbortSignal): AsyncIterable<string>;
  exportEvents(q: { date: Date; chunk: string; cursor: string }, signal?: AbortSignal): AsyncIterable<ExportedEvent>;
  /** Inclusive: yields events whose index is >= startIndex (confirmed server behaviour). */
  sessionEvents(sessionId: string, startIndex: number, signal?: AbortSignal): AsyncIterable<AuditEvent>;
  upsertLock(lock: LockRequest, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** gRPC failures folded into what a caller can act on. */
export type TeleportErrorKind = "not-found" | "unimplemented" | "permission-denied" | "transient" | "invalid" | "other";

export class TeleportError extends Error {
  constructor(
    readonly kind: TeleportErrorKind,
    message: string,
    readonly code?: number,
  ) {
    super(message);
    this.name = "TeleportError";
  }
}
