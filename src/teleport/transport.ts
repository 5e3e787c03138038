import { formatHostPort, type HostPort } from "../config/values.ts";
import type { Transport } from "@connectrpc/connect";
import { Http2SessionManager } from "@connectrpc/connect-node";
import { ConfigError } from "../errors.ts";
import type { TeleportCredentials } from "./credentials.ts";
import { createGrpcCalls } from "./grpc-calls.ts";
import { RAW_DECODERS } from "./raw-audit-log.ts";

/**
 * The gRPC connection to Teleport: HTTP/2 over mutual TLS, as Teleport's Go API client makes it.
 * Credentials can be swapped (identity refresh) without breaking calls in flight: each credential
 * generation has its own HTTP/2 session, retired once its last call has finished.
 */

/** The `version` metadata Teleport's API client sends on every call (api/constants.Version). */
const TELEPORT_API_VERSION = "17.0.0";
/** Teleport puts this name in every Auth server certificate; we verify it whatever address we dial. */
const TELEPORT_SERVER_NAME = "teleport.cluster.local";
const CONNECT_TIMEOUT_MS = 30_000;
/**
 * HTTP/2 receive window, per stream and for the connection. The default 64 KiB connection window
 * is shared by every stream, so over a WAN all recordings together moved at most 64 KiB per round
 * trip (50 ms: 1.3 MB/s) whatever `concurrency` was. Equal stream and connection windows on
 * purpose: with Bun's http2 a stream window far below the connection's stalls streams.
 */
export const RECEIVE_WINDOW_BYTES = 4 << 20;
/** Proxy web ports where TLS routing is on by default (`auto`). */
const TLS_ROUTING_PORTS = new Set([443, 3080]);

export type TlsRouting = "auto" | "on" | "off";

export interface TransportTarget {
  addr: HostPort;
  tlsRouting: TlsRouting;
  /** Needed for TLS routing; from the `teleport-cluster` setting or the identity's CA. */
  clusterName?: string;
}

/** ALPN for the Proxy's TLS router: route the raw TLS stream to Auth of this cluster, then h2. */
function authRoutingProtocol(clusterName: string): string {
  return `teleport-auth@${Buffer.from(clusterName, "utf8").toString("hex")}.${TELEPORT_SERVER_NAME}`;
}

export function alpnProtocols(target: TransportTarget): string[] {
  const { port } = target.addr;
  const routed = target.tlsRouting === "on" || (target.tlsRouting === "auto" && TLS_ROUTING_PORTS.has(port));
  if (!routed) return ["h2"];
  if (!target.clusterName) {
    throw new ConfigError(`teleport-cluster: TLS routing through the Proxy (${formatHostPort(target.addr)}) needs the cluster name; set teleport-cluster or use an identity whose CA names it`);
  }
  return [authRoutingProtocol(target.clusterName), "h2"];
}

/** Widens each session's connection window once, on its first stream (the session is made lazily). */
class WideWindowSessionManager extends Http2SessionManager {
  private readonly widened = new WeakSet<object>();

  override async request(...args: Parameters<Http2SessionManager["request"]>): ReturnType<Http2SessionManager["request"]> {
    const stream = await super.request(...args);
    const session = stream.session;
    if (session && !this.widened.has(session)) {
      this.widened.add(session);
      session.setLocalWindowSize(RECEIVE_WINDOW_BYTES);
    }
    return stream;
  }
}

interface Generation {
  /** The calls go straight on the session's HTTP/2 streams (grpc-calls.ts). */
  calls: Pick<Transport, "unary" | "stream">;
  session: Http2SessionManager;
  inFlight: number;
  retired: boolean;
}

export class SwappableTransport implements Transport {
  private current: Generation;
  private readonly generations = new Set<Generation>();

  constructor(
    private readonly target: TransportTarget,
    creds: TeleportCredentials,
  ) {
    this.current = this.build(creds);
  }

  private build(creds: TeleportCredentials): Generation {
    const baseUrl = `https://${formatHostPort(this.target.addr)}`;
    const session = new WideWindowSessionManager(
      baseUrl,
      { pingIntervalMs: 60_000, pingTimeoutMs: 180_000, pingIdleConnection: true, connectTimeoutMs: CONNECT_TIMEOUT_MS },
      {
        key: creds.keyPem,
        cert: creds.certPem,
        ca: creds.caPems,
        servername: TELEPORT_SERVER_NAME,
        ALPNProtocols: alpnProtocols({ ...this.target, clusterName: this.target.clusterName ?? creds.clusterName }),
        settings: { initialWindowSize: RECEIVE_WINDOW_BYTES },
      },
    );
    const calls = createGrpcCalls({ session, header: { version: TELEPORT_API_VERSION }, decoders: RAW_DECODERS });
    const gen: Generation = { calls, session, inFlight: 0, retired: false };
    this.generations.add(gen);
    return gen;
  }

  /** New calls use the new credentials; calls in flight finish on the old session. */
  swap(creds: TeleportCredentials): void {
    const old = this.current;
    this.current = this.build(creds);
    old.retired = true;
    this.closeIfDone(old);
  }

  private closeIfDone(gen: Generation): void {
    if (gen.retired && gen.inFlight === 0) {
      gen.session.abort();
      this.generations.delete(gen);
    }
  }

  private finish(gen: Generation): void {
    gen.inFlight--;
    this.closeIfDone(gen);
  }

  unary: Transport["unary"] = async (...args) => {
    const gen = this.current;
    gen.inFlight++;
    try {
      return await gen.calls.unary(...args);
    } finally {
      this.finish(gen);
    }
  };

  stream: Transport["stream"] = async (...args) => {
    const gen = this.current;
    gen.inFlight++;
    let res;
    try {
      res = await gen.calls.stream(...args);
    } catch (err) {
      this.finish(gen);
      throw err;
    }
    const messages = res.message;
    const release = () => this.finish(gen);
    async function* tracked() {
      try {
        yield* messages;
      } finally {
        release();
      }
    }
    return { ...res, message: tracked() };
  };

  close(): void {
    for (const gen of this.generations) gen.session.abort();
    this.generations.clear();
  }
}
