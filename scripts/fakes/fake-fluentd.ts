import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { TLSSocket } from "node:tls";
import { gunzipSync, inflateSync } from "node:zlib";
import { RecordStore, type ReceivedRecords, type StoredRecord } from "./record-store.ts";

export type { StoredRecord } from "./record-store.ts";

/**
 * A Fluentd `in_http` look-alike for tests, the demo and benchmarks, following
 * /work/shared/reference/fluentd-in-http.md: mTLS with a required client certificate, tag from the
 * path, object or array bodies (gzip or deflate Content-Encoding inflated), 200 with an empty body, malformed JSON accepted and dropped, a bad
 * `time` refusing the whole request with 400, 413 above 32 MiB, idle keep-alive connections closed.
 *
 * Built on node:https rather than Bun.serve because the faults need the raw socket: Bun.serve cannot
 * destroy a connection (an erroring response stream does reset it, but Bun prints every such error),
 * and its idleTimeout counts whole seconds, where tests want a short, exact idle close.
 */

export interface FakeFluentdOptions {
  /** PEM strings. The client certificate must be signed by `ca`. */
  ca: string;
  cert: string;
  key: string;
  passphrase?: string;
  port?: number;
  host?: string;
  /** Appends `<tag>.jsonl` files here (buffered); omitted = memory only. */
  outDir?: string;
  /** Keep records and the request log in memory (default true; the standalone server turns it off). */
  keepRecords?: boolean;
  /** Fluentd's keepalive_timeout (default 10 s). */
  idleTimeoutMs?: number;
  /** Fluentd's body_size_limit (default 32 MiB). */
  bodyLimit?: number;
  /** 200 like Fluentd, 204 like `use_204_response`, 201 like Fluent Bit. */
  successStatus?: number;
}

export interface ReceivedRequest {
  tag: string;
  status: number;
  bytes: number;
  /** The raw body (tests compare it byte for byte). */
  body: string;
  /** Records stored from this request. */
  stored: number;
  headers: Record<string, string | string[] | undefined>;
  /** The fault that answered it, if any. */
  fault?: string;
}

export interface FakeFluentdFaults {
  /** The next `n` requests get `status` (default 500) and store nothing. */
  failNext(n: number, status?: number): void;
  /** The next `n` requests get 503 with `Retry-After: <seconds>`. */
  unavailableNext(n: number, retryAfterSeconds: number): void;
  /** Requests holding a record for which `predicate` is true get 400 and store nothing (null clears). */
  rejectWhen(predicate: ((record: Record<string, unknown>) => boolean) | null): void;
  /** While set, every request is answered `307 Location: <location>` and stores nothing (null clears). */
  redirect(location: string | null): void;
  /** Delay before answering each request. */
  latencyMs: number;
  /** The next `n` requests have their connection destroyed instead of an answer. */
  resetNext(n: number): void;
  /** Closes the listener and every connection, reopens on the same port after `ms`; resolves when back. */
  down(ms: number): Promise<void>;
}

export interface FakeFluentd extends ReceivedRecords {
  port: number;
  url(tag: string): string;
  /** Every request answered (empty when `keepRecords` is false; see requestCount). */
  requests: ReceivedRequest[];
  requestCount(): number;
  /** The most requests ever handled at the same time. */
  peakInFlight(): number;
  /** Requests received and not yet answered. */
  inFlight(): number;
  /** TLS connections accepted so far. */
  connectionCount(): number;
  /** TLS connections open now (tests wait for 0 after an idle timeout or a killed client). */
  openConnections(): number;
  /** False from the moment `faults.down` has closed the listener until it listens again. */
  listening(): boolean;
  faults: FakeFluentdFaults;
  stop(): Promise<void>;
}

const DEFAULT_BODY_LIMIT = 32 * 1024 * 1024;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/;

class BadRequest extends Error {}

function tagOf(url: string | undefined): string {
  const path = (url ?? "/").split("?")[0]!;
  return decodeURIComponent(path).replace(/^\/+/, "").replaceAll("/", ".");
}

function inflate(body: Buffer, encoding: string | undefined): Buffer {
  if (encoding === "gzip") return gunzipSync(body);
  if (encoding === "deflate") return inflateSync(body);
  return body;
}

/** The records of a body as in_http's json parser sees them: [] for anything that is not JSON objects. */
function parseRecords(body: string): Record<string, unknown>[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return [];
  }
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  if (Array.isArray(parsed)) return parsed.filter(isObject);
  return isObject(parsed) ? [parsed] : [];
}

function extractTime(record: Record<string, unknown>): string | undefined {
  if (!("time" in record)) return undefined;
  const time = record.time;
  if (typeof time !== "string" || !ISO_DATE.test(time) || Number.isNaN(Date.parse(time))) {
    throw new BadRequest(`value must be a time string: ${JSON.stringify(time)}`);
  }
  delete record.time;
  return time;
}

export async function startFakeFluentd(opts: FakeFluentdOptions): Promise<FakeFluentd> {
  const host = opts.host ?? "127.0.0.1";
  const idleTimeoutMs = opts.idleTimeoutMs ?? 10_000;
  const bodyLimit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const keepRecords = opts.keepRecords ?? true;
  const store = new RecordStore<StoredRecord>({ outDir: opts.outDir, keepRecords });
  const requests: ReceivedRequest[] = [];
  let requestCount = 0;
  let inFlight = 0;
  let peakInFlight = 0;
  let connectionCount = 0;
  const logRequest = (entry: ReceivedRequest) => {
    requestCount++;
    if (keepRecords) requests.push(entry);
  };
  const sockets = new Set<TLSSocket>();
  const idleTimers = new Map<TLSSocket, ReturnType<typeof setTimeout>>();
  let failures: { n: number; status: number; retryAfter?: number } = { n: 0, status: 500 };
  let resets = 0;
  let reject: ((record: Record<string, unknown>) => boolean) | null = null;
  let redirectTo: string | null = null;
  /** Validates all first: one bad time refuses the whole request and stores nothing, as in_http does. */
  function storeAll(tag: string, records: Record<string, unknown>[]): void {
    store.add(tag, records.map((record) => ({ tag, time: extractTime(record), record })));
  }

  function armIdleClose(socket: TLSSocket): void {
    clearTimeout(idleTimers.get(socket));
    idleTimers.set(socket, setTimeout(() => socket.destroy(), idleTimeoutMs));
  }

  function answer(res: ServerResponse, log: ReceivedRequest, status: number, body = "", headers: Record<string, string> = {}): void {
    log.status = status;
    logRequest(log);
    res.writeHead(status, { "Content-Length": String(Buffer.byteLength(body)), ...headers });
    res.end(body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const socket = req.socket as TLSSocket;
    const log: ReceivedRequest = {
      tag: tagOf(req.url),
      status: 0,
      bytes: body.length,
      body: keepRecords ? body.toString("utf8") : "",
      stored: 0,
      headers: { ...req.headers },
    };
    if (faults.latencyMs > 0) {
      await Bun.sleep(faults.latencyMs);
      // A client that gave up never saw an acknowledgement; storing anyway would only blur what
      // tests can check (real Fluentd would store it: that is the at-least-once gap).
      if (socket.destroyed) return logRequest({ ...log, fault: "client gone" });
    }
    if (resets > 0) {
      resets--;
      logRequest({ ...log, fault: "reset" });
      socket.destroy();
      return;
    }
    if (redirectTo !== null) return answer(res, { ...log, fault: "redirect" }, 307, "", { Location: redirectTo });
    if (failures.n > 0) {
      failures.n--;
      const headers: Record<string, string> = failures.retryAfter === undefined ? {} : { "Retry-After": String(failures.retryAfter) };
      return answer(res, { ...log, fault: `status ${failures.status}` }, failures.status, `${failures.status} Injected failure\n`, headers);
    }
    // in_http inflates gzip and deflate bodies (Content-Encoding) and answers 400 when that fails.
    let payload: Buffer;
    try {
      payload = inflate(body, req.headers["content-encoding"]);
    } catch {
      return answer(res, { ...log, fault: "undecodable body" }, 400);
    }
    if (keepRecords && payload !== body) log.body = payload.toString("utf8");
    const records = parseRecords(payload.toString("utf8"));
    if (reject && records.some(reject)) return answer(res, { ...log, fault: "rejectWhen" }, 400, "400 Bad Request\nrejected by fault injection\n");
    try {
      storeAll(log.tag, records);
    } catch (err) {
      if (err instanceof BadRequest) return answer(res, log, 400, `400 Bad Request\n${err.message}\n`);
      throw err;
    }
    log.stored = records.length;
    answer(res, log, opts.successStatus ?? 200);
  }

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket as TLSSocket;
    clearTimeout(idleTimers.get(socket));
    inFlight++;
    peakInFlight = Math.max(peakInFlight, inFlight);
    res.on("close", () => inFlight--);
    res.on("finish", () => armIdleClose(socket));
    const tooLarge = () => {
      logRequest({ tag: tagOf(req.url), status: 413, bytes: 0, body: "", stored: 0, headers: { ...req.headers } });
      res.writeHead(413, { Connection: "close", "Content-Length": "0" });
      res.end(() => socket.destroy());
    };
    if (Number(req.headers["content-length"] ?? 0) > bodyLimit) return tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > bodyLimit && !refused) {
        refused = true;
        tooLarge();
      }
      if (!refused) chunks.push(chunk);
    });
    req.on("end", () => {
      if (!refused) void handle(req, res, Buffer.concat(chunks)).catch(() => socket.destroy());
    });
  }

  function listen(port: number): Promise<Server> {
    const server = createServer({ ca: opts.ca, cert: opts.cert, key: opts.key, passphrase: opts.passphrase, requestCert: true, rejectUnauthorized: true }, onRequest);
    server.on("secureConnection", (socket: TLSSocket) => {
      sockets.add(socket);
      connectionCount++;
      armIdleClose(socket);
      socket.on("close", () => {
        sockets.delete(socket);
        clearTimeout(idleTimers.get(socket));
        idleTimers.delete(socket);
      });
    });
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve(server));
    });
  }

  async function close(server: Server): Promise<void> {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  }

  let server = await listen(opts.port ?? 0);
  let up = true;
  const port = (server.address() as { port: number }).port;

  const faults: FakeFluentdFaults = {
    latencyMs: 0,
    failNext: (n, status = 500) => void (failures = { n, status }),
    unavailableNext: (n, retryAfterSeconds) => void (failures = { n, status: 503, retryAfter: retryAfterSeconds }),
    rejectWhen: (predicate) => void (reject = predicate),
    redirect: (location) => void (redirectTo = location),
    resetNext: (n) => void (resets = n),
    async down(ms) {
      await close(server);
      up = false;
      await Bun.sleep(ms);
      server = await listen(port);
      up = true;
    },
  };

  return {
    port,
    url: (tag) => `https://localhost:${port}/${tag}`,
    ...store.view(),
    requests,
    requestCount: () => requestCount,
    peakInFlight: () => peakInFlight,
    inFlight: () => inFlight,
    connectionCount: () => connectionCount,
    openConnections: () => sockets.size,
    listening: () => up,
    faults,
    async stop() {
      store.close();
      await close(server);
    },
  };
}
