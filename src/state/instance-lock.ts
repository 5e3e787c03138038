import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../errors.ts";
import { storageError } from "./storage-errors.ts";

const LOCK_FILE = "instance.lock";

/** Another live process holds the storage: the user stops it, or removes a lock left by something else. */
export class InstanceLockedError extends UserError {
  constructor(
    readonly holderPid: number,
    lockPath: string,
  ) {
    super(
      `storage is in use by another teleport-event-handler (pid ${holderPid}); stop it first, or delete ${lockPath} if that process is not an event handler`,
    );
  }
}

export interface InstanceLock {
  readonly path: string;
  release(): void;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else; still a live holder.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readPid(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, "utf8").trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function createExclusively(path: string): boolean {
  try {
    const fd = openSync(path, "wx", 0o600);
    try {
      writeSync(fd, `${process.pid}\n`);
    } finally {
      closeSync(fd);
    }
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw storageError(err, path) ?? err;
  }
}

/**
 * One process per storage directory: two writers would deliver every event twice and race on the
 * checkpoint. A pid file created with O_EXCL is enough because a stale file (holder dead) can be
 * recognised and taken over. Our own pid in the file is also stale: in a container the handler is
 * often pid 1 on every start.
 */
export function acquireInstanceLock(storageDir: string): InstanceLock {
  const path = join(storageDir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    if (createExclusively(path)) {
      return {
        path,
        release() {
          if (readPid(path) === process.pid) {
            try {
              unlinkSync(path);
            } catch {
              // Already gone; nothing to release.
            }
          }
        },
      };
    }
    const holder = readPid(path);
    if (holder !== undefined && holder !== process.pid && isAlive(holder)) throw new InstanceLockedError(holder, path);
    // Stale (dead holder, or a half-written file from a crash during creation): take it over.
    try {
      unlinkSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
  throw new Error(`could not acquire ${path}: another process keeps recreating it`);
}

/** The pid of a running holder, for `status`; undefined when nobody holds the storage. */
export function lockHolder(storageDir: string): number | undefined {
  const pid = readPid(join(storageDir, LOCK_FILE));
  return pid !== undefined && isAlive(pid) ? pid : undefined;
}
