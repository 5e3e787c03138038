import type { TeleportConfig } from "../config/options.ts";
import { X509Certificate, createPrivateKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { ConfigError } from "../errors.ts";

/**
 * Client credentials for Teleport: an identity file (`tctl auth sign --format=file`, or tbot's
 * output) or the cert/key/CA triplet (`--format=tls`). Parsing follows Teleport's own reader so a
 * file that works with the Go tool works here.
 */
export interface TeleportCredentials {
  keyPem: string;
  certPem: string;
  /** Trusted CAs for the Auth server's certificate; nothing else is trusted. */
  caPems: string[];
  notAfter: Date;
  /** From the CA certificate subject (O, else CN); undefined when it has neither. */
  clusterName?: string;
  /** Non-fatal findings (e.g. expiring soon) for the caller to log. */
  warnings: string[];
}

/** Bad or expired Teleport credentials: the user must fix a file, so it is a configuration error. */
export class CredentialsError extends ConfigError {}

const EXPIRY_WARNING_MS = 24 * 60 * 60 * 1000;
const REGENERATE = 'regenerate it with "tctl auth sign --format=file" or tbot';

/**
 * Teleport's reader, line based, PEM blocks by position. The SSH certificate and CA lines between
 * them are for SSH access; the gRPC connection is TLS only, so they are passed over.
 */
function splitIdentity(text: string, where: string): { pemBlocks: string[] } {
  const parts = { pemBlocks: [] as string[] };
  let block: string[] | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (block) {
      block.push(line);
      if (line.startsWith("-----END")) {
        parts.pemBlocks.push(block.join("\n") + "\n");
        block = undefined;
      }
    } else if (line.startsWith("-----BEGIN")) {
      block = [line];
    }
  }
  if (block) throw new CredentialsError(`${where}: invalid PEM block (fragment): a "-----BEGIN" line has no "-----END"; ${REGENERATE}`);
  return parts;
}

/** What OpenSSL's "no start line" and friends mean, for someone who did not write OpenSSL. */
function pemProblem(err: unknown, expected: string): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/NO_START_LINE|no start line/i.test(message)) return `there is no "-----BEGIN ${expected}-----" block`;
  if (/bad (base64|end line)|BAD_BASE64|BAD_END_LINE|too long|wrong tag|header too long|nested asn1/i.test(message)) return "the PEM block is damaged (truncated or edited)";
  if (/unsupported|DECODER routines/i.test(message)) return "the key type or format is not supported";
  return "it does not parse";
}

function certificate(pem: string, where: string, what: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new CredentialsError(`${where}: the ${what} is not a readable PEM certificate: ${pemProblem(err, "CERTIFICATE")}`);
  }
}

function privateKey(pem: string, where: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    throw new CredentialsError(`${where}: the private key is not a readable PEM key: ${pemProblem(err, "PRIVATE KEY")}`);
  }
}

/** Teleport CAs carry the cluster name as O=<cluster>, CN=<cluster>. */
function clusterNameFromCA(caPem: string): string | undefined {
  const fields = new Map<string, string>();
  for (const line of new X509Certificate(caPem).subject.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) fields.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return fields.get("O") || fields.get("CN") || undefined;
}

/** Checks the parts fit together and are usable now; throws on what the Go tool refuses. */
function assemble(keyPem: string, certPem: string, caPems: string[], where: string, now: Date): TeleportCredentials {
  const cert = certificate(certPem, where, "TLS certificate");
  const key = privateKey(keyPem, where);
  if (!cert.checkPrivateKey(key)) {
    throw new CredentialsError(`${where}: the private key does not match the TLS certificate; use the key and certificate issued together`);
  }
  if (caPems.length === 0) throw new CredentialsError(`${where}: no trusted CA certificate found; ${REGENERATE}`);
  caPems.forEach((pem, i) => certificate(pem, where, `CA certificate #${i + 1}`));
  const notAfter = new Date(cert.validTo);
  if (notAfter.getTime() <= now.getTime()) {
    throw new CredentialsError(`${where}: the certificate expired on ${notAfter.toISOString()}; ${REGENERATE}`);
  }
  const warnings: string[] = [];
  if (notAfter.getTime() - now.getTime() < EXPIRY_WARNING_MS) {
    warnings.push(`${where}: the certificate expires on ${notAfter.toISOString()}; renew it soon`);
  }
  return { keyPem, certPem, caPems, notAfter, clusterName: clusterNameFromCA(caPems[0]!), warnings };
}

export function parseIdentity(text: string, where = "teleport-identity", now = new Date()): TeleportCredentials {
  const parts = splitIdentity(text, where);
  const [keyPem, certPem, ...caPems] = parts.pemBlocks;
  if (!keyPem) throw new CredentialsError(`${where}: no PEM block found (expected the private key first); ${REGENERATE}`);
  if (!certPem) throw new CredentialsError(`${where}: missing the TLS certificate (the 2nd PEM block); ${REGENERATE}`);
  // tctl writes the user's certificate before the CAs; a CA in its place means it is missing.
  if (certificate(certPem, where, "TLS certificate").ca) {
    throw new CredentialsError(`${where}: holds a CA certificate but no TLS client certificate; ${REGENERATE}`);
  }
  return assemble(keyPem, certPem, caPems, where, now);
}

function readSetting(path: string, setting: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new CredentialsError(`${setting}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** The identity file's text, with the one-line error the setting needs when it cannot be read. */
export function readIdentityText(path: string): string {
  return readSetting(path, "teleport-identity");
}

export function loadIdentityFile(path: string, now = new Date()): TeleportCredentials {
  return parseIdentity(readIdentityText(path), `teleport-identity ${path}`, now);
}

/** The `--format=tls` triplet; the CA file may hold several certificates (e.g. during rotation). */
function loadKeyPair(files: { certFile: string; keyFile: string; caFile: string }, now = new Date()): TeleportCredentials {
  const certPem = readSetting(files.certFile, "teleport-cert");
  const keyPem = readSetting(files.keyFile, "teleport-key");
  const caPems = splitIdentity(readSetting(files.caFile, "teleport-ca"), `teleport-ca ${files.caFile}`).pemBlocks;
  const where = `teleport-cert ${files.certFile} / teleport-key ${files.keyFile} / teleport-ca ${files.caFile}`;
  return assemble(keyPem, certPem, caPems, where, now);
}

/** The credential settings as the configuration holds them (`config.teleport`). */
export type CredentialSource = Pick<TeleportConfig, "identity" | "cert" | "key" | "ca">;

/** Which of the two is set, and that exactly one is, was checked when the configuration loaded. */
export function loadCredentials(src: CredentialSource, now = new Date()): TeleportCredentials {
  if (src.identity) return loadIdentityFile(src.identity, now);
  return loadKeyPair({ certFile: src.cert!, keyFile: src.key!, caFile: src.ca! }, now);
}
