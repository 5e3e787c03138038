import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadCommand } from "../../src/cli/command.ts";
import { COMMANDS } from "../../src/cli/commands/index.ts";
import { optionsInGroups } from "../../src/config/options.ts";
import { makeConfigFixture } from "../support/config-fixture.ts";
import { expectUserError, runCli } from "../support/cli.ts";

/**
 * The CLI's contract for mistakes the user can fix (src/errors.ts UserError and every class under
 * it): exit 2, one ERROR line naming the fix, as the last thing written, without the "--debug"
 * hint that runtime failures carry. Those that need a running Teleport (instance lock, changed
 * start-time, cursor not found, metrics-addr in use) are checked end to end in test/e2e.
 */
const fx = makeConfigFixture();
afterAll(() => fx.cleanup());

/** A storage directory holding one state file with `contents` written by `write`. */
function storageWith(name: string, write: (file: string) => void): string {
  const dir = fx.file(`storage-${name}`);
  mkdirSync(dir, { recursive: true });
  write(join(dir, "prod.sqlite"));
  return dir;
}

describe("every user error exits 2 with one line and no --debug hint", () => {
  test("UsageError: an unknown flag", () => {
    expectUserError(runCli(["status", "--jsn"]), /^unknown flag --jsn for teleport-event-handler status; did you mean --json\?/);
  });

  test("ConfigError: a malformed setting", () => {
    expectUserError(runCli(["start", "--batch", "0"], { env: fx.env, cwd: fx.dir }), 'invalid batch "0" from --batch: must be at least 1');
  });

  test("ConfigureError: an unsupported key length", () => {
    expectUserError(runCli(["configure", fx.file("out"), "--length", "5"]), /^--length "5" is not supported/);
  });

  test("FluentdSettingError: key material that does not parse", () => {
    expectUserError(runCli(["start"], { env: fx.env, cwd: fx.dir }), /^fluentd-(ca|cert|key): /);
  });

  test("CredentialsError: an identity file that is not one", () => {
    const env = { ...fx.env, FDFWD_FLUENTD_CERT: "", FDFWD_FLUENTD_KEY: "", FDFWD_FLUENTD_ALLOW_INSECURE: "true" };
    const r = runCli(["start", "--fluentd-url", "http://localhost:1/a", "--fluentd-session-url", "http://localhost:1/s"], { env, cwd: fx.dir });
    expectUserError(r, new RegExp(`^teleport-identity ${fx.file("identity")}: no PEM block found`));
  });

  test("StateUnreadableError: a state file that is not a database", () => {
    const storage = storageWith("junk", (file) => writeFileSync(file, "not sqlite\n"));
    expectUserError(runCli(["status", "--storage", storage]), /^state database \S+prod\.sqlite is unreadable \(file is not a database\)/);
  });

  test("StateTooNewError: a state written by a newer binary", () => {
    const storage = storageWith("newer", (file) => {
      const db = new Database(file);
      db.exec("PRAGMA user_version = 999");
      db.close();
    });
    expectUserError(runCli(["dead-letters", "purge", "--storage", storage]), /was written by a newer teleport-event-handler \(schema version 999; this one knows up to \d+\); upgrade the handler/);
  });
});

describe("errors of the command line itself honour FDFWD_LOG_FORMAT=json", () => {
  test.each([[["start", "--batchsize", "3"]], [["stat"]], [["configure"]], [["start", "--storage"]]])("%p", (args) => {
    const r = runCli(args, { env: { FDFWD_LOG_FORMAT: "json" } });
    expect(r.code).toBe(2);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: "error" });
  });
});

/** Every command and sub-command, found from the command map so that a new one is covered too. */
const COMMAND_PATHS: string[][] = [];
for (const [name, load] of Object.entries(COMMANDS)) {
  const cmd = await load();
  if (!cmd.subCommands) COMMAND_PATHS.push([name]);
  for (const [sub, ref] of Object.entries(cmd.subCommands ?? {})) {
    if (!(await loadCommand(ref)).subCommands) COMMAND_PATHS.push([name, sub]);
  }
}

describe("global flags", () => {
  test("the command map is walked", () => {
    expect(COMMAND_PATHS).toContainEqual(["status"]);
    expect(COMMAND_PATHS).toContainEqual(["dead-letters", "list"]);
  });

  test.each(COMMAND_PATHS)("%p accepts every global flag, before and after its name", (...path) => {
    const globals = ["--debug", "--log-format", "json", "--config", fx.file("none.toml")];
    for (const args of [[...path, ...globals, "--help"], [...globals, ...path, "--help"]]) {
      const r = runCli(args);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      for (const [, def] of optionsInGroups(["global"])) expect(r.stdout).toContain(`--${def.flag}`);
    }
  });

  test("status --debug runs, with the stack of its error", () => {
    const empty = fx.file("empty-storage");
    mkdirSync(empty, { recursive: true });
    const r = runCli(["status", "--debug", "--storage", empty]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`ERROR no export state in storage ${empty}`);
    expect(r.stderr).toContain("    at ");
  });

  test("status reads storage from --config", () => {
    const empty = fx.file("empty-storage-2");
    mkdirSync(empty, { recursive: true });
    const config = fx.write("status.toml", `storage = ${JSON.stringify(empty)}\n`);
    const r = runCli(["status", "-c", config]);
    expectUserError(r, `no export state in storage ${empty}; check storage (it is created by the first start)`);
  });

  test("--version prints what the version command prints", () => {
    const expected = runCli(["version"]);
    expect(expected.stdout).toMatch(/^teleport-event-handler v\S+ git:\S+ bun \S+\n$/);
    for (const flag of ["--version", "-v"]) {
      const r = runCli([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(expected.stdout);
    }
  });

  test("--version belongs to the program, not to a command", () => {
    expectUserError(runCli(["start", "--version"]), /^unknown flag --version for teleport-event-handler start/);
  });
});
