import { statfsSync } from "node:fs";
import { ConfigError, OutageError } from "../errors.ts";

/**
 * File-system and SQLite failures on the storage directory, as one line that names `storage`, the
 * path and what to do. What the operator must change in the setup (a file where the directory
 * should be, no permission, a read-only mount) exits 2 like any configuration error; a full disk
 * is an outage (exit 1, an OutageError): the export resumes once there is room.
 */
export class StorageFullError extends OutageError {}

function user(): string {
  const uid = process.getuid?.();
  return uid === undefined ? "this user" : `uid ${uid}`;
}

/** Undefined when `err` is not one of the storage failures a person can fix. */
export function storageError(err: unknown, path: string): Error | undefined {
  const e = err as { code?: string; message?: string };
  const code = String(e.code ?? "");
  const message = String(e.message ?? "");
  if (code === "EEXIST" || code === "ENOTDIR") {
    return new ConfigError(`storage ${path}: a file is in the way where a directory is needed; point storage at a directory (it is created when missing)`);
  }
  if (code === "EACCES" || code === "EPERM" || code.startsWith("SQLITE_READONLY") || code === "SQLITE_CANTOPEN" || code === "SQLITE_PERM") {
    return new ConfigError(`storage ${path}: no permission to write there for ${user()}; make the directory and its files writable by the user the handler runs as, or choose another storage`);
  }
  if (code === "EROFS") return new ConfigError(`storage ${path} is on a read-only file system; choose a writable storage directory`);
  if (code === "ENOSPC" || code === "SQLITE_FULL" || /database or disk is full/i.test(message) || (code.startsWith("SQLITE_IOERR") && nearlyFull(path))) {
    return new StorageFullError(`storage ${path}: the disk is full; free space there and start again (the export resumes where it stopped)`);
  }
  return undefined;
}

/**
 * SQLite reports a full disk while it maps the WAL index only as "disk I/O error": less room left
 * than a WAL needs to start (its index and a few pages) is taken to be the cause.
 */
function nearlyFull(path: string): boolean {
  try {
    const fs = statfsSync(path);
    return fs.bavail * fs.bsize < 1024 * 1024;
  } catch {
    return false;
  }
}

/** SQLite says the file is damaged (not merely unreadable for us). */
export function isCorruption(err: unknown): boolean {
  const code = String((err as { code?: string }).code ?? "");
  return code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB" || /integrity check failed/.test((err as Error).message ?? "");
}
