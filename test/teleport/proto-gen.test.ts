import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { tempDir } from "../../scripts/fakes/pki.ts";

const root = join(import.meta.dir, "..", "..");

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path) : [path];
  });
}

function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(listFiles(dir).map((f) => [relative(dir, f), readFileSync(f, "utf8")]));
}

test("generated protobuf code in src/gen matches proto/ (run `make proto` when this fails)", () => {
  const out = join(tempDir("teh-gen-"), "gen");
  const run = Bun.spawnSync(["sh", join(root, "scripts", "gen-proto.sh"), out], { stderr: "pipe" });
  expect(run.stderr.toString()).toBe("");
  expect(run.exitCode).toBe(0);
  const fresh = snapshot(out);
  expect(Object.keys(fresh).length).toBeGreaterThanOrEqual(3);
  expect(snapshot(join(root, "src", "gen"))).toEqual(fresh);
});
