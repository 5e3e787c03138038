import { createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import type { FluentdConfig } from "../config/options.ts";
import { ConfigError } from "../errors.ts";
import { logger } from "../logger.ts";
import { fluentdClientCertExpiry } from "../observability/metrics.ts";

/**
 * Loads and checks the Fluentd client's key material at start-up. Bun's fetch reports a wrong
 * passphrase or a broken key as a misleading socket error ("Was there a typo in the url or port?")
 * on the first request, so every file is parsed here with node:crypto and each problem becomes a
 * one-line error naming the setting to fix.
 */

/** A problem with one setting; `message` is a single line that names it and never holds a secret. */
export class FluentdSettingError extends ConfigError {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`${setting}: ${message}`);
  }
}

/**
 * The key material settings as the configuration holds them. Which ones are set together, and
 * whether plain text is allowed, was checked when the configuration loaded; this reads the files.
 */
export type FluentdTlsSettings = Pick<FluentdConfig, "ca" | "cert" | "key" | "keyPassphrase" | "keyPassphraseFile">;

/** What Bun's `fetch` takes as `tls`; empty when nothing is configured. */
export interface FluentdTlsMaterial {
  ca?: string;
  cert?: string;
  key?: string;
  passphrase?: string;
}

function readSetting(setting: string, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new FluentdSettingError(setting, `cannot read ${JSON.stringify(path)} (${code}); check the path and its permissions`);
  }
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function parseCertificates(setting: string, path: string, pem: string): X509Certificate[] {
  const blocks = pem.match(CERT_BLOCK) ?? [];
  if (blocks.length === 0) throw new FluentdSettingError(setting, `${JSON.stringify(path)} holds no PEM certificate`);
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch {
      throw new FluentdSettingError(setting, `certificate #${i + 1} in ${JSON.stringify(path)} does not parse`);
    }
  });
}

function readPassphrase(s: FluentdTlsSettings): string | undefined {
  if (s.keyPassphraseFile === undefined) return s.keyPassphrase;
  // Editors and `echo` leave a trailing newline that is not part of the passphrase.
  return readSetting("fluentd-key-passphrase-file", s.keyPassphraseFile).replace(/\r?\n$/, "");
}

function isEncrypted(pem: string): boolean {
  return pem.includes("ENCRYPTED");
}

function parseKey(path: string, pem: string, passphrase: string | undefined): KeyObject {
  if (isEncrypted(pem) && !passphrase) {
    throw new FluentdSettingError("fluentd-key", `${JSON.stringify(path)} is encrypted; set fluentd-key-passphrase or fluentd-key-passphrase-file`);
  }
  try {
    return createPrivateKey({ key: pem, passphrase });
  } catch {
    if (isEncrypted(pem)) {
      throw new FluentdSettingError("fluentd-key-passphrase", `the passphrase does not decrypt ${JSON.stringify(path)}; check fluentd-key-passphrase(-file)`);
    }
    throw new FluentdSettingError("fluentd-key", `${JSON.stringify(path)} holds no readable PEM private key`);
  }
}

/** A client certificate Fluentd will refuse soon: warned this long ahead, as the Teleport identity is. */
const EXPIRY_WARNING_MS = 7 * 24 * 3_600_000;

/**
 * Fluentd answers an expired or not-yet-valid client certificate by resetting the connection,
 * which reaches us as a bare ECONNRESET on every request: so the dates are checked here, once.
 */
function checkValidity(path: string, cert: X509Certificate, now = Date.now()): void {
  const notBefore = new Date(cert.validFrom);
  const notAfter = new Date(cert.validTo);
  fluentdClientCertExpiry.set(notAfter.getTime() / 1000);
  const where = `fluentd-cert ${JSON.stringify(path)}`;
  if (notAfter.getTime() <= now) {
    throw new FluentdSettingError("fluentd-cert", `${JSON.stringify(path)} expired on ${notAfter.toISOString()}; issue a new client certificate (configure can write one)`);
  }
  if (notBefore.getTime() > now) {
    throw new FluentdSettingError("fluentd-cert", `${JSON.stringify(path)} is not valid before ${notBefore.toISOString()}; check this machine's clock or the certificate's dates`);
  }
  if (notAfter.getTime() - now < EXPIRY_WARNING_MS) logger.warn(`${where}: the certificate expires on ${notAfter.toISOString()}; renew it soon`);
}

/** Reads every file, checks it, and returns the PEM strings for Bun's fetch. Throws FluentdSettingError. */
export function loadFluentdTls(s: FluentdTlsSettings): FluentdTlsMaterial {
  const material: FluentdTlsMaterial = {};
  if (s.ca !== undefined) {
    material.ca = readSetting("fluentd-ca", s.ca);
    parseCertificates("fluentd-ca", s.ca, material.ca);
  }
  // Without a client certificate (allowed with fluentd-allow-insecure) there is nothing more to read.
  if (s.cert === undefined || s.key === undefined) return material;

  const certPem = readSetting("fluentd-cert", s.cert);
  const [leaf] = parseCertificates("fluentd-cert", s.cert, certPem);
  checkValidity(s.cert, leaf!);
  const keyPem = readSetting("fluentd-key", s.key);
  const passphrase = readPassphrase(s);
  const key = parseKey(s.key, keyPem, passphrase);
  if (!leaf!.checkPrivateKey(key)) {
    throw new FluentdSettingError("fluentd-key", `${JSON.stringify(s.key)} does not match the certificate in fluentd-cert ${JSON.stringify(s.cert)}`);
  }
  material.cert = certPem;
  material.key = keyPem;
  if (passphrase && isEncrypted(keyPem)) material.passphrase = passphrase;
  return material;
}

const UNTRUSTED_SERVER = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/;

/** A connection error as one line for the operator, with what to check for the common TLS failures. */
export function describeSocketError(err: { code?: string; name: string; message: string }): string {
  const code = err.code ?? err.name;
  let hint = "";
  if (UNTRUSTED_SERVER.test(code)) hint = " (the Fluentd server certificate is not trusted: check fluentd-ca)";
  else if (code === "EPROTO") hint = " (TLS handshake failed: does Fluentd trust fluentd-cert, and does it speak TLS?)";
  return err.message.includes(code) ? err.message + hint : `${code}: ${err.message}${hint}`;
}
