import { ConfigError } from "../errors.ts";
import { loadConfig, loadSetting, type CliValues } from "../config/load.ts";
import type { Config } from "../config/options.ts";
import { configureLogger, logger } from "../logger.ts";
import { argsForOptions } from "./args.ts";

/**
 * How commands read their settings: the whole configuration (start, dead-letters retry), or only
 * the storage (status, dead-letters list/purge), always through the config loader, never by hand.
 */

/** The whole configuration; the TOML file may turn on debug or JSON logs, so logging follows it. */
export function loadCommandConfig(cli: CliValues): Config {
  const { config, warnings } = loadConfig({ cli, env: process.env, cwd: process.cwd() });
  configureLogger({ debug: config.global.debug, format: config.global.logFormat });
  for (const warning of warnings) logger.warn(warning);
  return config;
}

/** The arguments every command that reads the export state takes. */
export const stateArgs = {
  ...argsForOptions(["storage"]),
  cluster: { type: "string", description: "Cluster to report on, when the storage holds several" },
} as const;

/**
 * Finds the state file from `storage` as `start` resolves it (flag, FDFWD_STORAGE, then the config
 * file), without connecting to Teleport: these commands must work while Teleport is down.
 */
export async function resolveStateFile(cli: CliValues, cluster: string | undefined): Promise<string> {
  const storage = loadSetting("storage", { cli, env: process.env, cwd: process.cwd() }) as string | undefined;
  if (!storage) throw new ConfigError("storage is not set: pass --storage, set FDFWD_STORAGE, or pass --config with a `storage` key");
  // The state layer (SQLite) is loaded only by the commands that read it, not by `--help`.
  const { findStateFile } = await import("../state/index.ts");
  return findStateFile(storage, cluster);
}
