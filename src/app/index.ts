import type { Config } from "../config/options.ts";
import { logger } from "../logger.ts";
import { startMetricsServer } from "../observability/server.ts";
import { createFluentdSink } from "../fluentd/index.ts";
import { createTeleportSource } from "../teleport/index.ts";
import { runWithParts } from "./run.ts";

/**
 * Wires the configuration into the export jobs and runs them until they finish or the process is
 * told to stop. Resolves to the process exit code.
 */
export async function runApp(config: Config): Promise<number> {
  // Both are built before anything runs so that bad key material fails at start-up, in one line.
  const sink = await createFluentdSink(config.fluentd);
  const source = await createTeleportSource(config.teleport);
  const { metricsAddr } = config.observability;
  const metrics = metricsAddr ? startMetricsServer({ ...config.observability, metricsAddr }) : undefined;
  try {
    await runWithParts({ source, sink, config, handleSignals: true });
    logger.info("Successfully shut down");
    return 0;
  } finally {
    await metrics?.stop();
    await source.close();
    await sink.close();
  }
}
