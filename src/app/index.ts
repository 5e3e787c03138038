import { unknownTypeWarnings } from "../export/index.ts";
import type { Config } from "../config/options.ts";
import { EXIT_DEAD_LETTERED } from "../errors.ts";
import { logger } from "../logger.ts";
import { startMetricsServer } from "../observability/server.ts";
import { createFluentdSink } from "../fluentd/index.ts";
import { createTeleportSource } from "../teleport/index.ts";
import { goStateDirOf } from "./migrate.ts";
import { runWithParts } from "./run.ts";

/**
 * Wires the configuration into the export jobs and runs them until they finish or the process is
 * told to stop. Resolves to the process exit code.
 */
export async function runApp(config: Config): Promise<number> {
  for (const warning of unknownTypeWarnings(config.ingest)) logger.warn(warning);
  // Both are built before anything runs so that bad key material fails at start-up, in one line.
  const sink = await createFluentdSink(config.fluentd);
  const source = await createTeleportSource(config.teleport);
  const { metricsAddr } = config.observability;
  const metrics = metricsAddr ? startMetricsServer({ ...config.observability, metricsAddr }) : undefined;
  try {
    const stats = await runWithParts({ source, sink, config, goStateDir: goStateDirOf(config), handleSignals: true });
    logger.info("Successfully shut down");
    // A scheduler must be able to tell "caught up" from "caught up, but events are parked".
    if (config.ingest.exitOnLastEvent && stats.deadLettered > 0) {
      logger.warn(`${stats.deadLettered} events were dead-lettered in this run; see dead-letters list (exit ${EXIT_DEAD_LETTERED})`);
      return EXIT_DEAD_LETTERED;
    }
    return 0;
  } finally {
    await metrics?.stop();
    await source.close();
    await sink.close();
  }
}
