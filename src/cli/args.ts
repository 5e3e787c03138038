import type { ArgDef, ArgsDef, ParsedArgs } from "citty";
import { UsageError } from "../errors.ts";
import type { CliValues } from "../config/load.ts";
import { OPTION_LIST, type OptionDef, type OptionGroup, type OptionKey, optionsInGroups } from "../config/options.ts";
import { parseBool, ValueError } from "../config/values.ts";
import { editDistance } from "../lib/edit-distance.ts";

/**
 * The one command-line parser. Commands declare their flags as citty `ArgsDef`s, because citty
 * renders `--help` from them; the parsing is ours alone, because citty's (node:util parseArgs,
 * non-strict) keeps only the last of repeated flags (`--fluentd-header` twice), ignores unknown
 * flags and stray arguments, takes the next flag as a missing value, and raises errors that can only
 * be recognised by their name.
 */

function describeOption(def: OptionDef): string {
  const notes = [def.required ? "required" : def.default !== undefined ? `default: ${def.default}` : ""];
  notes.push(`env: ${def.env.join(", ")}`);
  if (def.toml) notes.push(`toml: ${def.toml}`);
  return `${def.help} [${notes.filter(Boolean).join("; ")}]`;
}

function toArgDef(def: OptionDef): ArgDef {
  const base = { description: describeOption(def), ...(def.short ? { alias: def.short } : {}) };
  if (def.kind === "bool") return { ...base, type: "boolean" };
  const hint = def.kind === "enum" ? def.values!.join("|") : def.kind;
  return { ...base, type: "string", valueHint: hint };
}

function argsFor(options: ReadonlyArray<readonly [OptionKey, OptionDef]>): ArgsDef {
  return Object.fromEntries(options.map(([, def]) => [def.flag, toArgDef(def)]));
}

/** Flags of whole groups of the options table (`start` takes every group). */
export function argsForGroups(groups: readonly OptionGroup[]): ArgsDef {
  return argsFor(optionsInGroups(groups));
}

/** Flags of single settings of the options table (`status` takes only `storage`). */
export function argsForOptions(keys: readonly OptionKey[]): ArgsDef {
  return argsFor(OPTION_LIST.filter(([key]) => keys.includes(key)));
}

/** Accepted by every command, before or after its name; the router adds them, so none can forget. */
export const GLOBAL_ARGS: ArgsDef = {
  ...argsForGroups(["global"]),
  help: { type: "boolean", alias: "h", description: "Show this help" },
};

export interface ScannedArgs {
  /** Keyed by flag name; value flags keep every occurrence. */
  flags: Record<string, string[] | boolean>;
  positionals: string[];
  /** With `untilCommand`: the index in the input of the first positional (a command name), or -1. */
  commandAt: number;
}

function findFlag(argsDef: ArgsDef, token: string): [string, ArgDef] | undefined {
  for (const [name, def] of Object.entries(argsDef)) {
    if (def.type === "positional") continue;
    const alias = (def as { alias?: string | string[] }).alias;
    const aliases = alias === undefined ? [] : Array.isArray(alias) ? alias : [alias];
    if (name === token || aliases.includes(token)) return [name, def];
  }
  return undefined;
}

function seeHelp(command: string): string {
  return `see "${command} --help"`;
}

/** The flag a typo most likely meant: one it abbreviates or extends, else one a few edits away. */
function closestFlag(token: string, names: readonly string[]): string | undefined {
  const affix = names.find((n) => token.length > 1 && (n.startsWith(token) || token.startsWith(n) || n.includes(token)));
  if (affix) return affix;
  const scored = names.map((n) => ({ n, d: editDistance(token, n) })).sort((a, b) => a.d - b.d);
  const best = scored[0];
  return best && best.d <= Math.max(1, Math.floor(token.length / 3)) ? best.n : undefined;
}

function unknownFlag(token: string, argsDef: ArgsDef, command: string): UsageError {
  const names = Object.entries(argsDef).filter(([, d]) => d.type !== "positional").map(([n]) => n);
  const close = closestFlag(token, names);
  const hint = close ? `did you mean --${close}? ` : "";
  return new UsageError(`unknown flag ${token.length === 1 ? "-" : "--"}${token} for ${command}; ${hint}${seeHelp(command)}`);
}

function boolValue(flag: string, text: string): boolean {
  try {
    return parseBool(text);
  } catch (err) {
    if (err instanceof ValueError) throw new UsageError(`invalid ${flag} ${JSON.stringify(text)} from --${flag}: ${err.message}`);
    throw err;
  }
}

/**
 * Strict flag scan: `--name value`, `--name=value`, `-c value`, `--bool`, `--bool=false`,
 * `--no-bool`; anything after `--` is positional. A value that starts with `--` must be written
 * `--name=--value`, so a forgotten value is reported instead of swallowing the next flag.
 * With `untilCommand` it stops at the first positional: the name of a sub-command.
 */
export function scanArgs(rawArgs: readonly string[], argsDef: ArgsDef, command: string, opts: { untilCommand?: boolean } = {}): ScannedArgs {
  const flags: ScannedArgs["flags"] = {};
  const positionals: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const token = rawArgs[i]!;
    if (token === "--") {
      if (opts.untilCommand) break;
      positionals.push(...rawArgs.slice(i + 1));
      break;
    }
    if (!token.startsWith("-") || token === "-") {
      if (opts.untilCommand) return { flags, positionals, commandAt: i };
      positionals.push(token);
      continue;
    }
    const body = token.replace(/^--?/, "");
    const eq = body.indexOf("=");
    const name = eq < 0 ? body : body.slice(0, eq);
    const inline = eq < 0 ? undefined : body.slice(eq + 1);
    let found = findFlag(argsDef, name);
    let negated = false;
    if (!found && name.startsWith("no-")) {
      found = findFlag(argsDef, name.slice(3));
      negated = found?.[1].type === "boolean";
      if (!negated) found = undefined;
    }
    if (!found) throw unknownFlag(name, argsDef, command);
    const [flag, def] = found;
    if (def.type === "boolean") {
      if (negated && inline !== undefined) throw new UsageError(`--no-${flag} takes no value; ${seeHelp(command)}`);
      flags[flag] = negated ? false : inline === undefined ? true : boolValue(flag, inline);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      value = rawArgs[i + 1];
      if (value === undefined || value.startsWith("--")) throw new UsageError(`flag --${flag} needs a value; ${seeHelp(command)}`);
      i++;
    }
    const prev = flags[flag];
    flags[flag] = [...(Array.isArray(prev) ? prev : []), value];
  }
  return { flags, positionals, commandAt: -1 };
}

/**
 * The typed view a command's `run` reads: a value flag's last occurrence, a boolean, positionals by
 * name, and the declared defaults. Missing and surplus positionals are usage errors here.
 */
function typedArgs<A extends ArgsDef>(scanned: ScannedArgs, argsDef: A, command: string): ParsedArgs<A> {
  const out: Record<string, unknown> = { _: scanned.positionals };
  const positionals = [...scanned.positionals];
  for (const [name, def] of Object.entries(argsDef)) {
    if (def.type === "positional") {
      const value = positionals.shift() ?? def.default;
      if (value === undefined && def.required !== false) {
        throw new UsageError(`missing argument ${name.toUpperCase()} for ${command}; ${seeHelp(command)}`);
      }
      out[name] = value;
      continue;
    }
    const given = scanned.flags[name];
    out[name] = Array.isArray(given) ? given.at(-1) : (given ?? def.default);
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}" for ${command}; ${seeHelp(command)}`);
  return out as ParsedArgs<A>;
}

/** The flags that are settings of the options table, every occurrence kept, for the config loader. */
function cliValues(scanned: ScannedArgs): CliValues {
  const out: CliValues = {};
  for (const [key, def] of OPTION_LIST) {
    const v = scanned.flags[def.flag];
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/**
 * Both views a command reads, from one scan: `args` (typed, its own flags and positionals) and
 * `cli` (options-table flags for the config loader).
 */
export function commandViews<A extends ArgsDef>(scanned: ScannedArgs, argsDef: A, command: string): { args: ParsedArgs<A>; cli: CliValues } {
  return { args: typedArgs(scanned, argsDef, command), cli: cliValues(scanned) };
}
