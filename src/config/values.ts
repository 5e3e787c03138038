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

/** Renders milliseconds back in Go style for logs: 90000 → "1m30s". */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  return `${h ? `${h}h` : ""}${m ? `${m}m` : ""}${s ? `${s}s` : ""}`;
}

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

const TRUE_WORDS = new Set(["true", "1", "yes", "on"]);
const FALSE_WORDS = new Set(["false", "0", "no", "off", ""]);

export function parseBool(text: string): boolean {
  const s = text.trim().toLowerCase();
  if (TRUE_WORDS.has(s)) return true;
  if (FALSE_WORDS.has(s)) return false;
  throw new ValueError('expected "true" or "false"');
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** RFC3339 with a zone, truncated to whole seconds as the Go tool does. */
export function parseTime(text: string): Date {
  const s = text.trim();
  const d = new Date(s.replace(" ", "T"));
  if (!RFC3339.test(s) || Number.isNaN(d.getTime())) {
    throw new ValueError('expected an RFC3339 time with a zone, e.g. "2024-01-31T15:04:05Z"');
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

/** "Name: value" → [name, value]; the value may contain colons. */
export function parseHeader(line: string): [string, string] {
  const i = line.indexOf(":");
  const name = i < 0 ? "" : line.slice(0, i).trim();
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
    throw new ValueError('expected a header in the form "Name: value", e.g. "Authorization: Bearer …"');
  }
  return [name, line.slice(i + 1).trim()];
}

/** host:port with a port number; IPv6 hosts in brackets. */
export function parseHostPort(text: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s/[\]]+):(\d{1,5})$/.exec(text.trim());
  const port = Number(m?.[2]);
  if (!m || port < 1 || port > 65535) throw new ValueError('expected host:port, e.g. "teleport.example.com:443"');
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port };
}
