import { createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { ConfigError } from "../errors.ts";
import { redactUrl } from "../lib/redact.ts";

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
    this.name = "FluentdSettingError";
  }
}

export interface FluentdTlsSettings {
  /** Paths to PEM files. */
  ca?: string;
  cert?: string;
  key?: string;
  passphrase?: string;
  passphraseFile?: string;
  /** Allows `http://` URLs and a missing client certificate (test setups only). */
  allowInsecure: boolean;
  /** URLs to check for plain HTTP: a bare URL, or one with the setting it came from. */
  urls?: Array<string | { setting: string; url: string }>;
}

/** What Bun's `fetch` takes as `tls`; empty when nothing is configured. */
export interface FluentdTlsMaterial {
  ca?: string;
  cert?: string;
  key?: string;
  passphrase?: string;
}

const INSECURE_HINT = "mutual TLS is required; set fluentd-allow-insecure only for test setups";

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
  if (s.passphrase !== undefined && s.passphraseFile !== undefined) {
    throw new FluentdSettingError("fluentd-key-passphrase", "set either fluentd-key-passphrase or fluentd-key-passphrase-file, not both");
  }
  if (s.passphraseFile === undefined) return s.passphrase;
  // Editors and `echo` leave a trailing newline that is not part of the passphrase.
  return readSetting("fluentd-key-passphrase-file", s.passphraseFile).replace(/\r?\n$/, "");
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

function checkUrls(s: FluentdTlsSettings): void {
  for (const entry of s.urls ?? []) {
    const { setting, url } = typeof entry === "string" ? { setting: "fluentd-url", url: entry } : entry;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new FluentdSettingError(setting, `${JSON.stringify(url)} is not a URL; expected https://host:port/tag`);
    }
    if (parsed.protocol === "http:" && !s.allowInsecure) {
      throw new FluentdSettingError(setting, `${redactUrl(url)} uses plain HTTP; use https:// (${INSECURE_HINT})`);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new FluentdSettingError(setting, `${redactUrl(url)} must start with https://`);
    }
  }
}

/** Reads every file, checks it, and returns the PEM strings for Bun's fetch. Throws FluentdSettingError. */
export function loadFluentdTls(s: FluentdTlsSettings): FluentdTlsMaterial {
  checkUrls(s);
  const material: FluentdTlsMaterial = {};
  if (s.ca !== undefined) {
    material.ca = readSetting("fluentd-ca", s.ca);
    parseCertificates("fluentd-ca", s.ca, material.ca);
  }
  if (s.cert === undefined && s.key === undefined) {
    if (!s.allowInsecure) {
      throw new FluentdSettingError("fluentd-cert", `no client certificate configured; set fluentd-cert and fluentd-key (${INSECURE_HINT})`);
    }
    return material;
  }
  if (s.cert === undefined) throw new FluentdSettingError("fluentd-cert", "fluentd-key is set but fluentd-cert is not; set both");
  if (s.key === undefined) throw new FluentdSettingError("fluentd-key", "fluentd-cert is set but fluentd-key is not; set both");

  const certPem = readSetting("fluentd-cert", s.cert);
  const [leaf] = parseCertificates("fluentd-cert", s.cert, certPem);
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
