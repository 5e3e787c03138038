import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MAIN, REPO_ROOT, runCli } from "../support/cli.ts";

/**
 * `version` and `--help` answer without loading the export stack (gRPC, TLS, SQLite, metrics):
 * commands are imported through a lazy map and load their heavy parts only when they run.
 */
const TRACE = join(REPO_ROOT, "test/support/trace-loads.ts");
const loaded = (args: string[]) => {
  const r = runCli(args, { command: [process.execPath, "--preload", TRACE, MAIN] });
  return r.stderr.split("\n").filter((l) => l.startsWith("LOADED "));
};

const empty = mkdtempSync(join(tmpdir(), "teh-startup-"));
afterAll(() => rmSync(empty, { recursive: true, force: true }));

test.each([[["version"]], [["--version"]], [["--help"]], [["start", "--help"]], [["dead-letters", "retry", "--help"]]])(
  "%p loads none of the export stack",
  (args) => {
    expect(loaded(args)).toEqual([]);
  },
);

test("the trace sees what a command that reads the state loads", () => {
  expect(loaded(["status", "--storage", empty])).toContainEqual(expect.stringMatching(/^LOADED \S+\/src\/state\/index\.ts$/));
});
