import { ConfigError } from "../errors.ts";
import type { Config } from "./options.ts";
import { ValueError, parseHeader, parseHostPort } from "./values.ts";

/**
 * Checks that involve more than one setting, or a format beyond the value's type. Runs after every
 * value parsed; each failure is one line that names the setting(s) and the fix.
 */
export function validateConfig(c: Config): void {
  checkTeleportCredentials(c);
  checkHostPort("teleport-addr", c.teleportAddr);
  if (c.metricsAddr !== undefined) checkHostPort("metrics-addr", c.metricsAddr);
  checkFluentdUrl("fluentd-url", c.fluentdUrl, c.fluentdAllowInsecure);
  checkFluentdUrl("fluentd-session-url", c.fluentdSessionUrl, c.fluentdAllowInsecure);
  checkFluentdClientKey(c);
  checkForwardSecurity(c);
  for (const line of c.fluentdHeader) {
    try {
      parseHeader(line);
    } catch (err) {
      // The value may be a secret: show only the leading header-name characters.
      const name = /^[!#$%&'*+.^_`|~0-9A-Za-z-]*/.exec(line.trim())![0].slice(0, 40);
      throw new ConfigError(`invalid fluentd-header starting with "${name}": ${(err as Error).message}`);
    }
  }
}

/** Spec §1.4: a full cert/key/CA triplet or an identity file, never both, never neither. */
function checkTeleportCredentials(c: Config): void {
  const triplet: Array<[string, string | undefined]> = [
    ["teleport-cert", c.teleportCert],
    ["teleport-key", c.teleportKey],
    ["teleport-ca", c.teleportCa],
  ];
  const given = triplet.filter(([, v]) => v !== undefined).map(([n]) => n);
  const absent = triplet.filter(([, v]) => v === undefined).map(([n]) => n);
  if (given.length > 0 && absent.length > 0) {
    throw new ConfigError(
      `configuration setting(s) ${given.join(", ")} are provided but setting(s) ${absent.join(", ")} are missing; set all three, or use teleport-identity instead`,
    );
  }
  if (c.teleportIdentity !== undefined && given.length > 0) {
    throw new ConfigError("teleport-identity is mutually exclusive with teleport-cert, teleport-key and teleport-ca; set only one of the two");
  }
  if (c.teleportIdentity === undefined && given.length === 0) {
    throw new ConfigError(
      "neither teleport-identity nor teleport-cert, teleport-key and teleport-ca are configured; set teleport-identity (FDFWD_TELEPORT_IDENTITY) or all three files",
    );
  }
}

function checkHostPort(flag: string, value: string): void {
  try {
    parseHostPort(value);
  } catch (err) {
    if (err instanceof ValueError) throw new ConfigError(`invalid ${flag} ${JSON.stringify(value)}: ${err.message}`);
    throw err;
  }
}

const URL_EXAMPLE = "e.g. https://fluentd.example.com:8888/test.log or forward+tls://fluentd.example.com:24224/test.log";

function checkFluentdUrl(flag: string, value: string, allowInsecure: boolean): void {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  const scheme = url?.protocol.toLowerCase();
  if (!url || !["https:", "http:", "forward+tls:", "forward:"].includes(scheme!) || url.hostname === "") {
    throw new ConfigError(`invalid ${flag} ${JSON.stringify(value)}: expected an https:// or forward+tls:// URL with a host, ${URL_EXAMPLE}`);
  }
  if (scheme === "http:" && !allowInsecure) {
    throw new ConfigError(`${flag} uses plain http://; use https://, or set fluentd-allow-insecure for a test setup`);
  }
  if (scheme === "forward:" && !allowInsecure) {
    throw new ConfigError(`${flag} uses plain forward://; use forward+tls://, or set fluentd-allow-insecure for a test setup`);
  }
  if (scheme!.startsWith("forward") && url.pathname.replace(/^\/+/, "") === "") {
    throw new ConfigError(`${flag} has no tag: the path of a forward URL is the Fluentd tag, ${URL_EXAMPLE}`);
  }
}

/** in_forward's user_auth is part of the shared-key handshake: a user without a key would never be sent. */
function checkForwardSecurity(c: Config): void {
  const user = c.fluentdUsername !== undefined ? "fluentd-username" : c.fluentdPassword !== undefined ? "fluentd-password" : undefined;
  if (user && c.fluentdSharedKey === undefined) {
    throw new ConfigError(`${user} is set but fluentd-shared-key is not; in_forward checks the user inside the shared-key handshake, so set fluentd-shared-key too`);
  }
  if ((c.fluentdUsername === undefined) !== (c.fluentdPassword === undefined)) {
    throw new ConfigError("set both fluentd-username and fluentd-password, or neither");
  }
}

function checkFluentdClientKey(c: Config): void {
  const hasCert = c.fluentdCert !== undefined;
  const hasKey = c.fluentdKey !== undefined;
  if (hasCert !== hasKey) {
    throw new ConfigError(`both fluentd-cert and fluentd-key must be set (only ${hasCert ? "fluentd-cert" : "fluentd-key"} is); set the other one`);
  }
  if (!hasCert && !c.fluentdAllowInsecure) {
    throw new ConfigError("fluentd-cert and fluentd-key are required for mutual TLS with Fluentd; set them, or set fluentd-allow-insecure for a test setup");
  }
  if (c.fluentdKeyPassphrase !== undefined && c.fluentdKeyPassphraseFile !== undefined) {
    throw new ConfigError("fluentd-key-passphrase and fluentd-key-passphrase-file are mutually exclusive; set only one");
  }
  if ((c.fluentdKeyPassphrase !== undefined || c.fluentdKeyPassphraseFile !== undefined) && !hasKey) {
    throw new ConfigError("a fluentd key passphrase is set but fluentd-key is not; set fluentd-key or remove the passphrase");
  }
}
