import type { Config } from "../config/options.ts";
import { UserError } from "../errors.ts";
import { logger } from "../logger.ts";
import { describeGoState, type GoImportOutcome, goStateDir, importGoState, readGoState } from "../state/go-import/index.ts";
import { acquireInstanceLock, databasePath, ensureStorageDir, StateStore } from "../state/index.ts";
import { createTeleportSource } from "../teleport/index.ts";

/** Where the Go tool kept its state for this teleport-addr (it names the directory after the address). */
export function goStateDirOf(config: Pick<Config, "ingest" | "teleport">): string {
  return goStateDir(config.ingest.storage, config.teleport.addr);
}

/** Each damaged Go file with what was done instead, and Go state that was not taken, one line each. */
function importWarnings(outcome: GoImportOutcome): string[] {
  const lines = [...(outcome.imported?.warnings ?? [])];
  if (outcome.importedBefore) {
    lines.push(
      `the Go tool's state in ${outcome.goDir} was already imported into ${outcome.importedBefore} (the cluster's name has changed since); it is not imported again, so ${outcome.path} starts from start-time`,
    );
  }
  for (const dir of outcome.elsewhere) {
    lines.push(`${dir} holds the Go tool's state for another teleport-addr and is not imported (the Go tool names its state after the address)`);
  }
  return lines;
}

/** Logs what an import at first start took over: the warnings, then one summary line. */
export function reportImport(outcome: GoImportOutcome): void {
  for (const warning of importWarnings(outcome)) logger.warn(warning);
  const go = outcome.imported;
  if (go) logger.info(`imported the Go tool's state from ${go.dir} into ${outcome.path}: ${describeGoState(go)}; the Go files are left unchanged`);
}

function readImportOrigin(path: string): { dir: string; at: Date } | undefined {
  const state = StateStore.open(path, { create: false, readonly: true });
  try {
    return state.meta.goImport();
  } finally {
    state.close();
  }
}

/**
 * The cluster our state file is named after, asked from Teleport as `start` asks it: a name taken
 * from the settings could differ, and `start` would then find a fresh state instead of the import.
 */
async function clusterNameOf(config: Config): Promise<string> {
  const source = await createTeleportSource(config.teleport);
  try {
    return (await source.ping()).clusterName;
  } finally {
    await source.close();
  }
}

/**
 * `migrate`: the import `start` runs at first start, on demand. With dry-run it only reads the Go
 * state and prints what would be imported (no Teleport connection, nothing written). Returns the
 * exit code: 0 when imported, already imported or nothing to import; a state of ours that exists
 * without the import is a UserError (exit 2), since importing over it would rewind the export.
 */
export async function runMigrate(config: Config, print: (line: string) => void): Promise<number> {
  const goDir = goStateDirOf(config);
  if (config.ingest.dryRun) {
    const go = readGoState(goDir);
    if (!go) {
      print(`no Go state in ${goDir}: nothing would be imported`);
      return 0;
    }
    for (const warning of go.warnings) print(`warning: ${warning}`);
    print(`would import from ${goDir}: ${describeGoState(go)}`);
    return 0;
  }
  const { storage } = config.ingest;
  ensureStorageDir(storage);
  const lock = acquireInstanceLock(storage);
  try {
    const cluster = await clusterNameOf(config);
    const outcome = importGoState(storage, cluster, goDir);
    if (outcome.existed) {
      const imported = readImportOrigin(outcome.path);
      if (imported?.dir === goDir) {
        print(`already imported from ${goDir} on ${imported.at.toISOString()}: nothing to do`);
        return 0;
      }
      throw new UserError(
        `the state of cluster ${cluster} already exists in ${databasePath(storage, cluster)}, so the Go tool's state is not imported over it (the import only runs before the first start)`,
      );
    }
    if (outcome.importedBefore) {
      print(`already imported from ${goDir} into ${outcome.importedBefore}: nothing to do`);
      return 0;
    }
    for (const warning of importWarnings(outcome)) print(`warning: ${warning}`);
    if (!outcome.imported) print(`no Go state in ${goDir}: nothing imported`);
    else print(`imported from ${goDir} into ${outcome.path}: ${describeGoState(outcome.imported)}`);
    return 0;
  } finally {
    lock.release();
  }
}
