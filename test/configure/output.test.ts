import { beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { parse as parseToml } from "smol-toml";
import { FILE_NAMES } from "../../src/configure/index.ts";
import { configureInto, parseFluentConf, unquoteFluentd, type ConfBlock, type ConfigureRun } from "../support/configure.ts";
import { openssl } from "../support/openssl.ts";
import { tempDir } from "../../scripts/fakes/pki.ts";

const PASSPHRASE = "correct horse 'battery' \\ #{staple}";
const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";

let run: ConfigureRun;
const file = (name: string) => join(run.out, name);
const read = (name: string) => readFileSync(file(name), "utf8");
const cert = (name: string) => new X509Certificate(read(name));


function child(block: ConfBlock, name: string, arg?: string): ConfBlock {
  const found = block.children.find((c) => c.name === name && (arg === undefined || c.arg === arg));
  if (!found) throw new Error(`no <${name} ${arg ?? ""}> inside <${block.name} ${block.arg}>`);
  return found;
}

beforeAll(async () => {
  // A directory that does not exist yet: configure creates it.
  run = await configureInto(join(tempDir("teh-configure-"), "nested", "out"), `${PASSPHRASE}\n`, {
    addr: "teleport.example.com:443",
    ip: "10.1.2.3",
    dnsNames: "localhost,fluentd.example.com",
  });
});

describe("configure output", () => {
  test("writes the ten files, each with mode 0600, and lists them like the Go tool", () => {
    const expected = ["ca.crt", "ca.key", "server.crt", "server.key", "client.crt", "client.key", ...Object.values(FILE_NAMES)];
    expect(readdirSync(run.out).sort()).toEqual([...expected].sort());
    for (const name of expected) expect(statSync(file(name)).mode & 0o777).toBe(0o600);
    expect(statSync(run.out).mode & 0o077).toBe(0);
    expect(run.printed[0]).toStartWith("teleport-event-handler ");
    expect(run.printed.filter((l) => /^\[\d\] Generated /.test(l))).toHaveLength(5);
    expect(run.printed.find((l) => l.startsWith("[1]"))).toContain(join("out", "server.key"));
    expect(run.printed.at(-1)).toBe("https://goteleport.com/docs/management/export-audit-events/fluentd/");
    expect(run.printed.join("\n")).not.toContain("horse");
  });

  test("server and client certificates verify against the generated CA with openssl", () => {
    const server = openssl("verify", "-purpose", "sslserver", "-CAfile", file("ca.crt"), file("server.crt"));
    expect(server.output).toContain("OK");
    expect(server.code).toBe(0);
    const client = openssl("verify", "-purpose", "sslclient", "-CAfile", file("ca.crt"), file("client.crt"));
    expect(client.code).toBe(0);
    // The client certificate must not pass as a server certificate.
    expect(openssl("verify", "-purpose", "sslserver", "-CAfile", file("ca.crt"), file("client.crt")).code).not.toBe(0);
  });

  test("the CA is a CA and the leaves are RSA 2048 with the requested lifetime", () => {
    const ca = cert("ca.crt");
    expect(ca.ca).toBe(true);
    const server = cert("server.crt");
    expect(server.ca).toBe(false);
    expect(server.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    const days = (Date.parse(server.validTo) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(364);
    expect(days).toBeLessThan(366);
  });

  test("server key is AES-256 encrypted PKCS#1 and opens only with the passphrase (newline trimmed)", () => {
    const pem = read("server.key");
    expect(pem).toContain("BEGIN RSA PRIVATE KEY");
    expect(pem).toContain("DEK-Info: AES-256-CBC");
    expect(() => createPrivateKey({ key: pem })).toThrow();
    expect(() => createPrivateKey({ key: pem, passphrase: `${PASSPHRASE}\n` })).toThrow();
    const key = createPrivateKey({ key: pem, passphrase: PASSPHRASE });
    expect(cert("server.crt").checkPrivateKey(key)).toBe(true);
  });

  test("CA and client keys are plain PKCS#1 matching their certificates", () => {
    for (const name of ["ca", "client"]) {
      const pem = read(`${name}.key`);
      expect(pem).toStartWith("-----BEGIN RSA PRIVATE KEY-----");
      expect(pem).not.toContain("ENCRYPTED");
      expect(cert(`${name}.crt`).checkPrivateKey(createPrivateKey(pem))).toBe(true);
    }
  });

  test("server SANs come from the flags (localhost adds loopback IPs); client has clientAuth and no SANs", () => {
    const sans = cert("server.crt").subjectAltName!.split(", ").sort();
    expect(sans).toEqual(
      ["DNS:localhost", "DNS:fluentd.example.com", "IP Address:10.1.2.3", "IP Address:127.0.0.1", "IP Address:0:0:0:0:0:0:0:1"].sort(),
    );
    expect(cert("server.crt").keyUsage).toEqual([SERVER_AUTH]);
    const client = cert("client.crt");
    expect(client.subjectAltName).toBeUndefined();
    expect(client.keyUsage).toEqual([CLIENT_AUTH]);
  });

  test("fluent.conf: mTLS source with the generated files and passphrase; <buffer> only in the outputs", () => {
    const conf = parseFluentConf(read("fluent.conf"));
    const source = child(conf, "source");
    expect(source.directives.get("@type")).toBe("http");
    expect(source.directives.get("port")).toBe("8888");
    expect(source.children.map((c) => c.name)).not.toContain("buffer");
    const tls = child(source, "transport", "tls");
    expect(tls.directives.get("client_cert_auth")).toBe("true");
    expect(unquoteFluentd(tls.directives.get("ca_path")!)).toBe(file("ca.crt"));
    expect(unquoteFluentd(tls.directives.get("cert_path")!)).toBe(file("server.crt"));
    expect(unquoteFluentd(tls.directives.get("private_key_path")!)).toBe(file("server.key"));
    expect(unquoteFluentd(tls.directives.get("private_key_passphrase")!)).toBe(PASSPHRASE);
    expect(child(source, "parse").directives.get("@type")).toBe("json");
    for (const tag of ["events.log", "session.*.log"]) {
      const buffer = child(child(conf, "match", tag), "buffer");
      expect(buffer.directives.get("@type")).toBe("file");
      expect(buffer.directives.get("path")).toBeDefined();
    }
  });

  test("the TOML parses, points at existing files, and posts to the tags fluent.conf matches", () => {
    const toml = parseToml(read("teleport-event-handler.toml")) as Record<string, any>;
    expect(toml.storage).toBe("./storage");
    expect(toml.timeout).toBe("10s");
    expect(toml.batch).toBe(20);
    const fluentd = toml.forward.fluentd;
    expect(fluentd.ca).toBe(file("ca.crt"));
    expect(fluentd.cert).toBe(file("client.crt"));
    expect(fluentd.key).toBe(file("client.key"));
    for (const path of [fluentd.ca, fluentd.cert, fluentd.key]) expect(existsSync(path)).toBe(true);
    expect(fluentd.url).toBe("https://localhost:8888/events.log");
    expect(fluentd["session-url"]).toBe("https://localhost:8888/session");
    expect(toml.teleport).toEqual({ addr: "teleport.example.com:443", identity: "identity", refresh: { enabled: true } });

    // in_http tags a POST by its path; the events path and a session path must hit the two matches.
    const conf = parseFluentConf(read("fluent.conf"));
    const tags = conf.children.filter((c) => c.name === "match").map((c) => c.arg);
    expect(tags).toContain(new URL(fluentd.url).pathname.slice(1).replaceAll("/", "."));
    const sessionTag = `${new URL(fluentd["session-url"]).pathname.slice(1)}.0b7a7c5e-5d07-4c1b-9d0e-3d6a2d1f2c11.log`;
    expect(tags.some((t) => new RegExp(`^${t.replaceAll(".", "\\.").replace("*", "[^.]+")}$`).test(sessionTag))).toBe(true);
  });

  test("role file grants event/session list,read and lock create,update; the user has the role", () => {
    const [role, user] = Bun.YAML.parse(read("teleport-event-handler-role.yaml")) as any[];
    expect(role.kind).toBe("role");
    expect(role.metadata.name).toBe("teleport-event-handler");
    expect(role.spec.allow.rules).toEqual([
      { resources: ["event", "session"], verbs: ["list", "read"] },
      { resources: ["lock"], verbs: ["create", "update"] },
    ]);
    expect(user).toEqual({ kind: "user", metadata: { name: "teleport-event-handler" }, spec: { roles: ["teleport-event-handler"] }, version: "v2" });
  });

  test("Helm values carry the address, the /session URL and the newer secret names", () => {
    const values = Bun.YAML.parse(read("teleport-plugin-event-handler-values.yaml")) as any;
    expect(values.teleport.address).toBe("teleport.example.com:443");
    expect(values.teleport.identitySecretName).toBe("teleport-plugin-event-handler-identity");
    expect(values.fluentd.sessionUrl).toEndWith("/session");
    expect(values.fluentd.url).toEndWith("/events.log");
    expect(values.fluentd.certificate).toEqual({
      secretName: "teleport-plugin-event-handler-client-tls",
      caPath: "ca.crt",
      certPath: "client.crt",
      keyPath: "client.key",
    });
    expect(values.persistentVolumeClaim.enabled).toBe(true);
  });
});
