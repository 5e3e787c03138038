import { accessSync, constants, readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { ConfigError } from "../errors.ts";
import { formatDuration } from "../lib/duration.ts";
import { fieldOf, OPTION_LIST, OPTIONS, type Config, type OptionDef, type OptionKey } from "./options.ts";
import { parseTomlText, type TomlSource } from "./toml.ts";
import { validateConfig } from "./validate.ts";
import {
  ValueError,
  parseBool,
  parseDuration,
  parseFluentdUrl,
  parseHeader,
  parseHostPort,
  parseInteger,
  parseSize,
  parseTime,
  splitList,
  truncateToSeconds,
} from "./values.ts";

/** What the command line gave: repeated flags keep every value; booleans are true/false. */
export type CliValues = Partial<Record<OptionKey, string[] | boolean>>;

export interface LoadInput {
  cli: CliValues;
  env: Record<string, string | undefined>;
  /** Relative paths (config file, key files) resolve against this, as in the Go tool. */
  cwd: string;
}

export type Origin = "cli" | "env" | "toml" | "default";

export interface LoadResult {
  config: Config;
  /** Where each setting came from; for logs and tests. */
  origins: Record<OptionKey, Origin>;
  /** Non-fatal findings (unknown TOML keys) for the caller to log. */
  warnings: string[];
}

interface Raw {
  value: unknown;
  origin: Origin;
  /** Names the source in messages: "--batch", "FDFWD_BATCH", "batch in /etc/x.toml". */
  where: string;
}

/** Every way to set an option, for "how to fix" hints. */
function describeSources(def: OptionDef): string {
  const ways = [`--${def.flag}`, ...def.env];
  if (def.toml) ways.push(`"${def.toml}" in the config file`);
  return ways.join(", ");
}

function fromEnv(def: OptionDef, env: LoadInput["env"]): Raw | undefined {
  const set = def.env.filter((name) => env[name] !== undefined && env[name] !== "");
  const [first, ...others] = set;
  if (first === undefined) return undefined;
  for (const other of others) {
    if (env[other] !== env[first]) {
      throw new ConfigError(`${first} and ${other} both set ${def.flag} to different values; unset one of them`);
    }
  }
  return { value: env[first], origin: "env", where: first };
}

function fromCli(def: OptionDef, cli: CliValues, key: OptionKey): Raw | undefined {
  const v = cli[key];
  if (v === undefined) return undefined;
  return { value: v, origin: "cli", where: `--${def.flag}` };
}

function fromToml(key: OptionKey, toml: TomlSource | undefined): Raw | undefined {
  const hit = toml?.get(key);
  if (!hit) return undefined;
  return { value: hit.value, origin: "toml", where: `${hit.path} in ${toml!.file}` };
}

function tomlType(v: unknown): string {
  if (typeof v === "bigint" || (typeof v === "number" && Number.isInteger(v))) return "a TOML integer";
  if (typeof v === "number") return "a TOML float";
  if (typeof v === "boolean") return "a TOML boolean";
  if (v instanceof Date) return "a TOML date";
  if (Array.isArray(v)) return "a TOML array";
  return "a TOML value of another type";
}

/**
 * The text of a value. A TOML number only stands for text where the Go tool's kong mappers take
 * one (integers, sizes): `storage = 42` is a mistake, not the directory "42".
 */
function asText(raw: Raw, what: string, numbersAllowed = false): string {
  const v = raw.value;
  if (typeof v === "string") return v;
  if (Array.isArray(v) && raw.origin === "cli") return String(v[v.length - 1]);
  if (numbersAllowed && (typeof v === "number" || typeof v === "bigint")) return String(v);
  throw new ValueError(`expected ${what}${raw.origin === "toml" ? ` as a quoted TOML string, got ${tomlType(v)}` : ""}`);
}

function listItems(def: OptionDef, raw: Raw): string[] {
  const sep = def.separator ?? ",";
  const v = raw.value;
  if (raw.origin === "cli" && Array.isArray(v)) {
    // A newline-separated list (headers) is one item per flag, since values may hold commas.
    return sep === "\n" ? v.map(String).filter((s) => s.trim() !== "") : v.flatMap((s) => splitList(String(s), sep));
  }
  if (Array.isArray(v)) {
    return v.map((item) => {
      if (typeof item !== "string") throw new ValueError("expected an array of strings");
      return item.trim();
    }).filter((s) => s !== "");
  }
  if (typeof v === "string") return splitList(v, sep);
  throw new ValueError(sep === "\n" ? "expected an array of strings" : 'expected an array of strings or a comma-separated string');
}

function coerce(def: OptionDef, raw: Raw, cwd: string, warn: (message: string) => void): unknown {
  const v = raw.value;
  switch (def.kind) {
    case "bool":
      return typeof v === "boolean" ? v : parseBool(asText(raw, "true or false"));
    case "int":
      return parseInteger(asText(raw, "a whole number", true));
    case "size":
      return parseSize(asText(raw, 'a size such as "1MiB"', true));
    case "duration":
      if (v === 0) return 0;
      if (typeof v === "number") throw new ValueError('expected a duration string with a unit, such as "10s"');
      return parseDuration(asText(raw, 'a duration such as "10s"'));
    case "time":
      if (v instanceof Date) {
        if ((v as Date & { isLocal?: () => boolean }).isLocal?.()) throw new ValueError("the time needs a zone, e.g. 2024-01-31T15:04:05Z");
        return truncateToSeconds(v);
      }
      return parseTime(asText(raw, "an RFC3339 time"));
    case "list":
      return listItems(def, raw);
    case "durations":
      return listItems(def, raw).map((item, i) => {
        try {
          const ms = parseDuration(item);
          checkRange(def, ms);
          return ms;
        } catch (err) {
          if (err instanceof ValueError) throw new ValueError(`entry #${i + 1} ${err.message}`);
          throw err;
        }
      });
    case "headers":
      return listItems(def, raw).map((line, i) => {
        try {
          return parseHeader(line);
        } catch (err) {
          if (err instanceof ValueError) throw new ValueError(`entry #${i + 1} ${err.message}`);
          throw err;
        }
      });
    case "hostport":
      return parseHostPort(asText(raw, "host:port"));
    case "listen":
      return parseHostPort(asText(raw, "host:port"), { listen: true });
    case "url":
      return parseFluentdUrl(asText(raw, "a URL"), warn);
    case "enum": {
      const text = asText(raw, "a string").trim();
      if (!def.values!.includes(text)) throw new ValueError(`expected one of: ${def.values!.join(", ")}`);
      return text;
    }
    case "file":
      return checkedFile(asText(raw, "a file path"), cwd);
    case "string":
      return asText(raw, "a string").trim();
  }
}

function checkedFile(path: string, cwd: string): string {
  const abs = resolve(cwd, path.trim());
  try {
    accessSync(abs, constants.R_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ValueError(code === "ENOENT" ? `file ${abs} does not exist; check the path` : `file ${abs} cannot be read (${code}); check its permissions`);
  }
  if (!statSync(abs).isFile()) throw new ValueError(`${abs} is not a regular file; give the path of a file`);
  return abs;
}

function checkRange(def: OptionDef, value: unknown): void {
  if (typeof value !== "number") return;
  if (def.max && value > def.max.value) {
    const max = def.kind === "duration" ? formatDuration(def.max.value) : def.max.value;
    throw new ValueError(`must be at most ${max}: ${def.max.why}`);
  }
  if (def.min === undefined || value >= def.min) return;
  if (def.kind === "duration" || def.kind === "durations") throw new ValueError(def.min > 0 ? "must be greater than 0" : "must not be negative");
  throw new ValueError(`must be at least ${def.min}`);
}

function invalid(def: OptionDef, raw: Raw, reason: string): ConfigError {
  const v = raw.value;
  const plain = v instanceof Date ? v.toISOString() : Array.isArray(v) && raw.origin === "cli" && v.length === 1 ? v[0] : v;
  const shown = def.secret ? "" : ` ${JSON.stringify(plain)}`;
  return new ConfigError(`invalid ${def.flag}${shown} from ${raw.where}: ${reason}`);
}

function readConfigFile(cli: CliValues, env: LoadInput["env"], cwd: string): TomlSource | undefined {
  const raw = fromCli(OPTIONS.config, cli, "config") ?? fromEnv(OPTIONS.config, env);
  if (!raw) return undefined;
  let path: string;
  try {
    path = checkedFile(asText(raw, "a file path"), cwd);
  } catch (err) {
    if (err instanceof ValueError) throw new ConfigError(`config file from ${raw.where}: ${err.message}`);
    throw err;
  }
  return parseTomlText(readFileSync(path, "utf8"), path);
}

/**
 * Command line > TOML file > environment > default: the one precedence rule, the Go tool's (kong
 * applies env vars as defaults and lets the file's resolver override them), so a deployment that
 * sets both keeps the value it had.
 */
function rawSetting(key: OptionKey, def: OptionDef, cli: CliValues, env: LoadInput["env"], toml: TomlSource | undefined): Raw | undefined {
  return (
    fromCli(def, cli, key) ??
    fromToml(key, toml) ??
    fromEnv(def, env) ??
    (def.default !== undefined ? { value: def.default, origin: "default" as const, where: "the default" } : undefined)
  );
}

function checkedValue(def: OptionDef, raw: Raw, cwd: string, warnings: string[] = []): unknown {
  try {
    const value = coerce(def, raw, cwd, (message) => warnings.push(`${def.flag} from ${raw.where} ${message}`));
    checkRange(def, value);
    return value;
  } catch (err) {
    if (err instanceof ValueError) throw invalid(def, raw, err.message);
    throw err;
  }
}

/**
 * One setting resolved exactly as `start` resolves it (same sources, precedence and checks), for
 * commands that need only that one and must not fail on the rest (status, dead-letters).
 */
export function loadSetting(key: OptionKey, input: LoadInput): unknown {
  const def = OPTIONS[key] as OptionDef;
  const raw = rawSetting(key, def, input.cli, input.env, readConfigFile(input.cli, input.env, input.cwd));
  return raw ? checkedValue(def, raw, input.cwd) : undefined;
}

export function loadConfig(input: LoadInput): LoadResult {
  const { cli, env, cwd } = input;
  const toml = readConfigFile(cli, env, cwd);
  const groups = { global: {}, teleport: {}, fluentd: {}, ingest: {}, locking: {}, observability: {} } as Record<string, Record<string, unknown>>;
  const origins = {} as Record<OptionKey, Origin>;
  const missing: OptionDef[] = [];
  const warnings = [...(toml?.warnings ?? [])];

  for (const [key, def] of OPTION_LIST) {
    const { group, field } = fieldOf(key);
    const raw = rawSetting(key, def, cli, env, toml);
    if (!raw) {
      if (def.required) missing.push(def);
      const empty = def.kind === "list" || def.kind === "durations" || def.kind === "headers" ? [] : def.kind === "bool" ? false : undefined;
      if (empty !== undefined) groups[group]![field] = empty;
      origins[key] = "default";
      continue;
    }
    groups[group]![field] = checkedValue(def, raw, cwd, warnings);
    origins[key] = raw.origin;
  }

  if (missing.length > 0) {
    const list = missing.map((d) => `${d.flag} (${describeSources(d)})`).join("; ");
    throw new ConfigError(`missing required setting${missing.length > 1 ? "s" : ""}: ${list}`);
  }

  const config = groups as unknown as Config;
  if (config.fluentd.maxConnections < 1) config.fluentd.maxConnections = 2 * config.ingest.concurrency;
  if (origins.cursor === "toml") {
    // The Go tool has no cursor setting and ignores this key, which a stale README row put in
    // some of its files; here it picks where a first export starts, so say so.
    warnings.push(`cursor from ${toml!.file} is honoured (the Go tool ignores this key): with no saved state, the export starts after event ${config.ingest.cursor}; remove it unless that is meant`);
  }
  warnings.push(...validateConfig(config, new Date()));
  return { config, origins, warnings };
}
