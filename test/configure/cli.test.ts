import { describe, expect, test } from "bun:test";
import { readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { tempDir } from "../../scripts/fakes/pki.ts";

const ROOT = resolve(import.meta.dir, "../..");
const BUN = join(ROOT, "node_modules/.bin/bun");

const MAIN = join(ROOT, "src/main.ts");
const ENTRY = [MAIN, "configure"];

function configure(cwd: string, stdin: string, ...args: string[]) {
  const proc = Bun.spawnSync([BUN, ...ENTRY, ...args], { cwd, stdin: Buffer.from(stdin), stdout: "pipe", stderr: "pipe" });
  return { code: proc.exitCode, stdout: proc.stdout.toString(), stderr: proc.stderr.toString() };
}

describe("configure as a command", () => {
  test("writes the files with the passphrase from piped stdin and lists them relative to the cwd", () => {
    const cwd = tempDir("teh-configure-cli-");
    const run = configure(cwd, "piped secret\n", "out", "teleport.example.com:443", "--length", "2048", "--ttl", "720h", "--output", "fluentd");
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`[1] Generated mTLS Fluentd certificates ${join("out", "ca.crt")}, ${join("out", "ca.key")}`);
    expect(run.stdout).toContain(`[4] Generated plugin configuration file ${join("out", "teleport-event-handler.toml")}`);
    expect(run.stdout).not.toContain("piped secret");
    const files = readdirSync(join(cwd, "out"));
    expect(files).toHaveLength(10);
    for (const name of files) expect(statSync(join(cwd, "out", name)).mode & 0o777).toBe(0o600);

    const again = configure(cwd, "piped secret\n", "out", "--length", "2048");
    expect(again.code).not.toBe(0);
    expect(again.stderr.trim().split("\n")).toHaveLength(1);
    expect(again.stderr).toContain("--force");
    expect(configure(cwd, "piped secret\n", "out", "--length", "2048", "--force").code).toBe(0);
  });

  test("a bad flag value exits non-zero with a one-line error naming it", () => {
    const run = configure(tempDir("teh-configure-cli-"), "pw", "out", "--length", "512");
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain("--length");
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
  });
});
