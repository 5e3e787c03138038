import { describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runHandler, runToEnd, sharedWorld } from "../support/world.ts";

/**
 * The state directory and the trust settings, where a mistake used to pass in silence: an empty
 * state file restarted the export and skipped the backlog, a symlink was followed and its target
 * chmod'ed, and without fluentd-ca the system's CAs were trusted without a word.
 */

const errorLines = (stderr: string) => stderr.split("\n").filter((l) => /\bERROR\b/.test(l));

describe("state safety", () => {
  const world = sharedWorld({ teleport: { events: 60, days: 1, sessions: 0 } });

  test("an empty state file is refused in one line naming it, and nothing is sent again", async () => {
    const first = await runToEnd(world.startArgs(["--exit-on-last-event"]));
    expect({ code: first.code, stderr: first.code === 0 ? "" : first.stderr }).toEqual({ code: 0, stderr: "" });
    const delivered = world.fluentd.recordCount();
    const db = join(world.storage, `${world.teleport.clusterName}.sqlite`);
    for (const suffix of ["-wal", "-shm"]) rmSync(db + suffix, { force: true });
    truncateSync(db, 0);

    const again = await runToEnd(world.startArgs(["--exit-on-last-event"]));
    expect(again.code).not.toBe(0);
    expect(errorLines(again.stderr)).toEqual([expect.stringContaining(`state database ${db} is unreadable (the file is empty (0 bytes))`)]);
    expect(world.fluentd.recordCount()).toBe(delivered);
    expect(statSync(db).size).toBe(0);
  });

  test("a symbolic link in the storage directory is refused with exit code 2, its target untouched", async () => {
    const storage = join(world.dir, "linked-storage");
    mkdirSync(storage);
    const target = join(world.dir, "precious.txt");
    writeFileSync(target, "not yours\n");
    chmodSync(target, 0o644);
    symlinkSync(target, join(storage, `${world.teleport.clusterName}.sqlite`));

    const result = await runToEnd(world.startArgs(["--exit-on-last-event"], storage));
    expect(result.code).toBe(2);
    expect(errorLines(result.stderr)).toEqual([expect.stringContaining("is a symbolic link, and state files are never followed through links")]);
    expect(statSync(target).mode & 0o777).toBe(0o644);
  });

  test("without fluentd-ca, start-up says once that the system's CAs are trusted", async () => {
    const args = world.startArgs([], join(world.dir, "no-ca-storage"));
    const at = args.indexOf("--fluentd-ca");
    args.splice(at, 2);
    const handler = await runHandler(args);
    // The fake receiver's CA is not in the system store: the handler keeps retrying, and says why.
    await handler.waitForLog("the Fluentd server certificate is not trusted");
    // Not SIGTERM: the stop would wait out the shutdown grace period for the failing delivery.
    handler.kill("SIGKILL");
    const { stderr } = await handler.done;
    expect(stderr.split("\n").filter((l) => l.includes("fluentd-ca is not set: the Fluentd server certificate is checked against the system's trusted CAs"))).toHaveLength(1);
  });
});
