import { describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { openssl } from "../support/openssl.ts";
import { tempDir } from "../../scripts/fakes/pki.ts";

const ROOT = resolve(import.meta.dir, "../..");


describe("make gen-example-mtls", () => {
  test("with PASS set it prompts for nothing and writes material that openssl verifies", () => {
    const keys = join(tempDir("teh-example-mtls-"), "keys");
    const pass = "pa ss$word";
    // stdin closed: any prompt would fail the run instead of hanging it.
    const make = Bun.spawnSync(["make", "-C", ROOT, "gen-example-mtls", "KEYLEN=2048", `EXAMPLE_KEYS=${keys}`], {
      env: { ...process.env, PASS: pass },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(make.stderr.toString()).not.toContain("Enter");
    expect(make.exitCode).toBe(0);
    expect(make.stdout.toString()).not.toContain(pass);

    const file = (name: string) => join(keys, name);
    expect(readdirSync(keys).sort()).toEqual(["ca.crt", "ca.key", "client.crt", "client.key", "server.crt", "server.key", "server.pass"]);
    for (const name of readdirSync(keys)) expect(statSync(file(name)).mode & 0o777).toBe(0o600);
    expect(readFileSync(file("server.pass"), "utf8")).toBe(`${pass}\n`);

    expect(openssl("verify", "-purpose", "sslserver", "-CAfile", file("ca.crt"), file("server.crt")).code).toBe(0);
    expect(openssl("verify", "-purpose", "sslclient", "-CAfile", file("ca.crt"), file("client.crt")).code).toBe(0);

    // The server key: AES-256, opens with PASS only.
    expect(openssl("asn1parse", "-in", file("server.key")).output).toContain("aes-256-cbc");
    expect(openssl("pkey", "-in", file("server.key"), "-passin", `pass:${pass}`, "-noout").code).toBe(0);
    expect(openssl("pkey", "-in", file("server.key"), "-passin", "pass:wrong", "-noout").code).not.toBe(0);
    expect(openssl("pkey", "-in", file("client.key"), "-passin", "pass:", "-noout").code).toBe(0);

    const server = new X509Certificate(readFileSync(file("server.crt")));
    expect(server.subjectAltName).toContain("DNS:localhost");
    expect(server.subjectAltName).toContain("IP Address:127.0.0.1");
    expect(server.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    const client = new X509Certificate(readFileSync(file("client.crt")));
    expect(client.keyUsage).toEqual(["1.3.6.1.5.5.7.3.2"]);
    expect(new X509Certificate(readFileSync(file("ca.crt"))).ca).toBe(true);
  });
});
