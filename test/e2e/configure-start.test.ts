import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { parseFluentConf, unquoteFluentd } from "../support/configure.ts";
import { startFakeFluentd, type FakeFluentd } from "../../scripts/fakes/fake-fluentd.ts";
import { startFakeTeleport, type FakeTeleport } from "../../scripts/fakes/fake-teleport.ts";
import { tempDir, testCA } from "../../scripts/fakes/pki.ts";
import { countBy, runToEnd } from "../support/world.ts";

/**
 * What a new user does: `configure` (the compiled binary, passphrase piped in), start Fluentd with
 * the generated server material as the generated fluent.conf says, then `start --config` with the
 * generated TOML. Only the Teleport address and identity (the TOML expects `tctl auth sign` output)
 * and the Fluentd port (tests use free ports) are overridden.
 */
const PASSPHRASE = "correct horse battery staple";
let work: string;
let out: string;
let teleport: FakeTeleport;
let fluentd: FakeFluentd;
let configureLog: string;

beforeAll(async () => {
  work = tempDir("teh-configure-start-");
  out = join(work, "out");
  const configured = await runToEnd(["configure", "out", "127.0.0.1:3025", "--length", "2048"], {}, { cwd: work, stdin: `${PASSPHRASE}\n` });
  expect(configured.stderr).toBe("");
  expect(configured.code).toBe(0);
  configureLog = configured.stdout;

  // The receiver takes exactly what fluent.conf's <transport tls> names.
  const source = parseFluentConf(readFileSync(join(out, "fluent.conf"), "utf8")).children.find((c) => c.name === "source")!;
  const tls = source.children.find((c) => c.name === "transport")!.directives;
  const setting = (key: string) => unquoteFluentd(tls.get(key)!);
  expect(setting("private_key_passphrase")).toBe(PASSPHRASE);
  fluentd = await startFakeFluentd({
    ca: readFileSync(setting("ca_path"), "utf8"),
    cert: readFileSync(setting("cert_path"), "utf8"),
    key: readFileSync(setting("private_key_path"), "utf8"),
    passphrase: setting("private_key_passphrase"),
  });
  teleport = await startFakeTeleport({ events: 200, days: 1, sessions: 3, printsPerSession: 2, outDir: tempDir("teh-configure-start-tp-") });
});

afterAll(async () => {
  await Promise.allSettled([teleport?.stop(), fluentd?.stop()]);
});

const post = (tls: { cert?: string; key?: string }) =>
  fetch(fluentd.url("probe.log"), { method: "POST", body: '{"event":"x"}', tls: { ca: readFileSync(join(out, "ca.crt"), "utf8"), ...tls } });

describe("configure's material on the Fluentd-compatible receiver", () => {
  test("configure lists what it wrote and never prints the passphrase", () => {
    expect(configureLog).toContain(join("out", "teleport-event-handler.toml"));
    expect(configureLog).not.toContain(PASSPHRASE);
    expect(readdirSync(out)).toContain("server.key");
    expect(readFileSync(join(out, "server.key"), "utf8")).toContain("ENCRYPTED");
  });

  test("the generated client certificate is accepted", async () => {
    const res = await post({ cert: readFileSync(join(out, "client.crt"), "utf8"), key: readFileSync(join(out, "client.key"), "utf8") });
    expect(res.status).toBe(200);
    expect(fluentd.records("probe.log").map((r) => r.record)).toEqual([{ event: "x" }]);
  });

  test("a client certificate from another CA, or none, is refused", async () => {
    const rogue = await (await testCA(tempDir("teh-rogue-"), "rogue-ca")).issue("rogue", { usage: "client" });
    const before = fluentd.requestCount();
    await expect(post({ cert: rogue.certPem, key: rogue.keyPem })).rejects.toThrow();
    await expect(post({})).rejects.toThrow();
    expect(fluentd.requestCount()).toBe(before);
  });
});

describe("start with the generated TOML", () => {
  // Flags, not environment variables: the file wins over the environment, as in the Go tool.
  const overrides = () => ({
    env: {},
    args: [
      "--teleport-addr", teleport.addr,
      "--teleport-identity", teleport.identity.identityFile,
      "--fluentd-url", fluentd.url("events.log"),
      "--fluentd-session-url", fluentd.url("session"),
      // A day before the fake's first event, rather than now (which would find nothing).
      "--start-time", new Date((teleport.log.timeAt(0).seconds - 86_400) * 1000).toISOString(),
    ],
  });

  test("--dry-run --exit-on-last-event reads everything cleanly and sends nothing", async () => {
    const { env, args } = overrides();
    const before = fluentd.requestCount();
    const result = await runToEnd(["start", "--config", "out/teleport-event-handler.toml", "--dry-run", "--exit-on-last-event", ...args], env, { cwd: work });
    expect(result.stderr).not.toMatch(/\bERROR\b/);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`summary: ${teleport.log.count} events read (dry run, not sent)`);
    expect(fluentd.requestCount()).toBe(before);
    // The TOML's relative storage was not even created.
    expect(readdirSync(work).sort()).toEqual(["out"]);
  });

  test("a real run delivers every event over the generated certificates, into the TOML's storage", async () => {
    const { env, args } = overrides();
    const result = await runToEnd(["start", "--config", "out/teleport-event-handler.toml", "--exit-on-last-event", ...args], env, { cwd: work });
    expect(result.stderr).not.toMatch(/\bERROR\b/);
    expect(result.code).toBe(0);
    const uids = fluentd.records("events.log").map((r) => String(r.record.uid));
    expect(uids.length).toBe(teleport.log.count);
    expect([...countBy(uids).values()].every((n) => n === 1)).toBe(true);
    expect(readdirSync(join(work, "storage")).some((f) => f.endsWith(".sqlite"))).toBe(true);
  });
});
