import { createHash, randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import type { SinkRecord } from "../types.ts";
import { EVENT_TIME_BYTES, eventTimeNow, eventTimeOf, forwardEncoder, writeEventTime } from "./event-time.ts";

/**
 * The client's side of the Forward Protocol Specification v1 as Fluentd's in_forward reads it:
 * PackedForward frames `[tag, entries, {chunk, size, compressed?}]` and the HELO/PING/PONG
 * handshake of `<security>`.
 */

const encoder = forwardEncoder();

/**
 * How deeply a record may nest: Fluentd's msgpack unpacker (msgpack-ruby) holds 128 containers on
 * its stack, the entry's array and then the record's own levels. Deeper cannot be read there.
 */
export const MAX_RECORD_NESTING = 127;
/**
 * The library counts the entry array as depth 1, so the record's deepest level is depth
 * MAX_RECORD_NESTING + 1 and the values in it one more.
 */
const entryEncoder = forwardEncoder({ maxDepth: MAX_RECORD_NESTING + 2 });
/** msgpack fixarray of two: the `[EventTime, record]` around a record written elsewhere. */
const ENTRY_OF_TWO = 0x92;
const ENTRY_HEAD = 1 + EVENT_TIME_BYTES;

/**
 * One record as a msgpack `[EventTime, record]` entry; the record is the event JSON as Teleport gave
 * it. Undefined when it nests deeper than MAX_RECORD_NESTING.
 */
export function encodeEntry(record: SinkRecord): Uint8Array | undefined {
  // The map is written after room for the entry's head, filled in once its time is known.
  const packed = record.packed?.(MAX_RECORD_NESTING, ENTRY_HEAD);
  if (packed === "too-deep") return undefined;
  if (packed !== undefined) {
    const entry = packed.map;
    entry[0] = ENTRY_OF_TWO;
    writeEventTime(eventTimeOf(packed.time) ?? eventTimeNow(), entry, 1);
    return entry;
  }
  // Records from elsewhere (dead letters sent again), and events whose object was read already.
  const event = JSON.parse(record.body) as Record<string, unknown>;
  try {
    return entryEncoder.encode([eventTimeOf(event.time) ?? eventTimeNow(), event]);
  } catch (err) {
    if (err instanceof Error && /too deep/i.test(err.message)) return undefined;
    throw err;
  }
}

export type Compression = "gzip" | "none";

export interface Frame {
  /** The ack in_forward answers with is `{ack: chunk}`. */
  chunk: string;
  bytes: Uint8Array;
  records: number;
  /** Uncompressed entry bytes, for the metrics the HTTP sink also reports. */
  entryBytes: number;
}

/**
 * A PackedForward frame (CompressedPackedForward with gzip): the entries are one msgpack stream,
 * sent as `bin`, with a `chunk` id so that in_forward acknowledges the frame once it emitted it.
 */
export function packFrame(tag: string, entries: Uint8Array[], compression: Compression): Frame {
  let stream: Uint8Array = Buffer.concat(entries);
  const entryBytes = stream.byteLength;
  if (compression === "gzip") stream = gzipSync(stream);
  const chunk = randomBytes(16).toString("base64");
  const option: Record<string, unknown> = { size: entries.length, chunk };
  if (compression === "gzip") option.compressed = "gzip";
  return { chunk, bytes: encoder.encode([tag, stream, option]), records: entries.length, entryBytes };
}

/** sha512 hex of the concatenation, the digest every step of the handshake uses. */
function sha512Hex(...parts: Array<string | Uint8Array>): string {
  const hash = createHash("sha512");
  for (const part of parts) hash.update(part);
  return hash.digest("hex");
}

export interface Credentials {
  sharedKey: string;
  username?: string;
  password?: string;
  /** Our host name as sent in PING; in_forward's PONG must name a different one. */
  hostname: string;
}

export interface Helo {
  nonce: Uint8Array | string;
  /** The user-auth salt; empty when the receiver does not ask for a username and password. */
  auth: Uint8Array | string;
}

export class HandshakeError extends Error {}

function bytesOrString(v: unknown): v is Uint8Array | string {
  return typeof v === "string" || v instanceof Uint8Array;
}

/** Reads `['HELO', {nonce, auth, keepalive}]`. */
export function readHelo(message: unknown): Helo {
  if (!Array.isArray(message) || message[0] !== "HELO" || typeof message[1] !== "object" || message[1] === null) {
    throw new HandshakeError("the receiver did not start with HELO");
  }
  const options = message[1] as Record<string, unknown>;
  const nonce = options.nonce ?? "";
  const auth = options.auth ?? "";
  if (!bytesOrString(nonce) || !bytesOrString(auth)) throw new HandshakeError("the receiver sent a malformed HELO");
  return { nonce, auth };
}

/**
 * `['PING', hostname, salt, sha512_hex(salt + hostname + nonce + shared_key), username, sha512_hex(auth + username + password)]`;
 * username and digest are empty strings unless HELO carried an auth salt.
 */
export function pingFor(helo: Helo, creds: Credentials, salt: Uint8Array = randomBytes(16)): { message: Uint8Array; salt: Uint8Array } {
  const digest = sha512Hex(salt, creds.hostname, helo.nonce, creds.sharedKey);
  const wantsUser = helo.auth.length > 0;
  const username = wantsUser ? (creds.username ?? "") : "";
  const password = wantsUser ? sha512Hex(helo.auth, username, creds.password ?? "") : "";
  return { message: encoder.encode(["PING", creds.hostname, salt, digest, username, password]), salt };
}

/** Checks `['PONG', ok, reason, server_hostname, sha512_hex(salt + server_hostname + nonce + shared_key)]`. */
export function checkPong(message: unknown, helo: Helo, creds: Credentials, salt: Uint8Array): void {
  if (!Array.isArray(message) || message.length !== 5 || message[0] !== "PONG") throw new HandshakeError("the receiver answered PING with something other than PONG");
  const [, ok, reason, hostname, digest] = message as [string, unknown, unknown, unknown, unknown];
  if (ok !== true) {
    // The reason comes from the network: bounded and printable only.
    const why = String(reason ?? "").replace(/[^\x20-\x7e]/g, "?").slice(0, 200);
    throw new HandshakeError(`the receiver refused the handshake (${why || "no reason given"}); check fluentd-shared-key, fluentd-username and fluentd-password`);
  }
  if (typeof hostname !== "string") throw new HandshakeError("the receiver sent a malformed PONG");
  if (hostname === creds.hostname) throw new HandshakeError("the receiver's PONG names our own host name; is the handler talking to itself?");
  if (digest !== sha512Hex(salt, hostname, helo.nonce, creds.sharedKey)) {
    throw new HandshakeError("the receiver's PONG does not prove it knows fluentd-shared-key; check the key on both sides");
  }
}

/** True for `{ack: chunk}`, what in_forward writes once it emitted the frame. */
export function ackOf(message: unknown): string | undefined {
  if (typeof message !== "object" || message === null || Array.isArray(message)) return undefined;
  const ack = (message as Record<string, unknown>).ack;
  return typeof ack === "string" ? ack : undefined;
}
