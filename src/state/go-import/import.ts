import { existsSync, readdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { databasePath, ensureStorageDir } from "../database.ts";
import { StateStore } from "../store.ts";
import { type GoState, otherGoStateDirs, readGoState } from "./read.ts";

export interface GoImportOutcome {
  /** What was imported; undefined when our state already existed or there was no Go state. */
  imported?: GoState;
  /** Where the Go tool keeps its state for this teleport-addr. */
  goDir: string;
  /** Our state file for the cluster. */
  path: string;
  /** Set when our state already existed: nothing was read. */
  existed: boolean;
  /** Go state kept under another teleport-addr (not imported: the Go tool keys its state by address). */
  elsewhere: string[];
  /** Our state file of another cluster name that already imported this Go state (it is not imported twice). */
  importedBefore?: string;
}

/**
 * Our state file that already took over `goDir`: when Teleport's cluster name changed since, the
 * new name's state is fresh, yet importing the same Go position again would re-send everything
 * delivered since the first import.
 */
function earlierImport(storageDir: string, goDir: string): string | undefined {
  if (!existsSync(storageDir)) return undefined;
  for (const file of readdirSync(storageDir).filter((f) => f.endsWith(".sqlite"))) {
    const path = join(storageDir, file);
    const state = StateStore.open(path, { create: false, readonly: true });
    try {
      if (state.meta.goImport()?.dir === goDir) return path;
    } finally {
      state.close();
    }
  }
  return undefined;
}

function removeDatabase(path: string): void {
  for (const file of [path, `${path}-wal`, `${path}-shm`]) rmSync(file, { force: true });
}

/**
 * Takes over the Go tool's position. Sessions whose upload time the Go tool did not keep are
 * stamped `now`, so the 48-hour cutoff for missing recordings counts from the import, under the
 * usual attempt limit.
 */
function writeGoState(store: StateStore, go: GoState, now: Date): void {
  if (go.startTime) store.meta.settleStartTime(go.startTime, now);
  if (go.legacy) store.checkpoints.write({ kind: "legacy", checkpoint: go.legacy, seekFinished: false });
  for (const date of go.bulkDates) store.checkpoints.addBulkDate(date);
  for (const progress of go.bulkChunks) store.checkpoints.write({ kind: "chunk", progress });
  if (go.bulkDates.length > 0) store.meta.setEngine("bulk");
  for (const s of go.sessions) {
    store.sessions.restore({ sid: s.sid, nextIndex: s.index, uploadTime: now, attempts: 0, status: "pending", notBefore: new Date(0) });
  }
  for (const m of go.missing) {
    store.sessions.restore({ sid: m.sid, nextIndex: m.index, uploadTime: m.uploadTime ?? now, attempts: m.attempts, status: "missing", notBefore: now });
  }
  store.meta.setGoImport(go.dir, now);
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
      store.transaction(() => {
        store.meta.setClusterName(clusterName);
        writeGoState(store, go, now);
      });
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
  if (existsSync(path)) return { goDir, path, existed: true, elsewhere: [] };
  const importedBefore = earlierImport(storageDir, goDir);
  if (importedBefore) return { goDir, path, existed: false, elsewhere: [], importedBefore };
  const go = readGoState(goDir);
  if (!go) return { goDir, path, existed: false, elsewhere: otherGoStateDirs(dirname(goDir), goDir) };
  ensureStorageDir(storageDir);
  writeImported(path, clusterName, go, now);
  return { imported: go, goDir, path, existed: false, elsewhere: [] };
}
