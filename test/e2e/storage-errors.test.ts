import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expectUserError } from "../support/cli.ts";
import { runToEnd, sharedWorld } from "../support/world.ts";

/**
 * Storage that cannot be written, each produced for real: a read-only mount, a directory this user
 * may not write, an immutable directory, a file system out of inodes or out of space. Each names
 * `storage` and the path in one line; what the operator must fix in the setup exits 2, a full disk
 * (an outage: the export resumes once there is room) exits 1.
 */

const isRoot = process.getuid?.() === 0;

/** Runs `setup` (sh) in a private mount namespace, then the binary there: mounts never leak out. */
const inMountNamespace = (setup: string) => [...(isRoot ? ["unshare", "--mount"] : ["unshare", "--user", "--map-root-user", "--mount"]), "sh", "-euc", `${setup}; exec "$@"`, "sh"];

const errorLines = (stderr: string) => stderr.split("\n").filter((l) => /\bERROR\b/.test(l));

describe("storage errors name storage and the path", () => {
  const world = sharedWorld({ teleport: { events: 400, days: 1, sessions: 0 } });
  const scheduled = (storage: string, extra: string[] = []) => world.startArgs(["--exit-on-last-event", "--exit-timeout", "5s", ...extra], storage);
  const cleanups: (() => void)[] = [];
  afterAll(() => cleanups.forEach((f) => f()));

  test("a read-only file system (EROFS): exit 2", async () => {
    const mount = join(world.dir, "ro-mount");
    mkdirSync(mount);
    const storage = join(mount, "storage");
    const result = await runToEnd(scheduled(storage), {}, { wrap: inMountNamespace(`mount --bind '${mount}' '${mount}'; mount -o remount,ro,bind '${mount}'`) });
    expectUserError(result, `storage ${storage} is on a read-only file system; choose a writable storage directory`);
  });

  test("a directory this user may not write (EACCES): exit 2", async () => {
    const storage = join(world.dir, "not-mine");
    mkdirSync(storage, { mode: 0o700 });
    let wrap: string[] = [];
    if (isRoot) {
      // Root in a user namespace has no say over files of a user the namespace does not map.
      chownSync(storage, 12345, 12345);
      wrap = ["unshare", "--user", "--map-root-user"];
    } else chmodSync(storage, 0o500);
    const result = await runToEnd(scheduled(storage), {}, { wrap });
    expectUserError(result, new RegExp(`^storage ${storage}/\\S+: no permission to write there for uid \\d+; make the directory and its files writable`));
  });

  test("an immutable directory (EPERM): exit 2", async () => {
    const storage = join(world.dir, "immutable");
    mkdirSync(storage, { mode: 0o700 });
    expect(Bun.spawnSync(["chattr", "+i", storage]).exitCode).toBe(0);
    cleanups.push(() => Bun.spawnSync(["chattr", "-i", storage]));
    const result = await runToEnd(scheduled(storage));
    expectUserError(result, new RegExp(`^storage ${storage}/\\S+: no permission to write there for uid \\d+; make the directory and its files writable`));
  });

  const DISK_FULL = (storage: string) =>
    new RegExp(`ERROR +storage ${storage}: the disk is full; free space there and start again \\(the export resumes where it stopped\\)$`);

  /** Runs the export with its storage on a fresh tmpfs mounted with `options`. */
  const onTmpfs = async (name: string, options: string) => {
    const mount = join(world.dir, name);
    mkdirSync(mount);
    const storage = join(mount, "storage");
    const result = await runToEnd(scheduled(storage), {}, { wrap: inMountNamespace(`mount -t tmpfs -o '${options}' tmpfs '${mount}'`) });
    return { storage, result };
  };

  test("no inode left for the directory (ENOSPC): exit 1, the disk named as full", async () => {
    const { storage, result } = await onTmpfs("no-inodes", "size=1m,nr_inodes=1");
    expect(result.code).toBe(1);
    expect(errorLines(result.stderr)).toEqual([expect.stringMatching(DISK_FULL(storage))]);
  });

  test("no room for the state's WAL at open (SQLite: disk I/O error): exit 1, the disk named as full, not a permission problem", async () => {
    const { storage, result } = await onTmpfs("tiny", "size=96k");
    expect(result.code).toBe(1);
    expect(errorLines(result.stderr)).toEqual([expect.stringMatching(DISK_FULL(storage))]);
  });

  test("'database or disk is full' while exporting: exit 1, the disk named as full, after the summary", async () => {
    const stored = world.fluentd.recordCount();
    const { storage, result } = await onTmpfs("small", "size=160k");
    // The run got going: the state opened and some batches were delivered before the disk filled.
    expect(world.fluentd.recordCount()).toBeGreaterThan(stored);
    expect(result.stderr).toContain("summary: ");
    expect(result.code).toBe(1);
    expect(errorLines(result.stderr)).toEqual([expect.stringMatching(DISK_FULL(storage))]);
  });
});
