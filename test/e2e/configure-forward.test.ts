import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseToml } from "smol-toml";
import { parseFluentConf, unquoteFluentd } from "../support/configure.ts";
import { startFakeForward, type FakeForward } from "../../scripts/fakes/fake-forward.ts";
import { startFakeTeleport, type FakeTeleport } from "../../scripts/fakes/fake-teleport.ts";
import { tempDir } from "../../scripts/fakes/pki.ts";
import { countBy, runToEnd } from "../support/world.ts";

/**
 * `configure --forward`, then an in_forward receiver set up exactly as the generated fluent.conf
 * says (TLS material, passphrase, shared key), then `start --config` with the generated TOML. Only
 * the Teleport address and identity and the receiver's port (tests use free ports) are overridden.
 */
const PASSPHRASE = "forward passphrase";
let work: string;
let out: string;
let teleport: FakeTeleport;
let receiver: FakeForward;
let toml: { forward: { fluentd: Record<string, string> } };
let source: ReturnType<typeof parseFluentConf>;

beforeAll(async () => {
  work = tempDir("teh-configure-forward-");
  out = join(work, "out");
  const configured = await runToEnd(["configure", "out", "127.0.0.1:3025", "--length", "2048", "--forward"], {}, { cwd: work, stdin: `${PASSPHRASE}\n` });
  expect({ code: configured.code, stderr: configured.stderr }).toEqual({ code: 0, stderr: "" });

  source = parseFluentConf(readFileSync(join(out, "fluent.conf"), "utf8")).children.find((c) => c.name === "source")!;
  const tls = source.children.find((c) => c.name === "transport")!.directives;
  const security = source.children.find((c) => c.name === "security")!.directives;
  const setting = (m: Map<string, string>, key: string) => unquoteFluentd(m.get(key)!);
  receiver = await startFakeForward({
    ca: readFileSync(setting(tls, "ca_path"), "utf8"),
    cert: readFileSync(setting(tls, "cert_path"), "utf8"),
    key: readFileSync(setting(tls, "private_key_path"), "utf8"),
    passphrase: setting(tls, "private_key_passphrase"),
    security: { sharedKey: setting(security, "shared_key"), selfHostname: setting(security, "self_hostname") },
  });
  toml = parseToml(readFileSync(join(out, "teleport-event-handler.toml"), "utf8")) as typeof toml;
  teleport = await startFakeTeleport({ events: 200, days: 1, sessions: 3, printsPerSession: 2, outDir: tempDir("teh-configure-forward-tp-") });
});

afterAll(async () => {
  await Promise.allSettled([teleport?.stop(), receiver?.stop()]);
});

describe("configure --forward", () => {
  test("fluent.conf has an in_forward source over mutual TLS with a shared key; the TOML has forward+tls URLs and the same key", () => {
    expect(source.directives.get("@type")).toBe("forward");
    expect(source.directives.get("port")).toBe("24224");
    const tls = source.children.find((c) => c.name === "transport")!;
    expect(tls.arg).toBe("tls");
    expect(tls.directives.get("client_cert_auth")).toBe("true");
    const key = unquoteFluentd(source.children.find((c) => c.name === "security")!.directives.get("shared_key")!);
    expect(key.length).toBeGreaterThanOrEqual(40);
    const fluentd = toml.forward.fluentd;
    expect(fluentd.url).toBe("forward+tls://localhost:24224/events.log");
    expect(fluentd["session-url"]).toBe("forward+tls://localhost:24224/session");
    expect(fluentd["shared-key"]).toBe(key);
  });

  test("the handler started with the generated TOML delivers every event and recording to that receiver", async () => {
    // Flags, not environment variables: the file wins over the environment, as in the Go tool.
    const args = [
      "--teleport-addr", teleport.addr,
      "--teleport-identity", teleport.identity.identityFile,
      "--fluentd-url", receiver.url("events.log"),
      "--fluentd-session-url", receiver.url("session"),
      "--start-time", new Date((teleport.log.timeAt(0).seconds - 86_400) * 1000).toISOString(),
    ];
    const result = await runToEnd(["start", "--config", "out/teleport-event-handler.toml", "--exit-on-last-event", ...args], {}, { cwd: work });
    expect(result.stderr).not.toMatch(/\bERROR\b/);
    expect(result.code).toBe(0);
    const uids = receiver.records("events.log").map((r) => String(r.record.uid));
    expect(uids.length).toBe(teleport.log.count);
    expect([...countBy(uids).values()].every((n) => n === 1)).toBe(true);
    expect(receiver.records().some((r) => r.tag.startsWith("session."))).toBe(true);
    expect(receiver.refusedHandshakes()).toBe(0);
    expect(result.stderr).not.toContain(toml.forward.fluentd["shared-key"]!);
  });
});
