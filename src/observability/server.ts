import { ConfigError } from "../errors.ts";
import { logger } from "../logger.ts";
import { health as defaultHealth, type Health } from "./health.ts";
import { registry } from "./metrics.ts";

export interface MetricsServer {
  port: number;
  stop(): Promise<void>;
}

/** Parses `host:port`, `:port` or `[v6]:port`; an empty host means loopback, never all interfaces. */
export function parseListenAddr(addr: string): { hostname: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr.trim());
  if (!match) throw new Error(`metrics-addr "${addr}" is not host:port; use e.g. 127.0.0.1:9464`);
  const port = Number(match[3]);
  if (port > 65535) throw new Error(`metrics-addr "${addr}" has an invalid port; use 0-65535`);
  return { hostname: match[1] ?? (match[2] || "127.0.0.1"), port };
}

export function startMetricsServer(addr: string, readyFailurePeriodMs: number, health: Health = defaultHealth): MetricsServer {
  const { hostname, port } = parseListenAddr(addr);
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = serve(hostname, port, readyFailurePeriodMs, health);
  } catch (err) {
    const code = String((err as { code?: string }).code ?? "");
    if (code === "EADDRINUSE" || /in use/i.test((err as Error).message)) {
      throw new ConfigError(`metrics-addr ${addr}: port ${port} is already in use by another process; choose a free port or stop that process`);
    }
    if (code === "EACCES" || code === "EADDRNOTAVAIL") {
      throw new ConfigError(`metrics-addr ${addr}: cannot listen there (${code}); use an address of this machine and a port above 1023`);
    }
    throw err;
  }
  logger.info(`Serving metrics on http://${hostname}:${server.port}/metrics (also /healthz, /readyz)`);
  return { port: server.port ?? port, stop: () => server.stop(true) };
}

function serve(hostname: string, port: number, readyFailurePeriodMs: number, health: Health) {
  return Bun.serve({
    hostname,
    port,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/metrics") {
        return new Response(await registry.metrics(), { headers: { "Content-Type": registry.contentType } });
      }
      if (path === "/healthz") return new Response("ok\n");
      if (path === "/readyz") {
        const { ready, reasons } = health.readiness(readyFailurePeriodMs);
        return new Response(ready ? "ready\n" : reasons.join("\n") + "\n", { status: ready ? 200 : 503 });
      }
      return new Response("not found\n", { status: 404 });
    },
  });
}
