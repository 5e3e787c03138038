import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { makeConfigFixture } from "../support/config-fixture.ts";
import { runCli } from "../support/cli.ts";

/**
 * Every configuration error, end to end: run `bun src/main.ts start` with a bad setting and check
 * the one-line message (which names the setting and the fix) and exit code 2.
 */
const fx = makeConfigFixture();
afterAll(() => fx.cleanup());

function start(args: string[], env: Record<string, string> = {}) {
  return runCli(["start", ...args], { env: { ...fx.env, ...env }, cwd: fx.dir });
}

/** The single ERROR line on stderr, without its timestamp. */
function errorLine(stderr: string): string {
  const lines = stderr.split("\n").filter((l) => l.includes(" ERROR "));
  expect(lines).toHaveLength(1);
  return lines[0]!.replace(/^\S+ ERROR /, "");
}

function expectConfigError(result: ReturnType<typeof start>, message: string | RegExp) {
  expect(result.code).toBe(2);
  const line = errorLine(result.stderr);
  if (typeof message === "string") expect(line).toBe(message);
  else expect(line).toMatch(message);
  expect(result.stderr).not.toContain("    at ");
}

describe("configuration errors exit with code 2 and one line", () => {
  test("missing required settings are all named with the ways to set them", () => {
    const r = start([], { FDFWD_STORAGE: "", FDFWD_FLUENTD_URL: "", FDFWD_FLUENTD_SESSION_URL: "" });
    expectConfigError(
      r,
      'missing required settings: fluentd-url (--fluentd-url, FDFWD_FLUENTD_URL, "forward.fluentd.url" in the config file); ' +
        'fluentd-session-url (--fluentd-session-url, FDFWD_FLUENTD_SESSION_URL, "forward.fluentd.session-url" in the config file); ' +
        'storage (--storage, FDFWD_STORAGE, "storage" in the config file)',
    );
  });

  test("a partial Teleport cert/key/CA triplet", () => {
    const r = start(["--teleport-cert", fx.file("tp-cert"), "--teleport-key", fx.file("tp-key")], { FDFWD_TELEPORT_IDENTITY: "" });
    expectConfigError(
      r,
      "configuration setting(s) teleport-cert, teleport-key are provided but setting(s) teleport-ca are missing; set all three, or use teleport-identity instead",
    );
  });

  test("identity together with cert/key/CA", () => {
    const r = start(["--teleport-cert", fx.file("tp-cert"), "--teleport-key", fx.file("tp-key"), "--teleport-ca", fx.file("tp-ca")]);
    expectConfigError(r, "teleport-identity is mutually exclusive with teleport-cert, teleport-key and teleport-ca; set only one of the two");
  });

  test("no Teleport credentials at all", () => {
    expectConfigError(
      start([], { FDFWD_TELEPORT_IDENTITY: "" }),
      "neither teleport-identity nor teleport-cert, teleport-key and teleport-ca are configured; set teleport-identity (FDFWD_TELEPORT_IDENTITY) or all three files",
    );
  });

  test("a file that does not exist, and a directory given as a file", () => {
    const missing = `${fx.dir}/nope`;
    expectConfigError(
      start(["--teleport-identity", "nope"]),
      `invalid teleport-identity "nope" from --teleport-identity: file ${missing} does not exist; check the path`,
    );
    mkdirSync(fx.file("a-dir"), { recursive: true });
    expectConfigError(
      start([], { FDFWD_FLUENTD_CA: fx.file("a-dir") }),
      `invalid fluentd-ca "${fx.file("a-dir")}" from FDFWD_FLUENTD_CA: ${fx.file("a-dir")} is not a regular file; give the path of a file`,
    );
  });

  test("a config file that does not exist", () => {
    expectConfigError(start(["-c", "missing.toml"]), `config file from --config: file ${fx.dir}/missing.toml does not exist; check the path`);
  });

  test.each([
    [["--timeout", "10"], {}, 'invalid timeout "10" from --timeout: expected a duration such as "500ms", "10s", "1m30s" or "24h" (a unit is required)'],
    [[], { FDFWD_WINDOW_SIZE: "1 day" }, 'invalid window-size "1 day" from FDFWD_WINDOW_SIZE: expected a duration such as "500ms", "10s", "1m30s" or "24h" (a unit is required)'],
    [["--batch=abc"], {}, 'invalid batch "abc" from --batch: expected a whole number'],
    [["--batch", "0"], {}, 'invalid batch "0" from --batch: must be at least 1'],
    [[], { FDFWD_CONCURRENCY: "0" }, 'invalid concurrency "0" from FDFWD_CONCURRENCY: must be at least 1'],
    [[], { FDFWD_LOCKING_PERIOD: "0s" }, 'invalid lock-period "0s" from FDFWD_LOCKING_PERIOD: must be greater than 0'],
    [[], { FDFWD_MAX_CONNECTIONS: "-1" }, 'invalid fluentd-max-connections "-1" from FDFWD_MAX_CONNECTIONS: must be at least 0'],
    [["--start-time", "2024-01-31"], {}, 'invalid start-time "2024-01-31" from --start-time: expected an RFC3339 time with a zone, e.g. "2024-01-31T15:04:05Z"'],
    [["--log-format", "xml"], {}, 'invalid log-format "xml" from --log-format: expected one of: text, json'],
    [[], { FDFWD_TELEPORT_TLS_ROUTING: "maybe" }, 'invalid teleport-tls-routing "maybe" from FDFWD_TELEPORT_TLS_ROUTING: expected one of: auto, on, off'],
    [[], { FDFWD_DRY_RUN: "perhaps" }, 'invalid dry-run "perhaps" from FDFWD_DRY_RUN: expected "true" or "false"'],
    [[], { FDFWD_FLUENTD_BATCH_BYTES: "1 MB please" }, 'invalid fluentd-batch-bytes "1 MB please" from FDFWD_FLUENTD_BATCH_BYTES: expected a size in bytes such as "1048576", "512KiB" or "1MiB"'],
    [["--teleport-addr", "localhost"], {}, 'invalid teleport-addr "localhost": expected host:port, e.g. "teleport.example.com:443"'],
    [[], { FDFWD_METRICS_ADDR: "9464" }, 'invalid metrics-addr "9464": expected host:port, e.g. "teleport.example.com:443"'],
    [["--fluentd-url", "ftp://localhost/x"], {}, 'invalid fluentd-url "ftp://localhost/x": expected an https:// or forward+tls:// URL with a host, e.g. https://fluentd.example.com:8888/test.log or forward+tls://fluentd.example.com:24224/test.log'],
    [[], { FDFWD_FLUENTD_SESSION_URL: "https://" }, 'invalid fluentd-session-url "https://": expected an https:// or forward+tls:// URL with a host, e.g. https://fluentd.example.com:8888/test.log or forward+tls://fluentd.example.com:24224/test.log'],
    [["--fluentd-url", "http://localhost:8888/x"], {}, "fluentd-url uses plain http://; use https://, or set fluentd-allow-insecure for a test setup"],
    [["--fluentd-url", "forward://localhost:24224/x"], {}, "fluentd-url uses plain forward://; use forward+tls://, or set fluentd-allow-insecure for a test setup"],
    [["--fluentd-session-url", "forward+tls://localhost:24224"], {}, "fluentd-session-url has no tag: the path of a forward URL is the Fluentd tag, e.g. https://fluentd.example.com:8888/test.log or forward+tls://fluentd.example.com:24224/test.log"],
    [["--fluentd-username", "u", "--fluentd-password", "p"], {}, "fluentd-username is set but fluentd-shared-key is not; in_forward checks the user inside the shared-key handshake, so set fluentd-shared-key too"],
    [[], { FDFWD_FLUENTD_KEY: "" }, "both fluentd-cert and fluentd-key must be set (only fluentd-cert is); set the other one"],
    [[], { FDFWD_FLUENTD_KEY: "", FDFWD_FLUENTD_CERT: "" }, "fluentd-cert and fluentd-key are required for mutual TLS with Fluentd; set them, or set fluentd-allow-insecure for a test setup"],
    [["--fluentd-key-passphrase", "s3cret"], { FDFWD_FLUENTD_KEY_PASSPHRASE_FILE: "passphrase" }, "fluentd-key-passphrase and fluentd-key-passphrase-file are mutually exclusive; set only one"],
    [[], { FDFWD_MAX_CONNECTIONS: "4", FDWRD_MAX_CONNECTIONS: "5" }, "FDFWD_MAX_CONNECTIONS and FDWRD_MAX_CONNECTIONS both set fluentd-max-connections to different values; unset one of them"],
  ] as Array<[string[], Record<string, string>, string]>)("%p %p", (args, env, message) => {
    expectConfigError(start(args, env), message);
  });

  test("a bad list in TOML", () => {
    const file = fx.write("bad-list.toml", "types = [1, 2]\n");
    expectConfigError(start(["--config", file]), `invalid types [1,2] from types in ${file}: expected an array of strings`);
  });

  test("a malformed header names only the header, never its value", () => {
    const r = start(["--fluentd-header", "Authorization Bearer topsecret"]);
    expectConfigError(r, 'invalid fluentd-header starting with "Authorization": expected a header in the form "Name: value", e.g. "Authorization: Bearer …"');
    expect(r.stderr).not.toContain("topsecret");
  });

  test("a secret value is not echoed in a type error", () => {
    const r = start([], { FDFWD_FLUENTD_HEADER: "X-Ok: 1" , FDFWD_FLUENTD_KEY_PASSPHRASE: "p@ss" });
    expect(r.stderr).not.toContain("p@ss");
  });
});

describe("usage errors exit with code 2", () => {
  test("an unknown flag", () => {
    expectConfigError(start(["--batchsize", "3"]), 'unknown flag --batchsize for teleport-event-handler start; did you mean --batch? see "teleport-event-handler start --help"');
  });
  test("a flag without its value", () => {
    expectConfigError(start(["--storage"]), 'flag --storage needs a value; see "teleport-event-handler start --help"');
  });
  test("an unknown command", () => {
    const r = runCli(["stat"]);
    expect(r.code).toBe(2);
    expect(errorLine(r.stderr)).toBe('unknown command "stat"; expected one of: start, configure, version, status, dead-letters');
  });
  test("no command", () => {
    const r = runCli([]);
    expect(r.code).toBe(2);
    expect(errorLine(r.stderr)).toBe("no command given; expected one of: start, configure, version, status, dead-letters");
  });
  test("a command with sub-commands: none, an unknown one, and flags of the sub-command", () => {
    const none = runCli(["dead-letters"]);
    expect(none.code).toBe(2);
    expect(errorLine(none.stderr)).toBe("no command given; expected one of: list, retry, purge");
    const unknown = runCli(["dead-letters", "lsit"]);
    expect(unknown.code).toBe(2);
    expect(errorLine(unknown.stderr)).toBe('unknown command "lsit" for teleport-event-handler dead-letters; expected one of: list, retry, purge');
    const wrongFlag = runCli(["dead-letters", "list", "--storag", "/x"]);
    expect(wrongFlag.code).toBe(2);
    expect(errorLine(wrongFlag.stderr)).toContain("unknown flag --storag for teleport-event-handler dead-letters list; did you mean --storage?");
  });
  test("status and dead-letters on a storage with no export state", () => {
    const empty = fx.file("empty-storage");
    mkdirSync(empty, { recursive: true });
    for (const cmd of [["status"], ["dead-letters", "list"]]) {
      const r = runCli([...cmd, "--storage", empty]);
      expect(r.code).toBe(2);
      expect(errorLine(r.stderr)).toBe(`no export state in storage ${empty}; check storage (it is created by the first start)`);
    }
  });
  test("configure without its output directory", () => {
    const r = runCli(["configure"]);
    expect(r.code).toBe(2);
    expect(errorLine(r.stderr)).toBe("Missing required positional argument: OUT");
  });
});

describe("--debug", () => {
  test("shows the stack trace of a configuration error", () => {
    const r = start(["--debug", "--batch", "x"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("    at ");
  });
  test("global flags may come before the command", () => {
    const r = runCli(["-d", "--log-format", "json", "start", "--batch", "x"], { env: fx.env, cwd: fx.dir });
    expect(r.code).toBe(2);
    const first = JSON.parse(r.stderr.split("\n")[0]!);
    expect(first).toMatchObject({ level: "error", msg: 'invalid batch "x" from --batch: expected a whole number' });
  });
});
