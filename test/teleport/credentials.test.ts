import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { CredentialsError, loadCredentials, loadIdentityFile, parseIdentity } from "../../src/teleport/credentials.ts";
import { identityFileText, sshLines, writeIdentity, type SshLines } from "../../scripts/fakes/identity.ts";
import { tempDir, testCA, type TestCA } from "../../scripts/fakes/pki.ts";

const HOUR = 3_600_000;
let dir: string;
let userCA: TestCA;
let hostCA: TestCA;
let otherHostCA: TestCA;
let ssh: SshLines;

beforeAll(async () => {
  dir = tempDir("teh-creds-");
  userCA = await testCA(dir, "user-ca", { organization: "prod-cluster" });
  hostCA = await testCA(dir, "host-ca", { organization: "prod-cluster" });
  otherHostCA = await testCA(dir, "host-ca-next", { organization: "prod-cluster" });
  ssh = await sshLines("prod-cluster");
});

const thrown = (fn: () => unknown): CredentialsError => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CredentialsError);
    return err as CredentialsError;
  }
  throw new Error("expected a CredentialsError");
};

describe("identity file", () => {
  for (const keyType of ["rsa", "ecdsa", "ed25519"] as const) {
    test(`${keyType} key: key, TLS cert and CAs by position; SSH lines passed over`, async () => {
      const leaf = await userCA.issue(`client-${keyType}`, { usage: "client", keyType });
      const text = identityFileText({
        keyPem: leaf.keyPem,
        certPem: leaf.certPem,
        caPems: [hostCA.ca.certPem],
        sshCertLine: ssh.certLine,
        sshCALines: [ssh.caLine],
      });
      const creds = parseIdentity(text);
      expect(creds.keyPem).toContain("PRIVATE KEY");
      expect(creds.certPem.trim()).toBe(leaf.certPem.trim());
      expect(creds.caPems.map((p) => p.trim())).toEqual([hostCA.ca.certPem.trim()]);
      expect(JSON.stringify(creds)).not.toContain(ssh.certLine.split(" ")[1]!);
      expect(creds.clusterName).toBe("prod-cluster");
      expect(creds.warnings).toEqual([]);
    });
  }

  test("every PEM block after the second is a trusted CA (CA rotation), whatever its position among SSH lines", async () => {
    const leaf = await userCA.issue("client-rot", { usage: "client" });
    const text = [leaf.keyPem, ssh.certLine, leaf.certPem, ssh.caLine, hostCA.ca.certPem, ssh.caLine, otherHostCA.ca.certPem].join("\n");
    const creds = parseIdentity(text);
    expect(creds.caPems).toHaveLength(2);
    expect(creds.caPems[1]!.trim()).toBe(otherHostCA.ca.certPem.trim());
  });

  test("the file written in the tctl layout loads, and so does its cert/key/CA triplet", async () => {
    const leaf = await userCA.issue("client-files", { usage: "client" });
    const files = await writeIdentity(tempDir(), "prod-cluster", { keyPem: leaf.keyPem, certPem: leaf.certPem, caPems: [hostCA.ca.certPem, otherHostCA.ca.certPem] });
    const fromIdentity = loadIdentityFile(files.identityFile);
    const fromTriplet = loadCredentials({ cert: files.certFile, key: files.keyFile, ca: files.caFile });
    expect(fromTriplet.certPem.trim()).toBe(fromIdentity.certPem.trim());
    expect(fromTriplet.keyPem.trim()).toBe(fromIdentity.keyPem.trim());
    expect(fromTriplet.caPems).toHaveLength(2);
    expect(readFileSync(files.identityFile, "utf8")).toContain("ssh-ed25519-cert-v01@openssh.com ");
  });

  test("broken files fail with one line naming the setting", async () => {
    const leaf = await userCA.issue("client-broken", { usage: "client" });
    const other = await userCA.issue("client-other", { usage: "client" });
    const cases: [string, string, RegExp][] = [
      ["empty", "", /no PEM block/],
      ["key only", leaf.keyPem, /missing the TLS certificate/],
      ["fragment", [leaf.keyPem, ...leaf.certPem.split("\n").slice(0, 3)].join("\n"), /invalid PEM block \(fragment\)/],
      ["garbage PEM", [leaf.keyPem, "-----BEGIN CERTIFICATE-----\nnot base64 !!\n-----END CERTIFICATE-----", hostCA.ca.certPem].join("\n"), /TLS certificate is not a readable PEM/],
      ["no CA", [leaf.keyPem, leaf.certPem].join("\n"), /no trusted CA/],
      ["mismatched key", [other.keyPem, leaf.certPem, hostCA.ca.certPem].join("\n"), /does not match/],
    ];
    for (const [name, text, pattern] of cases) {
      const err = thrown(() => parseIdentity(text));
      expect(err.message, name).toMatch(pattern);
      expect(err.message, name).toStartWith("teleport-identity");
      expect(err.message, name).not.toContain("\n");
      expect(err.message, name).not.toContain("PRIVATE KEY-----");
    }
  });

  test("an expired certificate is refused; one expiring within 24 h warns with its date", async () => {
    const expired = await userCA.issue("client-expired", { usage: "client", notBefore: new Date(Date.now() - 48 * HOUR), notAfter: new Date(Date.now() - HOUR) });
    const err = thrown(() => parseIdentity(identityFileText({ keyPem: expired.keyPem, certPem: expired.certPem, caPems: [hostCA.ca.certPem] })));
    expect(err.message).toMatch(/expired on \d{4}-\d\d-\d\dT/);

    const soon = await userCA.issue("client-soon", { usage: "client", notAfter: new Date(Date.now() + 2 * HOUR) });
    const creds = parseIdentity(identityFileText({ keyPem: soon.keyPem, certPem: soon.certPem, caPems: [hostCA.ca.certPem] }));
    expect(creds.warnings).toHaveLength(1);
    expect(creds.warnings[0]).toContain(creds.notAfter.toISOString());
  });

  test("missing files and missing settings name what to set", () => {
    expect(thrown(() => loadIdentityFile(join(dir, "nope"))).message).toMatch(/^teleport-identity: cannot read .*nope \(ENOENT\)/);
    const caFile = join(dir, "bad.cas");
    writeFileSync(caFile, "nothing here");
    expect(thrown(() => loadCredentials({ cert: caFile, key: caFile, ca: caFile })).message).toMatch(/not a readable PEM/);
  });
});
