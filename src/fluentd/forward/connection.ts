import { decodeMultiStream } from "@msgpack/msgpack";
import { connect as netConnect, isIP, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { abortError } from "../../lib/abort.ts";
import { describeSocketError, type FluentdTlsMaterial } from "../tls.ts";
import type { FluentdUrl } from "../../config/values.ts";
import { formatDuration } from "../../lib/duration.ts";
import { forwardCodec } from "./event-time.ts";
import { ackOf, checkPong, HandshakeError, pingFor, readHelo, type Credentials, type Frame } from "./frames.ts";

export interface ConnectionOptions {
  tls: FluentdTlsMaterial;
  /** Connect, handshake and each ack must complete within this (`fluentd-timeout`). */
  timeoutMs: number;
  /** Present when `fluentd-shared-key` is set: the `<security>` handshake is then required. */
  credentials?: Credentials;
}

interface Pending {
  resolve: () => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * What the receiver may send is small (HELO, PONG, `{ack: chunk}`); anything bigger is refused by
 * the decoder before it is buffered, since the other end is a network peer.
 */
const ANSWER_LIMITS = { maxStrLength: 4096, maxBinLength: 4096, maxArrayLength: 16, maxMapLength: 16, maxExtLength: 16 };

/** The msgpack objects the receiver writes (HELO, PONG, acks), decoded as they arrive. */
function messagesOf(socket: Socket): AsyncGenerator<unknown> {
  let finished = false;
  const stream = new ReadableStream<Uint8Array>({
    cancel() {
      finished = true;
    },
    start(controller) {
      socket.on("data", (data: Buffer) => !finished && controller.enqueue(data));
      socket.once("close", () => {
        if (!finished) controller.close();
        finished = true;
      });
    },
  });
  return decodeMultiStream(stream, { extensionCodec: forwardCodec, ...ANSWER_LIMITS }) as AsyncGenerator<unknown>;
}

/**
 * One TCP (or TLS) connection to in_forward. Frames are written back to back; each resolves when its
 * `{ack: chunk}` comes back, and a frame without an ack within the timeout ends the connection,
 * failing every frame still outstanding on it: the caller re-sends them on a new one.
 */
export class ForwardConnection {
  private readonly pending = new Map<string, Pending>();
  private inbox: unknown[] = [];
  private wake?: () => void;
  private failure?: Error;
  /** False until the handshake (if any) is over: until then HELO and PONG go to the inbox. */
  private established = false;
  /** Rejects once the connection fails, so that every wait on it ends at once. */
  private readonly broken: Promise<never>;
  private breakWith!: (err: Error) => void;

  private constructor(
    private readonly socket: Socket,
    private readonly timeoutMs: number,
  ) {
    this.broken = new Promise<never>((_, reject) => (this.breakWith = reject));
    this.broken.catch(() => undefined);
    socket.on("error", (err: Error & { code?: string }) => this.fail(new Error(describeSocketError(err))));
    socket.on("close", () => this.fail(new Error("the receiver closed the connection")));
    void this.read();
  }

  static async open(ep: Pick<FluentdUrl, "tls" | "host" | "port">, opts: ConnectionOptions, signal?: AbortSignal): Promise<ForwardConnection> {
    const socket = ep.tls
      ? tlsConnect({
          host: ep.host,
          port: ep.port,
          servername: isIP(ep.host) ? undefined : ep.host,
          ca: opts.tls.ca,
          cert: opts.tls.cert,
          key: opts.tls.key,
          passphrase: opts.tls.passphrase,
        })
      : netConnect({ host: ep.host, port: ep.port });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    const conn = new ForwardConnection(socket, opts.timeoutMs);
    const onAbort = () => conn.fail(abortError());
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await conn.within(`connecting to ${ep.host}:${ep.port}`, new Promise<void>((resolve) => socket.once(ep.tls ? "secureConnect" : "connect", () => resolve())));
      if (opts.credentials) await conn.handshake(opts.credentials);
      conn.established = true;
      return conn;
    } catch (err) {
      conn.fail(err as Error);
      throw err;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  get usable(): boolean {
    return this.failure === undefined;
  }

  /** Writes the frame; resolves on its ack, rejects when the connection fails first. */
  send(frame: Frame): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const acked = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => this.fail(new Error(`no ack within ${formatDuration(this.timeoutMs)} (fluentd-timeout); the frame is sent again`)),
        this.timeoutMs,
      );
      this.pending.set(frame.chunk, { resolve, reject, timer });
    });
    this.socket.write(frame.bytes);
    return acked;
  }

  /** Ends the connection (if not already ended) and fails every frame still waiting for its ack. */
  fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
    this.breakWith(err);
    this.wake?.();
    this.socket.destroy();
  }

  close(): void {
    this.fail(new Error("closed"));
  }

  private async handshake(creds: Credentials): Promise<void> {
    const helo = readHelo(await this.within("waiting for the receiver's HELO", this.next()));
    const { message, salt } = pingFor(helo, creds);
    this.socket.write(message);
    checkPong(await this.within("waiting for the receiver's PONG", this.next()), helo, creds, salt);
  }

  private async read(): Promise<void> {
    try {
      for await (const message of messagesOf(this.socket)) {
        const chunk = ackOf(message);
        const waiter = chunk === undefined ? undefined : this.pending.get(chunk);
        if (waiter) {
          this.pending.delete(chunk!);
          clearTimeout(waiter.timer);
          waiter.resolve();
        } else if (!this.established) {
          this.inbox.push(message);
          this.wake?.();
        } else if (Array.isArray(message) && message[0] === "HELO") {
          this.fail(new HandshakeError("the receiver requires the <security> handshake (it sent HELO); set fluentd-shared-key"));
        }
        // Anything else (an ack of a frame already given up on) needs no answer.
      }
    } catch (err) {
      this.fail(new Error(`the receiver sent data that is not msgpack (${(err as Error).message.slice(0, 100)}); is it in_forward?`));
    }
  }

  private async next(): Promise<unknown> {
    while (this.inbox.length === 0) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
    return this.inbox.shift();
  }

  /** Fails the connection when `promise` does not settle within the timeout. */
  private async within<T>(what: string, promise: Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const failed = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${formatDuration(this.timeoutMs)} (fluentd-timeout)`)), this.timeoutMs);
    });
    try {
      return await Promise.race([promise, failed, this.broken]);
    } finally {
      clearTimeout(timer);
    }
  }
}
