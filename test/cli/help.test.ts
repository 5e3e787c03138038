import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OPTION_LIST, optionsInGroups } from "../../src/config/options.ts";
import { makeConfigFixture } from "../support/config-fixture.ts";
import { REPO_ROOT, runCli } from "../support/cli.ts";

/** The help line of one option: the flag, its default (or "required") and every env name. */
function expectOptionListed(help: string, flag: string) {
  const def = OPTION_LIST.find(([, d]) => d.flag === flag)![1];
  const line = help.split("\n").find((l) => new RegExp(`--${flag}(=|\\s|$)`).test(l));
  expect(line, `--${flag} missing from help`).toBeDefined();
  if (def.required) expect(line).toContain("required");
  if (def.default !== undefined) expect(line).toContain(`default: ${def.default}`);
  for (const env of def.env) expect(line).toContain(env);
}

describe("--help", () => {
  test("start lists every option with its default and env vars", () => {
    const r = runCli(["start", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain("\u001b[");
    for (const [, def] of OPTION_LIST) expectOptionListed(r.stdout, def.flag);
  });

  test.each([["version"], ["configure"], []])("%p lists the global options", (...cmd) => {
    const r = runCli([...cmd, "--help"]);
    expect(r.code).toBe(0);
    for (const [, def] of optionsInGroups(["global"])) expectOptionListed(r.stdout, def.flag);
  });

  test("the root help lists the commands", () => {
    const r = runCli(["-h"]);
    for (const name of ["start", "configure", "version"]) expect(r.stdout).toMatch(new RegExp(`^\\s+${name}\\s`, "m"));
  });
});

test("version prints name, version, commit and Bun version", () => {
  const r = runCli(["version"]);
  expect(r.code).toBe(0);
  expect(r.stdout).toBe(`teleport-event-handler v0.0.0-dev git:unknown bun ${Bun.version}\n`);
});

describe("start with a valid configuration", () => {
  const fx = makeConfigFixture();
  afterAll(() => fx.cleanup());

  test("logs the effective configuration without secrets before checking key material", () => {
    const r = runCli(["start", "--fluentd-header", "Authorization: Bearer hunter2", "--fluentd-key-passphrase", "pa55word"], {
      env: { ...fx.env, FDFWD_BATCH: "33", FDFWD_LOCKING_ENABLED: "true" },
      cwd: fx.dir,
    });
    // The fixture's key files are placeholders, so the start-up key check stops it (exit 2).
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("INFO  Using batch size: 33\n");
    expect(r.stderr).toContain("INFO  Using Fluentd url: https://localhost:8888/test.log\n");
    expect(r.stderr).toContain("INFO  Using Fluentd headers: Authorization (values hidden)\n");
    expect(r.stderr).toContain("INFO  Using Fluentd key passphrase: (set, hidden)\n");
    expect(r.stderr).toContain("INFO  Auto-locking enabled\n");
    expect(r.stderr).toContain("INFO  Auto-locking lock duration: never expires\n");
    expect(r.stderr).toContain(`INFO  Using Teleport identity file: ${fx.file("identity")}\n`);
    expect(r.stderr).toMatch(/ERROR fluentd-(ca|cert|key)[^\n]*\n$/);
    expect(r.stderr).not.toContain("hunter2");
    expect(r.stderr).not.toContain("pa55word");
  });

  test("an unknown TOML key is a warning, not an error", () => {
    const file = fx.write("typo.toml", "bacth = 5\n");
    const r = runCli(["start", "-c", file], { env: fx.env, cwd: fx.dir });
    expect(r.stderr).toContain(`WARN  unknown key "bacth" in config file ${file} is ignored; did you mean "batch"?`);
    // Past configuration loading, the placeholder key files stop it; the typo did not.
    expect(r.stderr).not.toMatch(/ERROR[^\n]*bacth/);
  });
});

describe("the compiled binary", () => {
  let dir = "";
  let bin = "";
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "teh-bin-"));
    bin = join(dir, "teleport-event-handler");
    const build = Bun.spawnSync({
      cmd: [process.execPath, "build", "--compile", join(REPO_ROOT, "src/main.ts"), "--outfile", bin,
        "--define", 'BUILD_VERSION="9.8.7"', "--define", 'BUILD_COMMIT="abc1234"'],
      cwd: REPO_ROOT,
      stdout: "pipe",
      stderr: "pipe",
    });
    if (build.exitCode !== 0) throw new Error(`bun build failed: ${build.stderr.toString()}`);
    // Compiling writes a ~100 MB binary: far beyond the default 5 s hook timeout on a busy machine.
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("bakes in the version and commit; --version says the same", () => {
    const r = runCli(["version"], { command: [bin] });
    expect(r.stdout).toBe(`teleport-event-handler v9.8.7 git:abc1234 bun ${Bun.version}\n`);
    const flag = runCli(["--version"], { command: [bin] });
    expect({ code: flag.code, stdout: flag.stdout }).toEqual({ code: 0, stdout: r.stdout });
  });

  test("reports a configuration error in one line with exit code 2", () => {
    const r = runCli(["start", "--batch", "0"], { command: [bin] });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^\S+ ERROR invalid batch "0" from --batch: must be at least 1\n$/);
  });

  test("lists every option in --help", () => {
    const r = runCli(["start", "--help"], { command: [bin] });
    for (const [, def] of OPTION_LIST) expectOptionListed(r.stdout, def.flag);
  });
});
