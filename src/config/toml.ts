import { parse, TomlError } from "smol-toml";
import { ConfigError } from "../errors.ts";
import { OPTION_LIST, type OptionDef, type OptionKey } from "./options.ts";
import { editDistance } from "../lib/edit-distance.ts";

/**
 * Reads a TOML file with the Go tool's key rules (kong_toml_resolver.go), so its files load
 * unchanged: a `fluentd-*` flag lives under `forward.fluentd`, and each flag is looked up both with
 * every dash turned into a dot (wins) and literally. `[fluentd]` is accepted as an alias of
 * `[forward.fluentd]`.
 */
export interface TomlHit {
  value: unknown;
  /** Dotted path as written in the file, for messages. */
  path: string;
}

export interface TomlSource {
  file: string;
  get(key: OptionKey): TomlHit | undefined;
  warnings: string[];
}

type Table = Record<string, unknown>;

function isTable(v: unknown): v is Table {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function goResolverPaths(flag: string, prefix: string[]): string[][] {
  const name = flag.startsWith("fluentd-") ? flag.slice("fluentd-".length) : flag;
  const base = flag.startsWith("fluentd-") ? prefix : [];
  return [[...base, ...name.split("-")], [...base, name]];
}

/** Candidate paths of an option, highest priority first, split into the primary section and the alias. */
function tomlPaths(def: OptionDef): { primary: string[][]; alias: string[][] } {
  if (def.toml === null) return { primary: [], alias: [] };
  const canonical = def.toml.split(".");
  const primary = uniquePaths([...goResolverPaths(def.flag, ["forward", "fluentd"]), canonical]);
  const isFluentd = canonical[0] === "forward" && canonical[1] === "fluentd";
  const alias = isFluentd ? primary.map((p) => ["fluentd", ...p.slice(2)]) : [];
  return { primary, alias };
}

function uniquePaths(paths: string[][]): string[][] {
  const seen = new Set<string>();
  return paths.filter((p) => {
    const k = p.join("\0");
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function getPath(root: Table, path: string[]): unknown {
  let node: unknown = root;
  for (const seg of path) {
    if (!isTable(node) || !Object.hasOwn(node, seg)) return undefined;
    node = node[seg];
  }
  return node;
}

function firstHit(root: Table, paths: string[][]): TomlHit | undefined {
  for (const p of paths) {
    const value = getPath(root, p);
    if (value !== undefined && !isTable(value)) return { value, path: p.join(".") };
  }
  return undefined;
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function leafPaths(node: Table, prefix: string[] = []): string[][] {
  return Object.entries(node).flatMap(([k, v]) => (isTable(v) ? leafPaths(v, [...prefix, k]) : [[...prefix, k]]));
}

function lastSegment(path: string): string {
  return path.slice(path.lastIndexOf(".") + 1);
}

/** Distance of a typo to a known key; a right key in the wrong section (Helm's `[teleport] debug`) counts as close. */
function keyDistance(key: string, known: string): number {
  return Math.min(editDistance(key, known), editDistance(lastSegment(key), lastSegment(known)) + 1);
}

/** The known key closest to `key`, for "did you mean" hints. */
function nearestKey(key: string): string {
  const known = OPTION_LIST.flatMap(([, def]) => (def.toml === null ? [] : [def.toml]));
  return known.reduce((best, k) => (keyDistance(key, k) < keyDistance(key, best) ? k : best));
}

export function parseTomlText(text: string, file: string): TomlSource {
  let root: Table;
  try {
    root = parse(text) as Table;
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    const reason = err.message.split("\n")[0]!.replace(/^Invalid TOML document: /, "");
    throw new ConfigError(`cannot parse config file ${file}: ${reason} at line ${err.line}, column ${err.column}; fix the TOML syntax`);
  }

  const known = new Set<string>();
  const hits = new Map<OptionKey, TomlHit>();
  for (const [key, def] of OPTION_LIST) {
    const { primary, alias } = tomlPaths(def);
    for (const p of [...primary, ...alias]) known.add(p.join("."));
    const main = firstHit(root, primary);
    const other = firstHit(root, alias);
    if (main && other && !sameValue(main.value, other.value)) {
      throw new ConfigError(`${file} sets both ${main.path} and ${other.path} ([fluentd] is an alias of [forward.fluentd]); keep one of them`);
    }
    const hit = main ?? other;
    if (hit) hits.set(key, hit);
  }

  const warnings = leafPaths(root)
    .map((p) => p.join("."))
    .filter((p) => !known.has(p))
    .map((p) => `unknown key "${p}" in config file ${file} is ignored; did you mean "${nearestKey(p)}"?`);

  return { file, get: (key) => hits.get(key), warnings };
}
