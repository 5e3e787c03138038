import { Database } from "bun:sqlite";
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import { migrate } from "./schema.ts";

export class StateUnreadableError extends Error {
  constructor(path: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super(
      `state database ${path} is unreadable (${detail}); it is left untouched: restore it from a backup, or move it away to start the export from scratch`,
    );
    this.name = "StateUnreadableError";
  }
}

/** Cluster names become file names: keep them readable but never let them escape the directory. */
function databaseFileName(clusterName: string): string {
  const safe = clusterName.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "_");
  return `${safe || "cluster"}.sqlite`;
}

export function databasePath(storageDir: string, clusterName: string): string {
  return join(storageDir, databaseFileName(clusterName));
}

export function ensureStorageDir(storageDir: string): void {
  mkdirSync(storageDir, { recursive: true, mode: 0o700 });
}

function restrictPermissions(path: string): void {
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    if (existsSync(file)) chmodSync(file, 0o600);
  }
}

/**
 * Opens (creating when `create`) the state database. Durability: WAL with synchronous=NORMAL. A
 * commit reaches the operating system at once, so it survives kill -9 and any crash of the
 * process; only a power loss or kernel crash can lose the last commits before the next WAL sync.
 * Those roll back whole (WAL frames are checksummed in a chain): checkpoint, session queue and
 * dead letters together, so the export re-sends what they covered and never skips
 * (test/state/durability.test.ts). FULL cost an fsync per commit, ~7 ms on the benchmark machine
 * against 0.2 ms, and bun:sqlite runs it on the event loop: with two commits per recording it
 * was a serial point no concurrency could overlap (BENCHMARKS.md, round 3).
 */
export function openDatabase(path: string, opts: { create: boolean; readonly?: boolean }): Database {
  if (opts.create && !existsSync(path)) closeSync(openSync(path, "a", 0o600));
  if (!existsSync(path)) throw new StateUnreadableError(path, new Error("no such file"));
  let db: Database | undefined;
  try {
    db = new Database(path, opts.readonly ? { readonly: true } : { readwrite: true, create: false, strict: true });
    db.exec("PRAGMA busy_timeout = 5000");
    if (!opts.readonly) {
      db.exec("PRAGMA journal_mode = WAL");
      db.exec("PRAGMA synchronous = NORMAL");
    }
    const check = db.query("PRAGMA quick_check").get() as Record<string, string> | null;
    const verdict = check ? Object.values(check)[0] : undefined;
    if (verdict !== "ok") throw new Error(`integrity check failed: ${verdict ?? "no answer"}`);
    if (!opts.readonly) migrate(db, path);
  } catch (err) {
    db?.close();
    if (err instanceof Error && err.message.includes("newer than this binary")) throw err;
    throw new StateUnreadableError(path, err);
  }
  if (!opts.readonly) restrictPermissions(path);
  return db;
}
