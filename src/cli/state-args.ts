import { readFileSync } from "node:fs";
import { parse } from "smol-toml";
import { findStateFile } from "../state/index.ts";

/** The arguments every command that reads the export state takes. */
export const stateArgs = {
  storage: { type: "string", description: "Storage directory of the export (env FDFWD_STORAGE)" },
  config: { type: "string", description: "TOML configuration file to read `storage` from" },
  cluster: { type: "string", description: "Cluster to report on, when the storage holds several" },
} as const;

/**
 * Finds the state file from --storage, FDFWD_STORAGE or the config's `storage`, in that order,
 * without connecting to Teleport (these commands must work while Teleport is down).
 */
export function resolveStateFile(args: { storage?: string; config?: string; cluster?: string }): string {
  let storage = args.storage ?? process.env.FDFWD_STORAGE;
  if (!storage && args.config) {
    const value = parse(readFileSync(args.config, "utf8")).storage;
    if (typeof value === "string") storage = value;
  }
  if (!storage) throw new Error("storage is not set: pass --storage, set FDFWD_STORAGE, or pass --config with a `storage` key");
  return findStateFile(storage, args.cluster);
}
