import { redactUrl } from "../lib/redact.ts";

/**
 * Parsers from the text (or TOML value) a user wrote to the typed value. Each throws a ValueError
 * whose message says what was expected; the loader adds which setting and which source.
 */
export class ValueError extends Error {}

const DURATION_UNITS_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  "μs": 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/** Go `time.ParseDuration` syntax ("500ms", "1m30s", "24h", "0"), returned in milliseconds. */
export function parseDuration(text: string): number {
  const s = text.trim();
  if (s === "0") return 0;
  if (s === "" || s.startsWith("-")) throw new ValueError('expected a duration such as "500ms", "10s", "1m30s" or "24h"');
  const body = s.startsWith("+") ? s.slice(1) : s;
  let total = 0;
  DURATION_PART.lastIndex = 0;
  while (DURATION_PART.lastIndex < body.length) {
    const m = DURATION_PART.exec(body);
    if (!m) throw new ValueError('expected a duration such as "500ms", "10s", "1m30s" or "24h" (a unit is required)');
    total += Number(m[1]) * DURATION_UNITS_MS[m[2]!]!;
  }
  return total;
}

/** Milliseconds. Every duration setting is parsed into this once, here. */
export type Duration = number;

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1000,
  kib: 1024,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

/** Bytes, as a plain number or with a unit: "524288", "512KiB", "1MiB", "1MB". */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text.trim());
  const unit = SIZE_UNITS[m?.[2]?.toLowerCase() ?? "?"];
  if (!m || unit === undefined) throw new ValueError('expected a size in bytes such as "1048576", "512KiB" or "1MiB"');
  return Math.floor(Number(m[1]) * unit);
}

export function parseInteger(text: string): number {
  const s = text.trim();
  if (!/^[-+]?\d+$/.test(s)) throw new ValueError("expected a whole number");
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new ValueError("the number is too large");
  return n;
}

// Go's strconv.ParseBool, which kong applies to env and TOML strings: "yes" is refused there, so
// a file that works here also works with the Go tool and the other way round.
const TRUE_WORDS = new Set(["true", "1", "t"]);
const FALSE_WORDS = new Set(["false", "0", "f", ""]);

export function parseBool(text: string): boolean {
  const s = text.trim().toLowerCase();
  if (TRUE_WORDS.has(s)) return true;
  if (FALSE_WORDS.has(s)) return false;
  throw new ValueError('expected "true" or "false"');
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * RFC3339 with a zone, truncated to whole seconds as the Go tool does. A date that does not exist
 * (February 30th) is refused: JavaScript would silently roll it over into March.
 */
export function parseTime(text: string): Date {
  const s = text.trim();
  const m = RFC3339.exec(s);
  const d = new Date(s.replace(" ", "T"));
  if (!m || Number.isNaN(d.getTime())) {
    throw new ValueError('expected an RFC3339 time with a zone, e.g. "2024-01-31T15:04:05Z"');
  }
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const calendar = new Date(Date.UTC(year, month - 1, day));
  if (calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    throw new ValueError(`${s.slice(0, 10)} ${hour > 23 || minute > 59 || second > 59 ? "has an impossible time of day" : "is not a date in the calendar"}`);
  }
  return truncateToSeconds(d);
}

export function truncateToSeconds(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}

export function splitList(text: string, separator: string): string[] {
  return text
    .split(separator)
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

export interface Header {
  name: string;
  value: string;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// RFC 9110 field-value: visible ASCII, obs-text, and spaces or tabs between them. Anything else
// (a control character, DEL) either breaks the framing or is refused by the receiver for every
// request, which would look like a verdict on the records.
const FIELD_VALUE = /^[\x21-\x7e\x80-\xff]([\t \x21-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?$|^$/;
// The transport owns these; letting a user set them would corrupt the request framing.
const RESERVED_HEADERS = new Set(["host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "content-encoding", "content-type"]);

/**
 * "Name: value" → Header, checked against RFC 9110. Messages never quote the entry: a header value
 * is usually a token (Splunk HEC, a bearer), and without a colon the whole entry may be one.
 */
export function parseHeader(line: string): Header {
  const i = line.indexOf(":");
  if (i < 0) throw new ValueError('has no colon; expected "Name: value", e.g. "Authorization: Bearer …"');
  const name = line.slice(0, i).trim();
  if (!TOKEN.test(name)) throw new ValueError('has no valid header name before the colon; expected "Name: value"');
  if (RESERVED_HEADERS.has(name.toLowerCase())) throw new ValueError(`${name} is set by the handler itself and cannot be overridden`);
  const value = line.slice(i + 1).trim();
  if (!FIELD_VALUE.test(value)) throw new ValueError(`the value of ${name} holds a control character; only printable characters, spaces and tabs are allowed`);
  return { name, value };
}

export interface HostPort {
  /** IPv6 without brackets. */
  host: string;
  port: number;
}

/** Renders a HostPort back for logs and URLs, bracketing IPv6. */
export function formatHostPort({ host, port }: HostPort): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/**
 * host:port with a port number; IPv6 hosts in brackets. `listen` is for addresses we bind: the host
 * may be left out (`:9464`) and then means loopback, never every interface, and port 0 picks one.
 */
export function parseHostPort(text: string, opts: { listen?: boolean } = {}): HostPort {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s/[\]@?#]*):(\d{1,5})$/.exec(text.trim());
  const port = Number(m?.[2]);
  const host = m?.[1]!.replace(/^\[|\]$/g, "") ?? "";
  if (!m || port > 65535 || (port < 1 && !opts.listen) || (host === "" && !opts.listen)) {
    throw new ValueError(`expected host:port, e.g. ${opts.listen ? '"127.0.0.1:9464" or ":9464"' : '"teleport.example.com:443"'}`);
  }
  return { host: host || "127.0.0.1", port };
}

/** How one Fluentd URL is reached. `forward` is Fluentd's forward protocol (in_forward). */
export type FluentdProtocol = "http" | "forward";

export interface FluentdUrl {
  /** The URL to request. May hold credentials: never log or store it; use `display`. */
  href: string;
  /** The URL with any user:password replaced: the only form that is printed or stored. */
  display: string;
  protocol: FluentdProtocol;
  tls: boolean;
  host: string;
  port: number;
  /** The Fluentd tag the URL's path gives, as in_http derives it: "/a/b" → "a.b". */
  tag: string;
}

const SCHEMES: Record<string, { protocol: FluentdProtocol; tls: boolean; port: number }> = {
  "https:": { protocol: "http", tls: true, port: 443 },
  "http:": { protocol: "http", tls: false, port: 80 },
  "forward+tls:": { protocol: "forward", tls: true, port: 24224 },
  "forward:": { protocol: "forward", tls: false, port: 24224 },
};

/**
 * A Fluentd URL: https:// or http:// (in_http), forward+tls:// or forward:// (in_forward), with a
 * host and a tag path. The path is the tag: without one, events would go to an empty tag that no
 * <match> catches. One trailing slash is dropped (reported through `warn`), since in_http would
 * otherwise make "session/" + ".<sid>.log" the tag "session..<sid>.log".
 */
export function parseFluentdUrl(text: string, warn: (message: string) => void = () => {}): FluentdUrl {
  const example = "e.g. https://fluentd.example.com:8888/teleport.events";
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new ValueError(`expected a URL with a host and a tag path, ${example}`);
  }
  const scheme = SCHEMES[url.protocol];
  if (!scheme || url.hostname === "") {
    throw new ValueError(`expected an https://, http://, forward+tls:// or forward:// URL with a host, ${example}`);
  }
  let path = decodeURIComponent(url.pathname);
  if (path.length > 1 && path.endsWith("/") && !path.endsWith("//")) {
    path = path.slice(0, -1);
    url.pathname = path;
    warn("drops the trailing slash of its path: the tag would otherwise end in an empty part");
  }
  const tag = path.replace(/^\//, "").split("/").join(".");
  if (tag === "" || tag.split(".").some((part) => part === "")) {
    throw new ValueError(`needs a path that names the Fluentd tag (no empty parts), ${example}`);
  }
  const href = url.toString();
  return {
    href,
    display: redactUrl(href),
    protocol: scheme.protocol,
    tls: scheme.tls,
    host: url.hostname.replace(/^\[|\]$/g, ""),
    port: url.port === "" ? scheme.port : Number(url.port),
    tag,
  };
}
