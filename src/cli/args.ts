import type { ArgDef, ArgsDef } from "citty";
import { UsageError } from "../errors.ts";
import type { CliValues } from "../config/load.ts";
import { OPTIONS, type OptionDef, type OptionGroup, type OptionKey, optionsInGroups } from "../config/options.ts";

/**
 * citty argument definitions built from the options table. citty only renders them in `--help`
 * and parses positionals; option values are read by `scanArgs`, which knows repeated flags and
 * rejects unknown ones (citty ignores both).
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

export function argsForGroups(groups: readonly OptionGroup[]): ArgsDef {
  return Object.fromEntries(optionsInGroups(groups).map(([, def]) => [def.flag, toArgDef(def)]));
}

export const GLOBAL_ARGS: ArgsDef = argsForGroups(["global"]);

export interface ScannedArgs {
  /** Keyed by flag name; value flags keep every occurrence. */
  flags: Record<string, string[] | boolean>;
  positionals: string[];
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

function unknownFlag(token: string, argsDef: ArgsDef, command: string): UsageError {
  const names = Object.keys(argsDef);
  const close = names.find((n) => n.startsWith(token) || token.startsWith(n) || n.includes(token));
  const hint = close ? `did you mean --${close}? ` : "";
  return new UsageError(`unknown flag ${token.length === 1 ? "-" : "--"}${token} for ${command}; ${hint}see "${command} --help"`);
}

/** Strict flag parser: `--name value`, `--name=value`, `-c value`, `--bool`, `--bool=false`, `--no-bool`. */
export function scanArgs(rawArgs: readonly string[], argsDef: ArgsDef, command: string): ScannedArgs {
  const flags: ScannedArgs["flags"] = {};
  const positionals: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const token = rawArgs[i]!;
    if (token === "--") {
      positionals.push(...rawArgs.slice(i + 1));
      break;
    }
    if (!token.startsWith("-") || token === "-") {
      positionals.push(token);
      continue;
    }
    const body = token.replace(/^--?/, "");
    const eq = body.indexOf("=");
    let name = eq < 0 ? body : body.slice(0, eq);
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
    name = flag;
    if (def.type === "boolean") {
      if (negated && inline !== undefined) throw new UsageError(`--no-${flag} takes no value`);
      flags[flag] = negated ? false : inline === undefined ? true : [inline];
      continue;
    }
    let value = inline;
    if (value === undefined) {
      value = rawArgs[i + 1];
      if (value === undefined) throw new UsageError(`flag --${flag} needs a value; see "${command} --help"`);
      i++;
    }
    const prev = flags[flag];
    flags[flag] = [...(Array.isArray(prev) ? prev : []), value];
  }
  return { flags, positionals };
}

/** Maps scanned flags (kebab names) onto option keys for the config loader. */
export function cliValues(scanned: ScannedArgs): CliValues {
  const out: CliValues = {};
  for (const [key, def] of Object.entries(OPTIONS) as [OptionKey, OptionDef][]) {
    const v = scanned.flags[def.flag];
    if (v !== undefined) out[key] = v;
  }
  return out;
}
