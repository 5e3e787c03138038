import type { Config } from "../config/options.ts";
import { logger } from "../logger.ts";

/**
 * Wires the configuration into the export jobs and runs them until they finish or the process is
 * told to stop. Resolves to the process exit code.
 *
 * Placeholder: the export pipeline is not built yet, and `start` must not pretend it exported
 * anything, so this fails loudly.
 */
export async function runApp(config: Config): Promise<number> {
  void config;
  logger.error("the export pipeline is not built yet; nothing was exported");
  return 1;
}
