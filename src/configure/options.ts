import { formatHostPort, parseDuration, parseHostPort } from "../config/values.ts";
import { isIP } from "node:net";
import { basename } from "node:path";
import { ConfigureError } from "./errors.ts";

/** Arguments exactly as the command line gives them (strings), so the CLI stays a thin mapping. */
export interface ConfigureArgs {
  out: string;
  addr?: string;
  caName?: string;
  serverName?: string;
  clientName?: string;
  ttl?: string;
  dnsNames?: string;
  ip?: string;
  length?: string;
  force?: boolean;
  /** in_forward (forward+tls:// URLs, a shared key) instead of in_http. */
  forward?: boolean;
  /** Accepted because the Go tool has it; it never did anything. */
  output?: string;
}

export interface ConfigureOptions {
  out: string;
  addr: string;
  names: { ca: string; server: string; client: string };
  ttlMs: number;
  dnsNames: string[];
  ips: string[];
  rsaBits: 1024 | 2048 | 4096;
  force: boolean;
  protocol: "http" | "forward";
}

/**
 * One year, not the Go tool's 87600h: a leaked client key or CA should not stay usable for a decade,
 * and a yearly rotation is rare enough not to break a pipeline nobody watches (set --ttl to override).
 */
export const DEFAULT_TTL = "8760h";
export const DEFAULT_ADDR = "localhost:3025";
export const DEFAULT_DNS_NAMES = "localhost";
export const DEFAULT_LENGTH = "4096";

/** `--ttl` in Go duration syntax ("8760h", "90m"), parsed as every duration setting is; days are not a Go unit. */
export function parseTtl(text: string): number {
  let total: number;
  try {
    total = parseDuration(text);
  } catch {
    throw new ConfigureError(`--ttl "${text}" is not a duration: use Go syntax such as "8760h" (one year) or "720h"`);
  }
  if (total < 60_000) throw new ConfigureError(`--ttl "${text}" is too short: certificates need at least "1m" (try "8760h")`);
  return total;
}

function splitList(text: string | undefined): string[] {
  return (text ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

// Letters, digits, hyphens, dots; a leading "*." for wildcards. Underscores are tolerated in the wild.
const DNS_NAME = /^(\*\.)?[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/;

function parseDnsNames(text: string | undefined): string[] {
  const names = splitList(text ?? DEFAULT_DNS_NAMES);
  for (const name of names) {
    if (!DNS_NAME.test(name) || name.length > 253) {
      throw new ConfigureError(`--dns-names: "${name}" is not a DNS name; give host names separated by commas (e.g. "localhost,fluentd.example.com")`);
    }
  }
  return names;
}

function parseIps(text: string | undefined): string[] {
  const ips = splitList(text);
  for (const ip of ips) {
    if (isIP(ip) === 0) throw new ConfigureError(`--ip: "${ip}" is not an IP address; give addresses separated by commas (e.g. "10.0.0.5,::1")`);
  }
  return ips;
}

function parseLength(text: string | undefined): 1024 | 2048 | 4096 {
  const value = text ?? DEFAULT_LENGTH;
  if (value === "1024" || value === "2048" || value === "4096") return Number(value) as 1024 | 2048 | 4096;
  throw new ConfigureError(`--length "${value}" is not supported: use 2048 or 4096 (1024 is accepted but weak)`);
}

function parseFileName(flag: string, value: string): string {
  if (value === "" || value === "." || value === ".." || basename(value) !== value || value.includes("\\")) {
    throw new ConfigureError(`${flag} "${value}" must be a plain file name without a directory (e.g. "ca")`);
  }
  return value;
}

/** host:port or [v6]:port, parsed as teleport-addr is, since the generated configuration uses it as that. */
function parseAddr(addr: string): string {
  try {
    return formatHostPort(parseHostPort(addr));
  } catch {
    throw new ConfigureError(`addr "${addr}" must be host:port, e.g. "teleport.example.com:443" or "localhost:3025"`);
  }
}

export function resolveOptions(args: ConfigureArgs): ConfigureOptions {
  if (!args.out || args.out.trim() === "") throw new ConfigureError("configure needs an output directory: configure <out> [addr]");
  const names = {
    ca: parseFileName("ca-name", args.caName ?? "ca"),
    server: parseFileName("server-name", args.serverName ?? "server"),
    client: parseFileName("client-name", args.clientName ?? "client"),
  };
  if (new Set(Object.values(names)).size !== 3) {
    throw new ConfigureError(`ca-name, server-name and client-name must differ (got "${names.ca}", "${names.server}", "${names.client}")`);
  }
  const dnsNames = parseDnsNames(args.dnsNames);
  const ips = parseIps(args.ip);
  if (dnsNames.length === 0 && ips.length === 0) {
    throw new ConfigureError('the server certificate needs a name: give --dns-names (e.g. "localhost") or --ip');
  }
  return {
    out: args.out,
    addr: parseAddr(args.addr ?? DEFAULT_ADDR),
    names,
    ttlMs: parseTtl(args.ttl ?? DEFAULT_TTL),
    dnsNames,
    ips,
    rsaBits: parseLength(args.length),
    force: args.force ?? false,
    protocol: args.forward ? "forward" : "http",
  };
}
