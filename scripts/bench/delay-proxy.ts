import net from "node:net";

/**
 * A TCP proxy on 127.0.0.1 that adds a fixed delay to every byte in each direction, so a
 * round trip through it costs `rttMs` more: a WAN in front of a local fake without root or netem.
 * It forwards bytes, not requests, so TLS and HTTP/2 pass through untouched.
 *
 * Each direction keeps its chunks in arrival order with the time they are due and writes them
 * from one timer, so the delay never reorders a stream (one timer per chunk would rely on timers
 * of equal delay firing in insertion order). Bandwidth is not limited: the benchmark is about
 * round trips.
 */
export interface DelayProxy {
  port: number;
  /** Connections accepted so far (each one costs the peer a TCP and TLS handshake through the delay). */
  readonly connections: number;
  close(): Promise<void>;
}

export async function startDelayProxy(target: { host: string; port: number }, rttMs: number): Promise<DelayProxy> {
  const oneWayMs = rttMs / 2;
  const sockets = new Set<net.Socket>();
  let connections = 0;

  /** Copies `from` into `to`, each chunk `oneWayMs` after it arrived; ends `to` after the last one. */
  function delayed(from: net.Socket, to: net.Socket): void {
    const due: { at: number; chunk: Buffer | null }[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const pump = () => {
      timer = undefined;
      const now = performance.now();
      while (due.length > 0 && due[0]!.at <= now) {
        const { chunk } = due.shift()!;
        if (chunk === null) to.end();
        else if (!to.destroyed) to.write(chunk);
      }
      if (due.length > 0) timer = setTimeout(pump, due[0]!.at - now);
    };
    const enqueue = (chunk: Buffer | null) => {
      due.push({ at: performance.now() + oneWayMs, chunk });
      timer ??= setTimeout(pump, oneWayMs);
    };
    let ended = false;
    const end = () => {
      if (!ended) enqueue(null);
      ended = true;
    };
    from.on("data", (chunk: Buffer) => enqueue(chunk));
    // A close passes on as a delayed end, so bytes still in flight arrive first.
    from.on("end", end);
    from.on("close", end);
  }

  const server = net.createServer((client) => {
    connections++;
    const upstream = net.connect(target.port, target.host);
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    }
    // A reset on one side resets the other at once: the peer sees the failure, as it would on a WAN.
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    delayed(client, upstream);
    delayed(upstream, client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
