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

export function startMetricsServer(config: Pick<ObservabilityConfig, "readyFailurePeriod"> & { metricsAddr: HostPort }, health: Health = defaultHealth): MetricsServer {
  const { host, port } = config.metricsAddr;
  const readyFailurePeriodMs = config.readyFailurePeriod;
  const fetch = async (req: Request): Promise<Response> => {
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
  };
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({ hostname: host, port, fetch });
  } catch (err) {
    // A port in use, privileged or on an address this host lacks is a setting to change, not a crash.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EADDRINUSE" && code !== "EACCES" && code !== "EADDRNOTAVAIL") throw err;
    throw new ConfigError(`metrics-addr ${formatHostPort(config.metricsAddr)}: cannot listen (${code}); choose a free port on an address of this host`);
  }
  logger.info(`Serving metrics on http://${formatHostPort({ host, port: server.port ?? port })}/metrics (also /healthz, /readyz)`);
  return { port: server.port ?? port, stop: () => server.stop(true) };
}
