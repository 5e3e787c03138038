import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");

/** Every target that runs Bun, the TypeScript compiler or the proto tools from node_modules. */
const TARGETS = ["build", "typecheck", "test", "proto", "demo", "bench", "release VERSION=0.0.0", "image VERSION=0.0.0"];

/**
 * A fresh clone has no node_modules: each target must install the pinned toolchain (npm ci) before
 * anything else, or `make release` on a new clone fails with "bun: not found". `make -n` prints
 * the commands a target would run, in a copy of the makefiles without node_modules beside them.
 */
test.each(TARGETS)("make %s on a fresh clone installs the toolchain first", (target) => {
  const clone = mkdtempSync(join(tmpdir(), "teh-clone-"));
  try {
    for (const f of ["Makefile", "package.json", "scripts/mk"]) cpSync(join(ROOT, f), join(clone, f), { recursive: true });
    // Under `make test` the parent's MAKELEVEL would make the child print "Entering directory".
    const { MAKELEVEL: _level, MAKEFLAGS: _flags, MFLAGS: _mflags, ...env } = process.env;
    const dry = spawnSync("make", ["-n", "--no-print-directory", ...target.split(" ")], { cwd: clone, encoding: "utf8", env });
    expect(dry.status, dry.stderr).toBe(0);
    const commands = dry.stdout.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#") && !l.startsWith("test -n"));
    // The Node version check (two dependencies need Node 22) guards npm ci, then npm ci comes first.
    expect(commands.slice(0, 2)).toEqual(["sh scripts/check-node.sh", "npm ci"]);
  } finally {
    rmSync(clone, { recursive: true, force: true });
  }
});
