import { decodeMulti, decodeMultiStream, encode } from "@msgpack/msgpack";
import { createHash, randomBytes } from "node:crypto";
import { createServer as createTcpServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { gunzipSync } from "node:zlib";
import { EventTime, forwardCodec } from "../../src/fluentd/forward/event-time.ts";
import { RecordStore, type ReceivedRecords, type StoredRecord } from "./record-store.ts";

/**
 * A Fluentd `in_forward` look-alike for tests, the demo and benchmarks, written from Fluentd's
 * lib/fluent/plugin/in_forward.rb and the Forward Protocol Specification v1, not from our client:
 *
 * - msgpack frames in the Message `[tag, time, record, option]`, Forward `[tag, [[time, record]…], option]`,
 *   PackedForward `[tag, bin|str, option]` and CompressedPackedForward (`compressed: "gzip"`) modes;
 *   a time of 0 (or nil) becomes "now", entries without a record are skipped, as in_forward does;
 * - `{ack: chunk}` is written only after the frame's records were stored, and only when the option
 *   carries a `chunk`; a frame that is not an array, or a Message without a record, gets no ack;
 * - mutual TLS (`<transport tls>` with `client_cert_auth true`) when a certificate is given;
 * - `<security>`: HELO `{nonce, auth, keepalive}` on connect, PING checked as
 *   sha512_hex(salt + hostname + nonce + shared_key) (and the user digest with `users`), PONG with
 *   sha512_hex(salt + self_hostname + nonce + shared_key), or `[PONG, false, reason, "", ""]` and a close;
 * - faults: no ack, late ack, connection reset on the next frame's bytes, refused handshake.
 *
 * JSON framing (in_forward also reads JSON when a connection starts with `{` or `[`) is not
 * implemented: no client of ours sends it, and a `<security>` session must be msgpack anyway.
 */

export interface FakeForwardOptions {
  /** PEM strings; with `cert` and `key` the receiver speaks TLS and requires a client certificate signed by `ca`. */
  ca?: string;
  cert?: string;
  key?: string;
  passphrase?: string;
  port?: number;
  host?: string;
  /** Appends `<tag>.jsonl` files here (buffered); omitted = memory only. */
  outDir?: string;
  /** Keep records and the frame log in memory (default true; the standalone server turns it off). */
  keepRecords?: boolean;
  /** `<security>`: shared key, the server's self_hostname, and `<user>` entries (user_auth when given). */
  security?: { sharedKey: string; selfHostname?: string; users?: Array<{ username: string; password: string }> };
}

export interface ForwardStoredRecord extends StoredRecord {
  /** The entry's EventTime (or integer seconds, as nanoseconds 0). */
  eventTime: { seconds: number; nanos: number };
}

export interface ReceivedFrame {
  tag: string;
  mode: "Message" | "Forward" | "PackedForward" | "CompressedPackedForward";
  stored: number;
  chunk?: string;
  /** The fault that answered it, if any. */
  fault?: string;
  /** Which connection brought it (1 for the first one accepted). */
  connection: number;
}

export interface FakeForwardFaults {
  /** The next `n` frames are stored but never acknowledged. */
  noAckNext(n: number): void;
  /** Delay between storing a frame and writing its ack. */
  ackDelayMs: number;
  /** The next `n` connections that send frame bytes are destroyed on those bytes, storing nothing. */
  resetNext(n: number): void;
  /** The next `n` handshakes are answered `[PONG, false, …]` whatever the key. */
  refuseHandshakeNext(n: number): void;
}

export interface FakeForward extends ReceivedRecords<ForwardStoredRecord> {
  port: number;
  url(tag: string): string;
  frames: ReceivedFrame[];
  frameCount(): number;
  connectionCount(): number;
  /** Connections open now (tests wait for 0 after a killed client). */
  openConnections(): number;
  /**
   * The most frames one connection had stored and not yet acknowledged at once, counted when a
   * frame of `tag` (or of any tag) was stored; late acks (`ackDelayMs`) let a pipelining client raise it.
   */
  maxOutstanding(tag?: string): number;
  /** Handshakes that ended in `[PONG, false, …]`. */
  refusedHandshakes(): number;
  faults: FakeForwardFaults;
  stop(): Promise<void>;
}

function sha512Hex(...parts: Array<string | Uint8Array>): string {
  const h = createHash("sha512");
  for (const p of parts) h.update(p);
  return h.digest("hex");
}

/** in_forward's `time.to_i == 0` → Fluent::EventTime.now. */
function timeOf(time: unknown): { seconds: number; nanos: number } {
  if (time instanceof EventTime && time.seconds !== 0) return { seconds: time.seconds, nanos: time.nanos };
  if (typeof time === "number" && Math.trunc(time) !== 0) return { seconds: Math.trunc(time), nanos: 0 };
  const ms = Date.now();
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

export async function startFakeForward(opts: FakeForwardOptions = {}): Promise<FakeForward> {
  const host = opts.host ?? "127.0.0.1";
  const keepRecords = opts.keepRecords ?? true;
  const selfHostname = opts.security?.selfHostname ?? "fake-fluentd-forward";
  const stored = new RecordStore<ForwardStoredRecord>({ outDir: opts.outDir, keepRecords });
  const frames: ReceivedFrame[] = [];
  let frameCount = 0;
  let connectionCount = 0;
  const maxOutstanding = new Map<string, number>();
  let refused = 0;
  let noAcks = 0;
  let resets = 0;
  let refusals = 0;
  const sockets = new Set<Socket>();
  /** Entries without a record are skipped (`next if record.nil?`), as are records that are not maps. */
  function store(tag: string, entries: Array<[unknown, unknown]>): number {
    const kept: ForwardStoredRecord[] = [];
    for (const [time, record] of entries) {
      if (!isRecord(record)) continue;
      const eventTime = timeOf(time);
      kept.push({ tag, time: new EventTime(eventTime.seconds, eventTime.nanos).toString(), eventTime, record });
    }
    stored.add(tag, kept);
    return kept.length;
  }

  /** in_forward's emit_message: stores the frame, returns its option (for the ack) or undefined. */
  function emit(msg: unknown, connection: number): { option: unknown; frame?: ReceivedFrame } {
    if (!Array.isArray(msg)) return { option: undefined }; // "incoming chunk is broken"
    const tag = String(msg[0]);
    const entries = msg[1];
    if (entries instanceof Uint8Array || typeof entries === "string") {
      const option = msg[2];
      const compressed = isRecord(option) && option.compressed === "gzip";
      let raw: Uint8Array = typeof entries === "string" ? Buffer.from(entries, "binary") : entries;
      if (compressed) raw = gunzipSync(raw);
      const decoded = [...decodeMulti(raw, { extensionCodec: forwardCodec })] as Array<[unknown, unknown]>;
      const frame: ReceivedFrame = { tag, mode: compressed ? "CompressedPackedForward" : "PackedForward", stored: store(tag, decoded), connection };
      return { option, frame };
    }
    if (Array.isArray(entries)) {
      const frame: ReceivedFrame = { tag, mode: "Forward", stored: store(tag, entries as Array<[unknown, unknown]>), connection };
      return { option: msg[2], frame };
    }
    // Message: `return if record.nil?` comes before the option is read, so no ack either.
    if (msg[2] === null || msg[2] === undefined) return { option: undefined };
    const frame: ReceivedFrame = { tag, mode: "Message", stored: store(tag, [[msg[1], msg[2]]]), connection };
    return { option: msg[3], frame };
  }

  function checkPing(msg: unknown, nonce: Uint8Array, authSalt: Uint8Array): { ok: true; salt: Uint8Array | string } | { ok: false; reason: string } {
    if (!Array.isArray(msg) || msg.length !== 6 || msg[0] !== "PING") return { ok: false, reason: "invalid ping message" };
    const [, hostname, salt, digest, username, passwordDigest] = msg as [string, string, Uint8Array | string, string, string, string];
    const security = opts.security!;
    if (digest !== sha512Hex(salt, hostname, nonce, security.sharedKey)) return { ok: false, reason: "shared_key mismatch" };
    if (security.users?.length) {
      const match = security.users.some((u) => u.username === username && sha512Hex(authSalt, username, u.password) === passwordDigest);
      if (!match) return { ok: false, reason: "username/password mismatch" };
    }
    return { ok: true, salt };
  }

  function onConnection(socket: Socket): void {
    const connection = ++connectionCount;
    /** Frames stored on this connection whose ack is not written yet. */
    let outstanding = 0;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    let established = opts.security === undefined;
    const nonce = randomBytes(16);
    const authSalt = randomBytes(16);
    if (!established) socket.write(encode(["HELO", { nonce, auth: opts.security!.users?.length ? authSalt : "", keepalive: true }]));

    let closed = false;
    const stream = new ReadableStream<Uint8Array>({
      cancel() {
        closed = true;
      },
      start(controller) {
        socket.on("data", (data: Buffer) => {
          if (closed) return;
          if (established && resets > 0) {
            resets--;
            frames.push({ tag: "?", mode: "PackedForward", stored: 0, fault: "reset", connection });
            closed = true;
            socket.resetAndDestroy();
            controller.close();
            return;
          }
          controller.enqueue(data);
        });
        socket.once("close", () => {
          if (!closed) controller.close();
          closed = true;
        });
      },
    });

    void (async () => {
      try {
        for await (const msg of decodeMultiStream(stream, { extensionCodec: forwardCodec })) {
          if (!established) {
            const result = refusals > 0 ? { ok: false as const, reason: "refused by fault injection" } : checkPing(msg, nonce, authSalt);
            if (!result.ok) {
              if (refusals > 0) refusals--;
              refused++;
              socket.end(encode(["PONG", false, result.reason, "", ""]));
              return;
            }
            socket.write(encode(["PONG", true, "", selfHostname, sha512Hex(result.salt, selfHostname, nonce, opts.security!.sharedKey)]));
            established = true;
            continue;
          }
          const { option, frame } = emit(msg, connection);
          if (!frame) continue;
          frameCount++;
          const chunk = isRecord(option) && option.chunk !== undefined ? String(option.chunk) : undefined;
          frame.chunk = chunk;
          if (keepRecords) frames.push(frame);
          if (chunk === undefined) continue;
          if (noAcks > 0) {
            noAcks--;
            frame.fault = "no ack";
            continue;
          }
          const ack = encode({ ack: (option as Record<string, unknown>).chunk });
          maxOutstanding.set(frame.tag, Math.max(maxOutstanding.get(frame.tag) ?? 0, ++outstanding));
          const answer = () => {
            outstanding--;
            if (!socket.destroyed) socket.write(ack);
          };
          if (faults.ackDelayMs > 0) setTimeout(answer, faults.ackDelayMs);
          else answer();
        }
      } catch {
        // in_forward logs "forward error" and closes the connection on undecodable input.
        socket.destroy();
      }
    })();
  }

  function listen(): Promise<Server> {
    const server = opts.cert
      ? createTlsServer({ ca: opts.ca, cert: opts.cert, key: opts.key, passphrase: opts.passphrase, requestCert: true, rejectUnauthorized: true }, onConnection)
      : createTcpServer(onConnection);
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(opts.port ?? 0, host, () => resolve(server));
    });
  }

  const server = await listen();
  const port = (server.address() as { port: number }).port;
  const faults: FakeForwardFaults = {
    ackDelayMs: 0,
    noAckNext: (n) => void (noAcks = n),
    resetNext: (n) => void (resets = n),
    refuseHandshakeNext: (n) => void (refusals = n),
  };
  const scheme = opts.cert ? "forward+tls" : "forward";

  return {
    port,
    url: (tag) => `${scheme}://localhost:${port}/${tag}`,
    ...stored.view(),
    frames,
    frameCount: () => frameCount,
    connectionCount: () => connectionCount,
    openConnections: () => sockets.size,
    maxOutstanding: (tag) => (tag === undefined ? Math.max(0, ...maxOutstanding.values()) : (maxOutstanding.get(tag) ?? 0)),
    refusedHandshakes: () => refused,
    faults,
    async stop() {
      stored.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
