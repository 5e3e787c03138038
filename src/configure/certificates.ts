import { createCA, issueCert, privateKeyPem } from "../pki/certs.ts";
import type { ConfigureOptions } from "./options.ts";

export interface PemFile {
  name: string;
  pem: string;
}

export interface GeneratedCertificates {
  caCert: PemFile;
  caKey: PemFile;
  serverCert: PemFile;
  serverKey: PemFile;
  clientCert: PemFile;
  clientKey: PemFile;
}

const ORGANIZATION = "teleport-event-handler";

/**
 * The mTLS material between the handler (client) and Fluentd (server). Server SANs come only from the
 * flags, never from a DNS lookup (the Go tool resolves names, so its output depends on the machine
 * that ran it and aborts offline). The client certificate gets no SANs: Fluentd checks only its chain.
 */
export async function generateCertificates(opts: ConfigureOptions, passphrase: string, now = new Date()): Promise<GeneratedCertificates> {
  // A minute of slack for clocks that run slightly behind ours.
  const notBefore = new Date(now.getTime() - 60_000);
  const notAfter = new Date(now.getTime() + opts.ttlMs);
  const common = { keyType: "rsa" as const, rsaBits: opts.rsaBits, organization: ORGANIZATION, notBefore, notAfter };
  const { ca: caName, server: serverName, client: clientName } = opts.names;

  const ca = await createCA({ ...common, commonName: caName });
  const [server, client] = await Promise.all([
    issueCert(ca, { ...common, commonName: serverName, usage: "server", dnsNames: opts.dnsNames, ips: opts.ips }),
    issueCert(ca, { ...common, commonName: clientName, usage: "client" }),
  ]);
  return {
    caCert: { name: `${caName}.crt`, pem: ca.certPem },
    caKey: { name: `${caName}.key`, pem: await privateKeyPem(ca) },
    serverCert: { name: `${serverName}.crt`, pem: server.certPem },
    // Fluentd's in_http wants an encrypted key plus `private_key_passphrase`.
    serverKey: { name: `${serverName}.key`, pem: await privateKeyPem(server, { passphrase }) },
    clientCert: { name: `${clientName}.crt`, pem: client.certPem },
    clientKey: { name: `${clientName}.key`, pem: await privateKeyPem(client) },
  };
}
