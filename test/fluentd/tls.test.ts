import { beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { FluentdSettingError, loadFluentdTls, type FluentdTlsSettings } from "../../src/fluentd/tls.ts";
import { createTestPki, type PemPair, type TestPki } from "../../scripts/fakes/pki.ts";

let pki: TestPki;
let encrypted: PemPair;

beforeAll(async () => {
  pki = await createTestPki();
  encrypted = await pki.fluentdCA.issue("encrypted-client", { usage: "client", passphrase: "correct horse" });
});

function settings(over: Partial<FluentdTlsSettings> = {}): FluentdTlsSettings {
  return { ca: pki.fluentdCA.caFile, cert: pki.fluentdClient.certFile, key: pki.fluentdClient.keyFile, ...over };
}

function failure(over: Partial<FluentdTlsSettings>): FluentdSettingError {
  try {
    loadFluentdTls(settings(over));
  } catch (err) {
    expect(err).toBeInstanceOf(FluentdSettingError);
    const e = err as FluentdSettingError;
    expect(e.message).not.toContain("\n");
    return e;
  }
  throw new Error("expected loadFluentdTls to throw");
}

describe("loadFluentdTls", () => {
  test("returns the PEMs of a valid mTLS setup", () => {
    const m = loadFluentdTls(settings());
    expect(m.ca).toBe(pki.fluentdCA.ca.certPem);
    expect(m.cert).toBe(pki.fluentdClient.certPem);
    expect(m.key).toBe(pki.fluentdClient.keyPem);
    expect(m.passphrase).toBeUndefined();
  });

  test("an encrypted key opens with the right passphrase, inline or from a file", () => {
    expect(loadFluentdTls(settings({ cert: encrypted.certFile, key: encrypted.keyFile, keyPassphrase: "correct horse" })).passphrase).toBe("correct horse");
    const file = join(pki.dir, "passphrase.txt");
    writeFileSync(file, "correct horse\n");
    expect(loadFluentdTls(settings({ cert: encrypted.certFile, key: encrypted.keyFile, keyPassphraseFile: file })).passphrase).toBe("correct horse");
  });

  test("a wrong passphrase names fluentd-key-passphrase and does not echo it", () => {
    const e = failure({ cert: encrypted.certFile, key: encrypted.keyFile, keyPassphrase: "wrong-secret" });
    expect(e.setting).toBe("fluentd-key-passphrase");
    expect(e.message).not.toContain("wrong-secret");
  });

  test("an encrypted key without a passphrase asks for one", () => {
    const e = failure({ cert: encrypted.certFile, key: encrypted.keyFile });
    expect(e.setting).toBe("fluentd-key");
    expect(e.message).toContain("fluentd-key-passphrase");
  });

  test("an unreadable file names its setting", () => {
    expect(failure({ ca: join(pki.dir, "missing.crt") }).setting).toBe("fluentd-ca");
    expect(failure({ cert: join(pki.dir, "missing.crt") }).setting).toBe("fluentd-cert");
    expect(failure({ key: join(pki.dir, "missing.key") }).setting).toBe("fluentd-key");
    expect(failure({ cert: encrypted.certFile, key: encrypted.keyFile, keyPassphraseFile: join(pki.dir, "nope") }).setting).toBe("fluentd-key-passphrase-file");
  });

  test("a key that does not match the certificate is refused", () => {
    const e = failure({ key: pki.fluentdServer.keyFile });
    expect(e.setting).toBe("fluentd-key");
    expect(e.message).toContain("does not match");
  });

  test("a CA file without a certificate is refused", () => {
    const e = failure({ ca: pki.fluentdClient.keyFile });
    expect(e.setting).toBe("fluentd-ca");
    expect(e.message).toContain("no PEM certificate");
  });

  test("without a client certificate (fluentd-allow-insecure) there is nothing to load but the CA", () => {
    expect(loadFluentdTls({ ca: pki.fluentdCA.caFile }).cert).toBeUndefined();
    expect(loadFluentdTls({})).toEqual({});
  });
});
