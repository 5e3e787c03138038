import { Database } from "bun:sqlite";
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../errors.ts";
import { migrate, StateTooNewError } from "./schema.ts";

/** The file is not a healthy state database; the user restores it or moves it away. */
export class StateUnreadableError extends UserError {
  constructor(path: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super(
      `state database ${path} is unreadable (${detail}); it is left untouched: restore it from a backup, or move it away to start the export from scratch`,
    );
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
 * Opens (creating when `create`) the state database. Durability: WAL with synchronous=FULL fsyncs
 * the log on every commit, so a committed checkpoint survives power loss, not only kill -9. The
 * cost is one fsync per delivered batch, which is negligible next to an HTTPS round trip.
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
      db.exec("PRAGMA synchronous = FULL");
    }
    const check = db.query("PRAGMA quick_check").get() as Record<string, string> | null;
    const verdict = check ? Object.values(check)[0] : undefined;
    if (verdict !== "ok") throw new Error(`integrity check failed: ${verdict ?? "no answer"}`);
    if (!opts.readonly) migrate(db, path);
  } catch (err) {
    db?.close();
    if (err instanceof StateTooNewError) throw err;
    throw new StateUnreadableError(path, err);
  }
  if (!opts.readonly) restrictPermissions(path);
  return db;
}
