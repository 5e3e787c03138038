import { Database } from "bun:sqlite";
import { chmodSync, closeSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, renameSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { ConfigError, UserError } from "../errors.ts";
import { migrate, refuseNewer, StateTooNewError } from "./schema.ts";
import { isCorruption, storageError } from "./storage-errors.ts";

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
  try {
    mkdirSync(storageDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw storageError(err, storageDir) ?? err;
  }
}

/** The state cannot be opened for a reason other than damage: said as such, never as "corrupt". */
export class StateInaccessibleError extends ConfigError {
  constructor(path: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super(`cannot open state database ${path} (${detail}); the file is not damaged: check that this user may read it and its directory (storage)`);
    this.name = "StateInaccessibleError";
  }
}

/**
 * Read-only commands on a state this user may read but not write (another user's service, a
 * read-only mount): SQLite still wants to create the WAL index next to it, so the file (and its
 * WAL) is copied to a private temporary directory and the copy is read.
 */
function openSnapshot(path: string): Database {
  const dir = mkdtempSync(join(tmpdir(), "teleport-event-handler-state-"));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  const copy = join(dir, basename(path));
  copyFileSync(path, copy);
  if (existsSync(`${path}-wal`)) copyFileSync(`${path}-wal`, `${copy}-wal`);
  const db = new Database(copy, { readwrite: true, create: false });
  checkIntegrity(db);
  refuseNewer(db, path);
  return db;
}

function checkIntegrity(db: Database): void {
  const check = db.query("PRAGMA quick_check").get() as Record<string, string> | null;
  const verdict = check ? Object.values(check)[0] : undefined;
  if (verdict !== "ok") throw new Error(`integrity check failed: ${verdict ?? "no answer"}`);
}

/**
 * Refuses a symbolic link where a state file belongs: following it would write to, and chmod,
 * whatever it points at. (The storage directory itself may be a link; the files in it may not.)
 */
export function refuseSymlink(path: string): void {
  let isLink = false;
  try {
    isLink = lstatSync(path).isSymbolicLink();
  } catch {
    return; // absent: nothing to follow
  }
  if (isLink) {
    throw new ConfigError(`storage: ${path} is a symbolic link, and state files are never followed through links; replace it with the file itself, or point storage at the real directory`);
  }
}

/**
 * A new state database appears complete or not at all: initialised under a temporary name, then
 * renamed into place. So an empty file can only mean damage, never "not initialised yet".
 */
function createDatabase(path: string): void {
  const fresh = `${path}.new`;
  rmSync(fresh, { force: true });
  closeSync(openSync(fresh, "wx", 0o600));
  const db = new Database(fresh, { readwrite: true, create: false });
  try {
    migrate(db, fresh);
  } finally {
    db.close();
  }
  renameSync(fresh, path);
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
  for (const file of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) refuseSymlink(file);
  try {
    if (opts.create && !existsSync(path)) createDatabase(path);
  } catch (err) {
    throw storageError(err, dirname(path)) ?? err;
  }
  if (!existsSync(path)) throw new StateUnreadableError(path, new Error("no such file"));
  // SQLite takes an empty file for a new database: the export would silently restart from
  // start-time and skip the backlog. A file this code created is never empty (see createDatabase).
  if (statSync(path).size === 0) throw new StateUnreadableError(path, new Error("the file is empty (0 bytes)"));
  let db: Database | undefined;
  try {
    db = new Database(path, opts.readonly ? { readonly: true } : { readwrite: true, create: false, strict: true });
    db.exec("PRAGMA busy_timeout = 5000");
    if (!opts.readonly) {
      db.exec("PRAGMA journal_mode = WAL");
      db.exec("PRAGMA synchronous = NORMAL");
    }
    checkIntegrity(db);
    if (opts.readonly) refuseNewer(db, path);
    else migrate(db, path);
  } catch (err) {
    db?.close();
    if (err instanceof StateTooNewError) throw err;
    // Only SQLite's own verdict makes a file "damaged": advice to move it away loses the position.
    if (isCorruption(err)) throw new StateUnreadableError(path, err);
    if (opts.readonly) {
      try {
        return openSnapshot(path);
      } catch (copyErr) {
        if (copyErr instanceof StateTooNewError) throw copyErr;
        throw isCorruption(copyErr) ? new StateUnreadableError(path, copyErr) : new StateInaccessibleError(path, copyErr);
      }
    }
    throw storageError(err, dirname(path)) ?? new StateInaccessibleError(path, err);
  }
  if (!opts.readonly) restrictPermissions(path);
  return db;
}
