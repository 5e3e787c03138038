import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ConfigError } from "../../src/errors.ts";
import { loadConfig, type CliValues } from "../../src/config/load.ts";
import { OPTION_LIST, settingOf, type Config } from "../../src/config/options.ts";
import { makeConfigFixture } from "../support/config-fixture.ts";

const fx = makeConfigFixture();
afterAll(() => fx.cleanup());

function load(opts: { cli?: CliValues; env?: Record<string, string>; toml?: string; cwd?: string } = {}) {
  const env: Record<string, string> = { ...fx.env, ...opts.env };
  if (opts.toml !== undefined) env.FDFWD_CONFIG = fx.write(`c${Math.random().toString(36).slice(2)}.toml`, opts.toml);
  return loadConfig({ cli: opts.cli ?? {}, env, cwd: opts.cwd ?? fx.dir });
}

/** Every setting by its option key, to compare against the options table's names. */
function flat(config: Config): Record<string, unknown> {
  return Object.fromEntries(OPTION_LIST.map(([key]) => [key, settingOf(config, key)]));
}

const url = (href: string) => expect.objectContaining({ href });

function loadError(opts: Parameters<typeof load>[0]): string {
  try {
    load(opts);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("defaults", () => {
  test("every optional setting has the documented default", () => {
    const { config, origins } = load();
    expect(flat(config)).toMatchObject({
      teleportAddr: { host: "localhost", port: 3025 },
      teleportRefreshEnabled: false,
      teleportRefreshInterval: 60_000,
      teleportTlsRouting: "auto",
      fluentdMaxConnections: 10,
      fluentdBatchSize: 100,
      fluentdBatchBytes: 1024 * 1024,
      fluentdTimeout: 30_000,
      fluentdHeader: [],
      fluentdAllowInsecure: false,
      batch: 20,
      types: [],
      skipEventTypes: [],
      skipSessionTypes: ["print", "desktop.recording"],
      timeout: 5_000,
      concurrency: 5,
      windowSize: 86_400_000,
      dryRun: false,
      exitOnLastEvent: false,
      exitTimeout: 300_000,
      lockEnabled: false,
      lockFailedAttemptsCount: 3,
      lockPeriod: 60_000,
      lockFor: 0,
      readyFailurePeriod: 120_000,
      debug: false,
      logFormat: "text",
    });
    expect(config.ingest.startTime).toBeUndefined();
    expect(config.observability.metricsAddr).toBeUndefined();
    expect(config.teleport.cluster).toBeUndefined();
    expect(origins.batch).toBe("default");
  });

  test("max connections 0 means twice the concurrency", () => {
    expect(load({ env: { FDFWD_CONCURRENCY: "7" } }).config.fluentd.maxConnections).toBe(14);
    expect(load({ env: { FDFWD_MAX_CONNECTIONS: "3" } }).config.fluentd.maxConnections).toBe(3);
  });
});

describe("precedence, the Go tool's: CLI > TOML > env > default", () => {
  const toml = "batch = 30\n";
  test("env overrides the default", () => {
    const r = load({ env: { FDFWD_BATCH: "40" } });
    expect(r.config.ingest.batch).toBe(40);
    expect(r.origins.batch).toBe("env");
  });
  test("TOML overrides env", () => {
    const r = load({ toml, env: { FDFWD_BATCH: "40" } });
    expect(r.config.ingest.batch).toBe(30);
    expect(r.origins.batch).toBe("toml");
  });
  test("CLI overrides TOML and env", () => {
    const r = load({ toml, env: { FDFWD_BATCH: "40" }, cli: { batch: ["50"] } });
    expect(r.config.ingest.batch).toBe(50);
    expect(r.origins.batch).toBe("cli");
  });
  test("a false CLI boolean still overrides a true env value", () => {
    expect(load({ env: { FDFWD_DRY_RUN: "true" } }).config.ingest.dryRun).toBe(true);
    expect(load({ env: { FDFWD_DRY_RUN: "true" }, cli: { dryRun: false } }).config.ingest.dryRun).toBe(false);
  });
  test("the config file itself comes from the CLI before the env", () => {
    const fromCli = fx.write("cli.toml", "batch = 61\n");
    const fromEnv = fx.write("env.toml", "batch = 62\n");
    const r = loadConfig({ cli: { config: [fromCli] }, env: { ...fx.env, FDFWD_CONFIG: fromEnv }, cwd: fx.dir });
    expect(r.config.ingest.batch).toBe(61);
    expect(r.config.global.config).toBe(fromCli);
  });
  test("a repeated scalar flag keeps the last value", () => {
    expect(load({ cli: { batch: ["1", "2"] } }).config.ingest.batch).toBe(2);
  });
});

describe("both env spellings", () => {
  test.each([
    ["teleportCert", "TELEPORT_CERT", "tp-cert"],
    ["fluentdCa", "FLUENTD_CA", "fd-ca"],
    ["fluentdCert", "FLUENTD_CERT", "fd-cert"],
    ["fluentdKey", "FLUENTD_KEY", "fd-key"],
  ] as const)("%s reads FDFWD_%s and FDWRD_%s", (key, suffix, file) => {
    // Teleport cert needs the whole triplet, so drop the identity for that one.
    const base: Record<string, string> =
      key === "teleportCert"
        ? { FDFWD_TELEPORT_IDENTITY: "", FDFWD_TELEPORT_KEY: fx.file("tp-key"), FDFWD_TELEPORT_CA: fx.file("tp-ca") }
        : {};
    for (const prefix of ["FDFWD_", "FDWRD_"]) {
      const env = { ...base, FDFWD_FLUENTD_CERT: "", FDFWD_FLUENTD_KEY: "", [`${prefix}${suffix}`]: fx.file(file) };
      if (key !== "fluentdCert") env.FDFWD_FLUENTD_CERT = fx.file("fd-cert");
      if (key !== "fluentdKey") env.FDFWD_FLUENTD_KEY = fx.file("fd-key");
      expect(settingOf(load({ env }).config, key)).toBe(fx.file(file));
    }
  });

  test("max connections reads both spellings", () => {
    expect(load({ env: { FDFWD_MAX_CONNECTIONS: "4" } }).config.fluentd.maxConnections).toBe(4);
    expect(load({ env: { FDWRD_MAX_CONNECTIONS: "6" } }).config.fluentd.maxConnections).toBe(6);
    expect(load({ env: { FDFWD_MAX_CONNECTIONS: "6", FDWRD_MAX_CONNECTIONS: "6" } }).config.fluentd.maxConnections).toBe(6);
  });

  test("both spellings with different values is an error naming both", () => {
    expect(loadError({ env: { FDFWD_MAX_CONNECTIONS: "4", FDWRD_MAX_CONNECTIONS: "6" } })).toBe(
      "FDFWD_MAX_CONNECTIONS and FDWRD_MAX_CONNECTIONS both set fluentd-max-connections to different values; unset one of them",
    );
  });
});

describe("TOML", () => {
  const sections = `
storage = "/var/lib/teh"
[forward.fluentd]
url = "https://fluentd.internal:8888/a.log"
session-url = "https://fluentd.internal:8888/s"
max-connections = 3
batch-size = 7
batch-bytes = "512KiB"
header = ["X-A: 1", "Authorization: Bearer x,y"]
[teleport]
addr = "teleport.internal:443"
refresh.enabled = true
refresh.interval = "1m30s"
tls-routing = "on"
`;
  test("reads [teleport] and [forward.fluentd] sections and dotted keys", () => {
    const { config } = load({ toml: sections, env: { FDFWD_STORAGE: "", FDFWD_FLUENTD_URL: "", FDFWD_FLUENTD_SESSION_URL: "" } });
    expect(flat(config)).toMatchObject({
      storage: "/var/lib/teh",
      fluentdUrl: url("https://fluentd.internal:8888/a.log"),
      fluentdSessionUrl: url("https://fluentd.internal:8888/s"),
      fluentdMaxConnections: 3,
      fluentdBatchSize: 7,
      fluentdBatchBytes: 524_288,
      fluentdHeader: [
        { name: "X-A", value: "1" },
        { name: "Authorization", value: "Bearer x,y" },
      ],
      teleportAddr: { host: "teleport.internal", port: 443 },
      teleportRefreshEnabled: true,
      teleportRefreshInterval: 90_000,
      teleportTlsRouting: "on",
    });
  });

  test("a cursor key from a Go-era file is honoured, and said so", () => {
    const { config, warnings } = load({ toml: 'cursor = "evt-1"\n' });
    expect(config.ingest.cursor).toBe("evt-1");
    expect(warnings.join("\n")).toContain("cursor from");
    expect(load({ cli: { cursor: ["evt-1"] } }).warnings.join("\n")).not.toContain("cursor from");
  });

  test("[fluentd] is an alias of [forward.fluentd]", () => {
    const { config } = load({
      toml: '[fluentd]\nurl = "https://alias:1/a"\nsession-url = "https://alias:1/s"\nmax-connections = 2\n',
      env: { FDFWD_FLUENTD_URL: "", FDFWD_FLUENTD_SESSION_URL: "" },
    });
    expect(config.fluentd.url.href).toBe("https://alias:1/a");
    expect(config.fluentd.sessionUrl.href).toBe("https://alias:1/s");
    expect(config.fluentd.maxConnections).toBe(2);
  });

  test("[fluentd] and [forward.fluentd] disagreeing is an error", () => {
    expect(loadError({ toml: '[fluentd]\nbatch-size = 1\n[forward.fluentd]\nbatch-size = 2\n' })).toContain(
      "sets both forward.fluentd.batch-size and fluentd.batch-size",
    );
  });

  test("Go resolver spellings: all dashes as dots, and the literal flag name", () => {
    expect(load({ toml: "[skip.session]\ntypes = [\"a\"]\n" }).config.ingest.skipSessionTypes).toEqual(["a"]);
    expect(load({ toml: 'teleport-addr = "lit:1"\n' }).config.teleport.addr).toEqual({ host: "lit", port: 1 });
    expect(load({ toml: "[forward.fluentd.max]\nconnections = 9\n" }).config.fluentd.maxConnections).toBe(9);
    // The dotted spelling wins over the literal one, as in the Go resolver.
    expect(load({ toml: 'teleport-addr = "lit:1"\n[teleport]\naddr = "dot:2"\n' }).config.teleport.addr).toEqual({ host: "dot", port: 2 });
  });

  test("lists as arrays or comma-separated strings", () => {
    expect(load({ toml: 'types = ["user.login", "session.start"]\n' }).config.ingest.types).toEqual(["user.login", "session.start"]);
    expect(load({ toml: 'types = "user.login, session.start"\n' }).config.ingest.types).toEqual(["user.login", "session.start"]);
    expect(load({ env: { FDFWD_TYPES: "a,b,,c" } }).config.ingest.types).toEqual(["a", "b", "c"]);
    expect(load({ cli: { types: ["a,b", "c"] } }).config.ingest.types).toEqual(["a", "b", "c"]);
    expect(load({ toml: 'skip-session-types = ""\n' }).config.ingest.skipSessionTypes).toEqual([]);
  });

  test("late-event-delays: a list of durations, empty turns sweeps off, each entry checked", () => {
    expect(load({}).config.ingest.lateEventDelays).toEqual([60_000, 600_000]);
    expect(load({ toml: 'late-event-delays = ["45s", "6m"]\n' }).config.ingest.lateEventDelays).toEqual([45_000, 360_000]);
    expect(load({ toml: "late-event-delays = []\n" }).config.ingest.lateEventDelays).toEqual([]);
    expect(load({ cli: { lateEventDelays: [""] } }).config.ingest.lateEventDelays).toEqual([]);
    expect(load({ cli: { lateEventDelays: ["1500ms,5s"] } }).config.ingest.lateEventDelays).toEqual([1_500, 5_000]);
    expect(loadError({ toml: 'late-event-delays = ["1m", "10"]\n' })).toContain("late-event-delays");
    expect(loadError({ toml: 'late-event-delays = ["1m", "10"]\n' })).toContain("entry #2");
    expect(loadError({ cli: { lateEventDelays: ["0s"] } })).toContain("must be greater than 0");
  });

  test("headers: env one per line, CLI one per flag without splitting on commas", () => {
    const parsed = [
      { name: "X-A", value: "1,2" },
      { name: "X-B", value: "3" },
    ];
    expect(load({ env: { FDFWD_FLUENTD_HEADER: "X-A: 1,2\nX-B: 3\n" } }).config.fluentd.header).toEqual(parsed);
    expect(load({ cli: { fluentdHeader: ["X-A: 1,2", "X-B: 3"] } }).config.fluentd.header).toEqual(parsed);
  });

  test("durations and times from TOML", () => {
    const { config } = load({ toml: 'timeout = "500ms"\nwindow-size = "1h"\nlock-for = 0\nstart-time = 2024-01-31T15:04:05.5Z\n' });
    expect(config.ingest.timeout).toBe(500);
    expect(config.ingest.windowSize).toBe(3_600_000);
    expect(config.locking.for).toBe(0);
    expect(config.ingest.startTime?.toISOString()).toBe("2024-01-31T15:04:05.000Z");
    expect(load({ toml: 'start-time = "2024-01-31T15:04:05Z"\n' }).config.ingest.startTime?.toISOString()).toBe("2024-01-31T15:04:05.000Z");
  });

  test("an unknown key is a warning naming the nearest known key", () => {
    const { warnings } = load({ toml: 'bacth = 3\n[teleport]\nadr = "x:1"\n[forward.fluentd]\nsesion-url = "x"\n' });
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(/^unknown key "bacth" in config file .*c\w+\.toml is ignored; did you mean "batch"\?$/);
    expect(warnings[1]).toContain('unknown key "teleport.adr"');
    expect(warnings[1]).toContain('did you mean "teleport.addr"?');
    expect(warnings[2]).toContain('did you mean "forward.fluentd.session-url"?');
  });

  test("a right key in the wrong section points at the right one (Helm writes [teleport] debug)", () => {
    const { warnings, config } = load({ toml: "[teleport]\ndebug = true\n" });
    expect(config.global.debug).toBe(false);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('unknown key "teleport.debug"');
    expect(warnings[0]).toContain('did you mean "debug"?');
  });

  test("a TOML time without a zone is rejected", () => {
    expect(loadError({ toml: "start-time = 2024-01-31T15:04:05\n" })).toMatch(/^invalid start-time "2024-01-31T15:04:05.000" from start-time in .*: the time needs a zone, e.g. 2024-01-31T15:04:05Z$/);
  });

  test("a TOML syntax error names the file and line", () => {
    expect(loadError({ toml: "batch = \n" })).toMatch(/^cannot parse config file .*\.toml: .* at line 1, column \d+; fix the TOML syntax$/);
  });
});

describe("the Go tool's testdata/config.toml", () => {
  const dir = join(import.meta.dir, "..", "fixtures", "go-sample");
  const goLoad = (file: string) => loadConfig({ cli: { config: [file] }, env: {}, cwd: dir });

  test("gives the same effective values as in the Go tool", () => {
    const { config, warnings } = goLoad("testdata/config.toml");
    const fake = join(dir, "testdata", "fake-file");
    expect(warnings).toEqual([]);
    expect(flat(config)).toMatchObject({
      storage: "./storage",
      timeout: 10_000,
      batch: 20,
      fluentdCert: fake,
      fluentdKey: fake,
      fluentdCa: fake,
      fluentdUrl: url("https://localhost:8888/test.log"),
      fluentdSessionUrl: url("https://localhost:8888/session"),
      fluentdMaxConnections: 10,
      teleportAddr: { host: "localhost", port: 3025 },
      teleportIdentity: fake,
      teleportRefreshEnabled: true,
      teleportRefreshInterval: 120_000,
      concurrency: 5,
      windowSize: 86_400_000,
      lockFailedAttemptsCount: 3,
      lockPeriod: 60_000,
      skipSessionTypes: ["print", "desktop.recording"],
      debug: false,
    });
  });

  test("config-debug.toml turns on debug through the top-level key", () => {
    expect(goLoad("testdata/config-debug.toml").config.global.debug).toBe(true);
  });
});
