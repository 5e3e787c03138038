import { describe, expect, test } from "bun:test";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { createCA, issueCert, privateKeyPem } from "../../src/pki/certs.ts";

describe("pki", () => {
  for (const keyType of ["rsa", "ecdsa", "ed25519"] as const) {
    test(`${keyType}: leaf verifies against its CA and not against another`, async () => {
      const ca = await createCA({ commonName: "ca", keyType });
      const other = await createCA({ commonName: "other", keyType });
      const leaf = await issueCert(ca, { commonName: "leaf", usage: "server", dnsNames: ["localhost"], keyType });
      const cert = new X509Certificate(leaf.certPem);
      expect(cert.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
      expect(cert.verify(new X509Certificate(other.certPem).publicKey)).toBe(false);
      expect(cert.subjectAltName).toContain("DNS:localhost");
      expect(cert.subjectAltName).toContain("IP Address:127.0.0.1");
    });
  }

  test("encrypted key opens only with its passphrase", async () => {
    const ca = await createCA({ commonName: "ca", keyType: "ecdsa" });
    const leaf = await issueCert(ca, { commonName: "leaf", usage: "client", keyType: "rsa" });
    const pem = await privateKeyPem(leaf, { passphrase: "s3cret" });
    expect(pem).toContain("ENCRYPTED");
    expect(() => createPrivateKey({ key: pem, passphrase: "wrong" })).toThrow();
    const key = createPrivateKey({ key: pem, passphrase: "s3cret" });
    expect(new X509Certificate(leaf.certPem).checkPrivateKey(key)).toBe(true);
  });

  test("client certificates carry no server SANs unless asked", async () => {
    const ca = await createCA({ commonName: "ca", keyType: "ecdsa" });
    const leaf = await issueCert(ca, { commonName: "client", usage: "client", keyType: "ecdsa" });
    expect(new X509Certificate(leaf.certPem).subjectAltName).toBeUndefined();
  });
});
