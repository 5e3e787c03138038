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
    [["--dry-run=perhaps"], {}, 'invalid dry-run "perhaps" from --dry-run: expected "true" or "false"'],
    [[], { FDFWD_FLUENTD_BATCH_BYTES: "1 MB please" }, 'invalid fluentd-batch-bytes "1 MB please" from FDFWD_FLUENTD_BATCH_BYTES: expected a size in bytes such as "1048576", "512KiB" or "1MiB"'],
    [["--teleport-addr", "localhost"], {}, 'invalid teleport-addr "localhost" from --teleport-addr: expected host:port, e.g. "teleport.example.com:443"'],
    [[], { FDFWD_METRICS_ADDR: "9464" }, 'invalid metrics-addr "9464" from FDFWD_METRICS_ADDR: expected host:port, e.g. "127.0.0.1:9464" or ":9464"'],
    [["--fluentd-url", "ftp://localhost/x"], {}, 'invalid fluentd-url "ftp://localhost/x" from --fluentd-url: expected an https://, http://, forward+tls:// or forward:// URL with a host, e.g. https://fluentd.example.com:8888/teleport.events'],
    [[], { FDFWD_FLUENTD_SESSION_URL: "https://" }, 'invalid fluentd-session-url "https://" from FDFWD_FLUENTD_SESSION_URL: expected a URL with a host and a tag path, e.g. https://fluentd.example.com:8888/teleport.events'],
    [["--fluentd-url", "https://localhost:8888"], {}, 'invalid fluentd-url "https://localhost:8888" from --fluentd-url: needs a path that names the Fluentd tag (no empty parts), e.g. https://fluentd.example.com:8888/teleport.events'],
    [[], { FDFWD_FLUENTD_SESSION_URL: "https://localhost:8888/" }, 'invalid fluentd-session-url "https://localhost:8888/" from FDFWD_FLUENTD_SESSION_URL: needs a path that names the Fluentd tag (no empty parts), e.g. https://fluentd.example.com:8888/teleport.events'],
    [["--fluentd-url", "http://localhost:8888/x"], {}, "fluentd-url http://localhost:8888/x is not encrypted; use https://, or set fluentd-allow-insecure (--fluentd-allow-insecure, FDFWD_FLUENTD_ALLOW_INSECURE) to accept plain text as the Go tool does"],
    [["--batch", "99999999"], {}, 'invalid batch "99999999" from --batch: must be at most 10000: Teleport refuses pages larger than 10000 events'],
    [["--start-time", "2026-02-30T00:00:00Z"], {}, 'invalid start-time "2026-02-30T00:00:00Z" from --start-time: 2026-02-30 is not a date in the calendar'],
    [["--start-time", "2999-01-01T00:00:00Z"], {}, /^start-time 2999-01-01T00:00:00.000Z is in the future \(now .*\); nothing would be exported until then: give a time in the past, or leave start-time out to start now$/],
    [["--fluentd-url", "forward://localhost:24224/x"], {}, "fluentd-url forward://localhost:24224/x is not encrypted; use forward+tls://, or set fluentd-allow-insecure (--fluentd-allow-insecure, FDFWD_FLUENTD_ALLOW_INSECURE) to accept plain text as the Go tool does"],
    [["--fluentd-username", "u", "--fluentd-password", "p"], {}, "fluentd-username is set but fluentd-shared-key is not; in_forward checks the user inside the shared-key handshake, so set fluentd-shared-key too"],
    [[], { FDFWD_FLUENTD_KEY: "" }, "both fluentd-cert and fluentd-key must be set (only fluentd-cert is); set the other one"],
    [[], { FDFWD_FLUENTD_KEY: "", FDFWD_FLUENTD_CERT: "" }, "fluentd-cert and fluentd-key are required for mutual TLS with Fluentd; set them, or set fluentd-allow-insecure (--fluentd-allow-insecure, FDFWD_FLUENTD_ALLOW_INSECURE) to connect without a client certificate as the Go tool does"],
    [["--fluentd-key-passphrase", "s3cret"], { FDFWD_FLUENTD_KEY_PASSPHRASE_FILE: "passphrase" }, "fluentd-key-passphrase and fluentd-key-passphrase-file are mutually exclusive; set only one"],
    [[], { FDFWD_MAX_CONNECTIONS: "4", FDWRD_MAX_CONNECTIONS: "5" }, "FDFWD_MAX_CONNECTIONS and FDWRD_MAX_CONNECTIONS both set fluentd-max-connections to different values; unset one of them"],
  ] as Array<[string[], Record<string, string>, string]>)("%p %p", (args, env, message) => {
    expectConfigError(start(args, env), message);
  });

  test("a bad list in TOML", () => {
    const file = fx.write("bad-list.toml", "types = [1, 2]\n");
    expectConfigError(start(["--config", file]), `invalid types [1,2] from types in ${file}: expected an array of strings`);
  });

  test("a malformed header names the entry, never its text (it is often a token)", () => {
    const noColon = start(["--fluentd-header", "Bearertopsecret"]);
    expectConfigError(noColon, 'invalid fluentd-header from --fluentd-header: entry #1 has no colon; expected "Name: value", e.g. "Authorization: Bearer …"');
    const control = start(["--fluentd-header", "X-Ok: 1", "--fluentd-header", "Authorization: Bearer topsecret\u0007"]);
    expectConfigError(control, "invalid fluentd-header from --fluentd-header: entry #2 the value of Authorization holds a control character; only printable characters, spaces and tabs are allowed");
    expect(noColon.stderr + control.stderr).not.toContain("topsecret");
  });

  test("TOML values must have the type the Go tool accepts for them", () => {
    const storage = fx.write("storage-number.toml", "storage = 42\n");
    expectConfigError(start(["--config", storage], { FDFWD_STORAGE: "" }), `invalid storage 42 from storage in ${storage}: expected a string as a quoted TOML string, got a TOML integer`);
    const yes = fx.write("dry-run-yes.toml", 'dry-run = "yes"\n');
    expectConfigError(start(["--config", yes]), `invalid dry-run "yes" from dry-run in ${yes}: expected "true" or "false"`);
    // kong maps a quoted integer onto an int flag, so this loads in both tools.
    const quoted = fx.write("batch-quoted.toml", 'batch = "100"\nstorage = "s"\nstart-time = 2030-01-01T00:00:00Z\n');
    expect(start(["--config", quoted]).stderr).not.toContain("invalid batch");
  });

  test("settings that are allowed but likely wrong are warned about before anything runs", () => {
    const r = start(["--metrics-addr", "0.0.0.0:0"], { FDFWD_FLUENTD_SESSION_URL: "https://localhost:8888/session/" });
    expect(r.stderr).toContain("fluentd-session-url from FDFWD_FLUENTD_SESSION_URL drops the trailing slash of its path");
    expect(r.stderr).toContain("metrics-addr 0.0.0.0:0 serves /metrics on every network interface");
    expect(r.stderr).toContain("Using Fluentd session url: https://localhost:8888/session\n");
  });

  test("credentials in a Fluentd URL are never printed", () => {
    const r = start([], { FDFWD_FLUENTD_URL: "https://user:hunter2@localhost:8888/audit" });
    expect(r.stderr).toContain("Using Fluentd url: https://***@localhost:8888/audit");
    expect(r.stderr).not.toContain("hunter2");
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
    expect(errorLine(r.stderr)).toBe('unknown command "stat"; expected one of: start, configure, version, status, dead-letters, migrate, verify');
  });
  test("no command", () => {
    const r = runCli([]);
    expect(r.code).toBe(2);
    expect(errorLine(r.stderr)).toBe("no command given; expected one of: start, configure, version, status, dead-letters, migrate, verify");
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
    expect(errorLine(r.stderr)).toBe('missing argument OUT for teleport-event-handler configure; see "teleport-event-handler configure --help"');
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
