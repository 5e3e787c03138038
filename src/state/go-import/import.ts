import { existsSync, renameSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { databasePath, ensureStorageDir } from "../database.ts";
import { StateStore } from "../store.ts";
import { type GoState, otherGoStateDirs, readGoState } from "./read.ts";

export interface GoImportOutcome {
  /** What was imported; undefined when our state already existed or there was no Go state. */
  imported?: GoState;
  /** Our state file for the cluster. */
  path: string;
  /** Set when our state already existed: nothing was read. */
  existed: boolean;
  /** Go state kept under another teleport-addr (not imported: the Go tool keys its state by address). */
  elsewhere: string[];
}

function removeDatabase(path: string): void {
  for (const file of [path, `${path}-wal`, `${path}-shm`]) rmSync(file, { force: true });
}

/**
 * Builds our state from the Go tool's in a side file and renames it into place, so a crash or a
 * failure at any point leaves our state absent and the next start imports again; once the file
 * exists, the import never runs a second time.
 */
export function writeImported(path: string, clusterName: string, go: GoState, now: Date): void {
  const building = `${path}.go-import`;
  removeDatabase(building);
  try {
    const store = StateStore.open(building, { create: true });
    try {
      store.setClusterName(clusterName);
      store.importGoState(go, now);
    } finally {
      store.close();
    }
    if (existsSync(`${building}-wal`)) throw new Error(`the write-ahead log of ${building} was not folded in at close`);
    renameSync(building, path);
  } catch (err) {
    removeDatabase(building);
    throw err;
  }
}

/**
 * Imports the Go tool's state from `goDir` when our state for `clusterName` does not exist yet.
 * The Go files are only read: a user may still roll back to the Go binary.
 */
export function importGoState(storageDir: string, clusterName: string, goDir: string, now = new Date()): GoImportOutcome {
  const path = databasePath(storageDir, clusterName);
  if (existsSync(path)) return { path, existed: true, elsewhere: [] };
  const go = readGoState(goDir);
  if (!go) return { path, existed: false, elsewhere: otherGoStateDirs(dirname(goDir), goDir) };
  ensureStorageDir(storageDir);
  writeImported(path, clusterName, go, now);
  return { imported: go, path, existed: false, elsewhere: [] };
}
