import { expect, test } from "bun:test";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../scripts/fakes/pki.ts";
import { ROOT } from "../support/world.ts";

/** Runs scripts/check-node.sh with a `node` on PATH that reports `version`. */
async function checkNode(version: string) {
  const bin = join(tempDir("teh-node-"), "bin");
  mkdirSync(bin);
  writeFileSync(join(bin, "node"), `#!/bin/sh\necho ${version}\n`);
  chmodSync(join(bin, "node"), 0o755);
  const proc = Bun.spawn(["sh", join(ROOT, "scripts/check-node.sh")], { env: { PATH: `${bin}:/usr/bin:/bin` }, stdout: "pipe", stderr: "pipe" });
  return { code: await proc.exited, stderr: await new Response(proc.stderr).text() };
}

test("installing the dependencies on Node 18 stops with what to install; Node 20 (this machine's) passes", async () => {
  const old = await checkNode("v18.20.4");
  expect(old.code).toBe(1);
  expect(old.stderr).toContain("Node.js 20 or later is needed to install the dependencies; found v18.20.4");
  expect((await checkNode("v20.20.2")).code).toBe(0);
  expect((await checkNode("v22.11.0")).code).toBe(0);
  expect((await checkNode("v24.1.0")).code).toBe(0);
});

test("make test installs the packaging tests' system tools before running them", async () => {
  const proc = Bun.spawn(["make", "-n", "test"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const plan = await new Response(proc.stdout).text();
  expect(await proc.exited).toBe(0);
  const deps = plan.indexOf("scripts/ci-deps.sh");
  expect(deps).toBeGreaterThan(-1);
  expect(deps).toBeLessThan(plan.indexOf("test --timeout"));
});
