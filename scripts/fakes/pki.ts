import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCA, issueCert, privateKeyPem, type Issued, type KeyType } from "../../src/pki/certs.ts";

/** A CA-signed key pair written to disk, with the PEMs kept in memory too. */
export interface PemPair {
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
  issued: Issued;
}

export interface TestCA {
  ca: Issued;
  caFile: string;
  issue(name: string, opts: { usage: "server" | "client" | "both"; dnsNames?: string[]; ips?: string[]; keyType?: KeyType; passphrase?: string; notAfter?: Date; notBefore?: Date; organization?: string }): Promise<PemPair>;
}

export function tempDir(prefix = "teh-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A CA whose certificates land in `dir`; RSA 2048 by default, ECDSA where speed matters more. */
export async function testCA(dir: string, name: string, opts: { keyType?: KeyType; organization?: string } = {}): Promise<TestCA> {
  const ca = await createCA({ commonName: name, organization: opts.organization ?? name, keyType: opts.keyType ?? "ecdsa" });
  const caFile = join(dir, `${name}.crt`);
  writeFileSync(caFile, ca.certPem, { mode: 0o600 });
  return {
    ca,
    caFile,
    async issue(leaf, o) {
      const issued = await issueCert(ca, { commonName: leaf, keyType: o.keyType ?? "ecdsa", ...o });
      const keyPem = await privateKeyPem(issued, { passphrase: o.passphrase });
      const certFile = join(dir, `${leaf}.crt`);
      const keyFile = join(dir, `${leaf}.key`);
      writeFileSync(certFile, issued.certPem, { mode: 0o600 });
      writeFileSync(keyFile, keyPem, { mode: 0o600 });
      return { certFile, keyFile, certPem: issued.certPem, keyPem, issued };
    },
  };
}

/**
 * The PKI of a test world, shaped like a real Teleport cluster (two CAs: the host CA signs the Auth
 * server, the user CA signs clients and is trusted only by the server) plus the Fluentd side.
 */
export interface TestPki {
  dir: string;
  clusterName: string;
  hostCA: TestCA;
  userCA: TestCA;
  authServer: PemPair;
  teleportClient: PemPair;
  fluentdCA: TestCA;
  fluentdServer: PemPair;
  fluentdClient: PemPair;
  rogueCA: TestCA;
  rogueClient: PemPair;
}

export async function createTestPki(opts: { clusterName?: string; dir?: string } = {}): Promise<TestPki> {
  const dir = opts.dir ?? tempDir("teh-pki-");
  const clusterName = opts.clusterName ?? "test-cluster";
  const hostCA = await testCA(dir, "teleport-host-ca", { organization: clusterName });
  const userCA = await testCA(dir, "teleport-user-ca", { organization: clusterName });
  const authServer = await hostCA.issue("teleport-auth", { usage: "server", dnsNames: ["teleport.cluster.local", "localhost"], organization: clusterName });
  const teleportClient = await userCA.issue("teleport-event-handler", { usage: "client", organization: clusterName });
  const fluentdCA = await testCA(dir, "fluentd-ca");
  const fluentdServer = await fluentdCA.issue("fluentd-server", { usage: "server", dnsNames: ["localhost"] });
  const fluentdClient = await fluentdCA.issue("fluentd-client", { usage: "client" });
  const rogueCA = await testCA(dir, "rogue-ca");
  const rogueClient = await rogueCA.issue("rogue-client", { usage: "both", dnsNames: ["localhost", "teleport.cluster.local"] });
  return { dir, clusterName, hostCA, userCA, authServer, teleportClient, fluentdCA, fluentdServer, fluentdClient, rogueCA, rogueClient };
}
