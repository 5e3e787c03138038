import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { createPrivateKey, randomBytes, webcrypto } from "node:crypto";

/**
 * Certificate generation for `configure` and for test fixtures. @peculiar/x509 builds and signs the
 * certificates on WebCrypto; node:crypto serializes (and optionally encrypts) the private keys,
 * because WebCrypto can only export unencrypted PKCS#8.
 */
x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export type KeyType = "rsa" | "ecdsa" | "ed25519";

export interface KeyOptions {
  keyType?: KeyType;
  /** RSA modulus length; ignored for other key types. */
  rsaBits?: number;
}

export interface Issued {
  cert: x509.X509Certificate;
  certPem: string;
  keys: CryptoKeyPair;
  keyType: KeyType;
}

export interface SubjectOptions extends KeyOptions {
  commonName: string;
  organization?: string;
  notBefore?: Date;
  notAfter?: Date;
}

export interface LeafOptions extends SubjectOptions {
  /** serverAuth, clientAuth, or both. */
  usage: "server" | "client" | "both";
  dnsNames?: string[];
  ips?: string[];
}

const DAY_MS = 24 * 60 * 60 * 1000;

function algorithmFor(keyType: KeyType, rsaBits: number): RsaHashedKeyGenParams | EcKeyGenParams | Algorithm {
  switch (keyType) {
    case "rsa":
      return { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256", publicExponent: new Uint8Array([1, 0, 1]), modulusLength: rsaBits };
    case "ecdsa":
      return { name: "ECDSA", namedCurve: "P-256" };
    case "ed25519":
      return { name: "Ed25519" };
  }
}

function signingAlgorithmFor(keyType: KeyType): Algorithm | EcdsaParams | RsaHashedImportParams {
  switch (keyType) {
    case "rsa":
      return { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as RsaHashedImportParams;
    case "ecdsa":
      return { name: "ECDSA", hash: "SHA-256" } as EcdsaParams;
    case "ed25519":
      return { name: "Ed25519" };
  }
}

async function generateKeys(opts: KeyOptions): Promise<{ keys: CryptoKeyPair; keyType: KeyType }> {
  const keyType = opts.keyType ?? "rsa";
  const keys = (await webcrypto.subtle.generateKey(algorithmFor(keyType, opts.rsaBits ?? 2048) as RsaHashedKeyGenParams, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  return { keys, keyType };
}

function distinguishedName(opts: SubjectOptions): string {
  const parts = [`CN=${opts.commonName}`];
  if (opts.organization) parts.push(`O=${opts.organization}`);
  return parts.join(", ");
}

function serialNumber(): string {
  // 127 random bits keep the DER integer positive, as RFC 5280 requires.
  const bytes = randomBytes(16);
  bytes[0]! &= 0x7f;
  return bytes.toString("hex");
}

function validity(opts: SubjectOptions): { notBefore: Date; notAfter: Date } {
  const notBefore = opts.notBefore ?? new Date(Date.now() - 60_000);
  return { notBefore, notAfter: opts.notAfter ?? new Date(notBefore.getTime() + 365 * DAY_MS) };
}

export async function createCA(opts: SubjectOptions): Promise<Issued> {
  const { keys, keyType } = await generateKeys(opts);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: distinguishedName(opts),
    ...validity(opts),
    keys,
    signingAlgorithm: signingAlgorithmFor(keyType),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, certPem: cert.toString("pem"), keys, keyType };
}

function expandSubjectAltNames(dnsNames: string[], ips: string[]): x509.JsonGeneralName[] {
  const names: x509.JsonGeneralName[] = dnsNames.map((value) => ({ type: "dns", value }));
  const allIps = new Set(ips);
  // `localhost` is only useful if the loopback addresses it resolves to are valid too.
  if (dnsNames.includes("localhost")) ["127.0.0.1", "::1"].forEach((ip) => allIps.add(ip));
  for (const value of allIps) names.push({ type: "ip", value });
  return names;
}

export async function issueCert(ca: Issued, opts: LeafOptions): Promise<Issued> {
  const { keys, keyType } = await generateKeys(opts);
  const usages: string[] = [];
  if (opts.usage !== "client") usages.push(x509.ExtendedKeyUsage.serverAuth);
  if (opts.usage !== "server") usages.push(x509.ExtendedKeyUsage.clientAuth);
  const keyUsage =
    keyType === "rsa" ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment : x509.KeyUsageFlags.digitalSignature;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(keyUsage, true),
    new x509.ExtendedKeyUsageExtension(usages),
    await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
  ];
  const altNames = expandSubjectAltNames(opts.dnsNames ?? [], opts.ips ?? []);
  if (altNames.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(altNames));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: distinguishedName(opts),
    issuer: ca.cert.subject,
    ...validity(opts),
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: signingAlgorithmFor(ca.keyType),
    extensions,
  });
  return { cert, certPem: cert.toString("pem"), keys, keyType };
}

/**
 * PEM of the private key in the encoding tools expect for its type: PKCS#1 `RSA PRIVATE KEY`
 * (what Teleport and Fluentd write), SEC1 `EC PRIVATE KEY`, PKCS#8 for Ed25519. With a passphrase
 * the key is AES-256 encrypted (legacy PEM encryption for PKCS#1/SEC1, which Fluentd reads).
 */
export async function privateKeyPem(issued: Issued, opts: { passphrase?: string; format?: "pkcs8" } = {}): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", issued.keys.privateKey));
  const key = createPrivateKey({ key: der, format: "der", type: "pkcs8" });
  const type = opts.format ?? (issued.keyType === "rsa" ? "pkcs1" : issued.keyType === "ecdsa" ? "sec1" : "pkcs8");
  const encryption = opts.passphrase ? { cipher: "aes-256-cbc", passphrase: opts.passphrase } : {};
  return key.export({ type, format: "pem", ...encryption } as Parameters<typeof key.export>[0]).toString();
}
