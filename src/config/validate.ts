import { ConfigError } from "../errors.ts";
import type { Config } from "./options.ts";

/**
 * Checks that involve more than one setting, or the clock. Runs after every value was parsed; each
 * failure is one line that names the setting(s) and the fix. Returns warnings: settings that are
 * allowed but likely not what was meant.
 */
export function validateConfig(c: Config, now: Date): string[] {
  checkTeleportCredentials(c.teleport);
  checkFluentdTransport(c);
  checkFluentdClientKey(c.fluentd);
  checkForwardSecurity(c.fluentd);
  checkStartTime(c.ingest.startTime, now);
  return metricsWarnings(c);
}

/** A full cert/key/CA triplet or an identity file, never both, never neither. */
function checkTeleportCredentials(t: Config["teleport"]): void {
  const triplet: Array<[string, string | undefined]> = [
    ["teleport-cert", t.cert],
    ["teleport-key", t.key],
    ["teleport-ca", t.ca],
  ];
  const given = triplet.filter(([, v]) => v !== undefined).map(([n]) => n);
  const absent = triplet.filter(([, v]) => v === undefined).map(([n]) => n);
  if (given.length > 0 && absent.length > 0) {
    throw new ConfigError(
      `configuration setting(s) ${given.join(", ")} are provided but setting(s) ${absent.join(", ")} are missing; set all three, or use teleport-identity instead`,
    );
  }
  if (t.identity !== undefined && given.length > 0) {
    throw new ConfigError("teleport-identity is mutually exclusive with teleport-cert, teleport-key and teleport-ca; set only one of the two");
  }
  if (t.identity === undefined && given.length === 0) {
    throw new ConfigError(
      "neither teleport-identity nor teleport-cert, teleport-key and teleport-ca are configured; set teleport-identity (FDFWD_TELEPORT_IDENTITY) or all three files",
    );
  }
}

/**
 * The one owner of the transport rule: without TLS, events (and the client's headers) cross the
 * network in clear text, so plain http:// and forward:// need fluentd-allow-insecure. The Go tool
 * accepts http:// silently; the error names the way to keep such a setup.
 */
function checkFluentdTransport(c: Config): void {
  for (const [flag, url] of [
    ["fluentd-url", c.fluentd.url],
    ["fluentd-session-url", c.fluentd.sessionUrl],
  ] as const) {
    if (url.tls || c.fluentd.allowInsecure) continue;
    const secure = url.protocol === "forward" ? "forward+tls://" : "https://";
    throw new ConfigError(
      `${flag} ${url.display} is not encrypted; use ${secure}, or set fluentd-allow-insecure (--fluentd-allow-insecure, FDFWD_FLUENTD_ALLOW_INSECURE) to accept plain text as the Go tool does`,
    );
  }
}

function checkFluentdClientKey(f: Config["fluentd"]): void {
  const hasCert = f.cert !== undefined;
  const hasKey = f.key !== undefined;
  if (hasCert !== hasKey) {
    throw new ConfigError(`both fluentd-cert and fluentd-key must be set (only ${hasCert ? "fluentd-cert" : "fluentd-key"} is); set the other one`);
  }
  if (!hasCert && !f.allowInsecure) {
    throw new ConfigError("fluentd-cert and fluentd-key are required for mutual TLS with Fluentd; set them, or set fluentd-allow-insecure (--fluentd-allow-insecure, FDFWD_FLUENTD_ALLOW_INSECURE) to connect without a client certificate as the Go tool does");
  }
  if (f.keyPassphrase !== undefined && f.keyPassphraseFile !== undefined) {
    throw new ConfigError("fluentd-key-passphrase and fluentd-key-passphrase-file are mutually exclusive; set only one");
  }
  if ((f.keyPassphrase !== undefined || f.keyPassphraseFile !== undefined) && !hasKey) {
    throw new ConfigError("a fluentd key passphrase is set but fluentd-key is not; set fluentd-key or remove the passphrase");
  }
}

/** in_forward's user_auth is part of the shared-key handshake: a user without a key would never be sent. */
function checkForwardSecurity(f: Config["fluentd"]): void {
  const user = f.username !== undefined ? "fluentd-username" : f.password !== undefined ? "fluentd-password" : undefined;
  if (user && f.sharedKey === undefined) {
    throw new ConfigError(`${user} is set but fluentd-shared-key is not; in_forward checks the user inside the shared-key handshake, so set fluentd-shared-key too`);
  }
  if ((f.username === undefined) !== (f.password === undefined)) {
    throw new ConfigError("set both fluentd-username and fluentd-password, or neither");
  }
}

/**
 * A start time in the future would be stored and make every run deliver nothing until then; a
 * minute of slack covers clocks that disagree a little.
 */
function checkStartTime(start: Date | undefined, now: Date): void {
  if (start === undefined || start.getTime() <= now.getTime() + 60_000) return;
  throw new ConfigError(
    `start-time ${start.toISOString()} is in the future (now ${new Date(Math.floor(now.getTime() / 1000) * 1000).toISOString()}); nothing would be exported until then: give a time in the past, or leave start-time out to start now`,
  );
}

function metricsWarnings(c: Config): string[] {
  const addr = c.observability.metricsAddr;
  if (!addr || !["0.0.0.0", "::", ""].includes(addr.host)) return [];
  return [`metrics-addr ${addr.host.includes(":") ? `[${addr.host}]` : addr.host}:${addr.port} serves /metrics on every network interface; use 127.0.0.1:${addr.port} unless a scraper on another host needs it`];
}
