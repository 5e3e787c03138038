import { randomBytes } from "node:crypto";
import { existsSync, linkSync, mkdirSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ConfigureError } from "./errors.ts";

export interface PlannedFile {
  path: string;
  content: string;
}

/** The output directory, created (0700: it holds private keys) when missing. */
export function prepareOutputDir(dir: string): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new ConfigureError(`output "${dir}" exists and is not a directory: choose a directory path`);
    return;
  }
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new ConfigureError(`cannot create output directory "${dir}": ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/** Checked before anything is written, so a refusal leaves the directory exactly as it was. */
export function refuseExisting(paths: string[], force: boolean): void {
  if (force) return;
  const existing = paths.filter((path) => existsSync(path));
  if (existing.length > 0) {
    throw new ConfigureError(`refusing to overwrite ${existing.join(", ")}: pass --force to replace existing files`);
  }
}

/**
 * Each file is written to a temporary name with mode 0600, then moved into place: a crash never
 * leaves half a key, and an overwritten file gets 0600 even if the old one was world-readable.
 * Without --force the move is a hard link, which fails if the file appeared since the check.
 */
function writeOne(file: PlannedFile, force: boolean): void {
  const tmp = join(dirname(file.path), `.${randomBytes(6).toString("hex")}.tmp`);
  writeFileSync(tmp, file.content, { mode: 0o600, flag: "wx" });
  try {
    if (force) renameSync(tmp, file.path);
    else linkSync(tmp, file.path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") {
      throw new ConfigureError(`refusing to overwrite ${file.path}: pass --force to replace existing files`);
    }
    throw err;
  } finally {
    if (existsSync(tmp)) unlinkSync(tmp);
  }
}

export function writeFiles(files: PlannedFile[], force: boolean): void {
  refuseExisting(files.map((f) => f.path), force);
  for (const file of files) writeOne(file, force);
}
