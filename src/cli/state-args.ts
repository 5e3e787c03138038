import { ConfigError } from "../errors.ts";
import { loadSetting, type CliValues } from "../config/load.ts";
import { findStateFile } from "../state/index.ts";

/** The arguments every command that reads the export state takes. */
export const stateArgs = {
  storage: { type: "string", description: "Storage directory of the export (env FDFWD_STORAGE)" },
  config: { type: "string", description: "TOML configuration file to read `storage` from (env FDFWD_CONFIG)" },
  cluster: { type: "string", description: "Cluster to report on, when the storage holds several" },
} as const;

/**
 * Finds the state file from `storage` as `start` resolves it (flag, FDFWD_STORAGE, then the config
 * file), without connecting to Teleport: these commands must work while Teleport is down.
 */
export function resolveStateFile(args: { storage?: string; config?: string; cluster?: string }): string {
  const cli: CliValues = {};
  if (args.storage !== undefined) cli.storage = [args.storage];
  if (args.config !== undefined) cli.config = [args.config];
  const storage = loadSetting("storage", { cli, env: process.env, cwd: process.cwd() }) as string | undefined;
  if (!storage) throw new ConfigError("storage is not set: pass --storage, set FDFWD_STORAGE, or pass --config with a `storage` key");
  return findStateFile(storage, args.cluster);
}
