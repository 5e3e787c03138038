import { Database } from "bun:sqlite";
import { existsSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../errors.ts";
import { refuseSymlink } from "./database.ts";
import { storageError } from "./storage-errors.ts";

/** The kernel lock: a small SQLite database held in exclusive locking mode by the running instance. */
const LOCK_FILE = "instance.lock";
/** Who holds it, for messages and `status` only: the lock itself never trusts this. */
const PID_FILE = "instance.pid";
/**
 * How long a starting instance waits for the lock. `status` reads the lock file for an instant
 * (a shared lock); waiting a little keeps such a reader from failing a start that races it.
 */
const WAIT_MS = 100;
/** How long a start keeps trying while the lock is busy before it is refused (see lockedDatabase). */
const LOCK_RETRY_MS = 300;
/** Held connections: a Database that is garbage-collected closes, and would drop its lock with it. */
const heldLocks = new Set<Database>();

/** Another live process holds the storage: the user stops it, or removes a lock left by something else. */
export class InstanceLockedError extends UserError {
  constructor(
    readonly holderPid: number | undefined,
    lockPath: string,
  ) {
    super(
      `storage is in use by another teleport-event-handler (${holderPid ? `pid ${holderPid}` : "pid unknown"}, holding ${lockPath}); stop it first, or use another storage directory`,
    );
  }
}

export interface InstanceLock {
  readonly path: string;
  release(): void;
}

function readPid(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, "utf8").trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

const isBusy = (err: unknown) => /SQLITE_BUSY|database is locked/i.test(`${(err as { code?: string }).code ?? ""} ${String(err)}`);
const isNotADatabase = (err: unknown) => /SQLITE_NOTADB|not a database/i.test(`${(err as { code?: string }).code ?? ""} ${String(err)}`);

/**
 * One process per storage directory: two writers would deliver every event twice and race on the
 * checkpoint. The holder is whoever holds a kernel lock (SQLite's exclusive locking mode: fcntl on
 * Unix, LockFileEx on Windows), so two starts racing over a stale lock cannot both win, and a lock
 * dies with its process: no pid to check, none that a reused pid can fake.
 */
export function acquireInstanceLock(storageDir: string): InstanceLock {
  const path = join(storageDir, LOCK_FILE);
  const pidPath = join(storageDir, PID_FILE);
  for (const file of [path, `${path}-journal`, pidPath]) refuseSymlink(file);
  let db: Database;
  try {
    db = lockedDatabase(path);
  } catch (err) {
    if (isBusy(err)) throw new InstanceLockedError(readPid(pidPath), path);
    if (isNotADatabase(err)) return takeOverPidFile(storageDir, path);
    throw storageError(err, path) ?? err;
  }
  try {
    writeFileSync(pidPath, `${process.pid}\n`, { mode: 0o600 });
  } catch (err) {
    db.close();
    throw storageError(err, pidPath) ?? err;
  }
  const held = db;
  heldLocks.add(held);
  return {
    path,
    release() {
      rmSync(pidPath, { force: true });
      heldLocks.delete(held);
      held.close();
    },
  };
}

/**
 * Two starts racing for a free lock can both fail: on its way to the exclusive lock each one takes
 * the shared lock first, and in exclusive locking mode keeps it, so neither can climb past the
 * other's (both "busy", both refused; seen twice in 100 races). Each failure closes its connection
 * and drops every lock, so trying again after a random pause lets one of them win; a lock that is
 * really held stays held and is refused once LOCK_RETRY_MS has passed.
 */
function lockedDatabase(path: string): Database {
  const deadline = Date.now() + LOCK_RETRY_MS;
  for (;;) {
    let db: Database | undefined;
    try {
      db = new Database(path, { create: true, readwrite: true });
      db.exec(`PRAGMA busy_timeout = ${WAIT_MS}`);
      db.exec("PRAGMA locking_mode = EXCLUSIVE");
      db.exec("PRAGMA journal_mode = MEMORY");
      // The first write in exclusive mode takes the lock, and the connection keeps it until closed.
      db.exec("BEGIN EXCLUSIVE");
      db.exec("CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL)");
      db.exec("DELETE FROM holder");
      db.query("INSERT INTO holder (pid) VALUES (?)").run(process.pid);
      db.exec("COMMIT");
      return db;
    } catch (err) {
      db?.close();
      if (!isBusy(err) || Date.now() >= deadline) throw err;
      Bun.sleepSync(10 + Math.random() * 90);
    }
  }
}

/**
 * A lock file from a version that wrote only a pid: honour a live holder once, then replace it.
 * Only an upgrade over a running old instance gets here.
 */
function takeOverPidFile(storageDir: string, path: string): InstanceLock {
  const holder = readPid(path);
  if (holder !== undefined && holder !== process.pid && isAlive(holder)) throw new InstanceLockedError(holder, path);
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  return acquireInstanceLock(storageDir);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * For `status`: the holder's pid while an instance holds the storage (0 when it has not written
 * its pid yet), undefined when nobody does. Probes the lock itself with a read that fails while
 * it is held; never takes it.
 */
export function lockHolder(storageDir: string): number | undefined {
  const path = join(storageDir, LOCK_FILE);
  if (!existsSync(path)) return undefined;
  let db: Database | undefined;
  try {
    db = new Database(path, { readonly: true });
    db.exec("PRAGMA busy_timeout = 0");
    db.query("SELECT count(*) FROM sqlite_master").get();
    return undefined;
  } catch (err) {
    return isBusy(err) ? (readPid(join(storageDir, PID_FILE)) ?? 0) : undefined;
  } finally {
    db?.close();
  }
}
