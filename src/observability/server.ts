import type { ObservabilityConfig } from "../config/options.ts";
import { formatHostPort, type HostPort } from "../config/values.ts";
import { ConfigError } from "../errors.ts";
import { logger } from "../logger.ts";
import { health as defaultHealth, type Health } from "./health.ts";
import { registry } from "./metrics.ts";

export interface MetricsServer {
  port: number;
  stop(): Promise<void>;
}

export function startMetricsServer(config: ObservabilityConfig & { metricsAddr: HostPort }, health: Health = defaultHealth): MetricsServer {
  const { host, port } = config.metricsAddr;
  const addr = formatHostPort(config.metricsAddr);
  let server: ReturnType<typeof serve>;
  try {
    server = serve(host, port, config.readyFailurePeriod, health);
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
  logger.info(`Serving metrics on http://${formatHostPort({ host, port: server.port ?? port })}/metrics (also /healthz, /readyz)`);
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
