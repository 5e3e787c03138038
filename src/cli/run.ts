import { renderUsage, runCommand, type ArgsDef, type CommandDef } from "citty";
import { EXIT_USAGE, UsageError, UserError } from "../errors.ts";
import { parseBool } from "../config/values.ts";
import { configureLogger, logger, type LogFormat } from "../logger.ts";
import { APP_NAME } from "../version.ts";
import { GLOBAL_ARGS, scanArgs, type ScannedArgs } from "./args.ts";
import { SUBCOMMANDS, rootCommand } from "./commands/root.ts";

const HELP_FLAGS = new Set(["--help", "-h"]);

/** Index of the subcommand name, skipping global flags (and their values) written before it. */
function commandIndex(argv: readonly string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === "--") return -1;
    if (!token.startsWith("-")) return i;
    const name = token.replace(/^--?/, "");
    const def = Object.entries(GLOBAL_ARGS).find(([n, d]) => n === name || ("alias" in d && d.alias === name))?.[1];
    if (def && def.type !== "boolean") i++;
  }
  return -1;
}

function lastText(v: string[] | boolean | undefined): string | undefined {
  return Array.isArray(v) ? v[v.length - 1] : typeof v === "boolean" ? String(v) : undefined;
}

/**
 * Logging before the config file is read, from the command line and environment only, so that
 * errors while loading already honour --debug and --log-format.
 */
function configureEarlyLogging(scanned: Pick<ScannedArgs, "flags">): void {
  let debug = false;
  try {
    debug = parseBool(lastText(scanned.flags.debug) ?? process.env.FDFWD_DEBUG ?? "false");
  } catch {
    // A malformed value is reported by the config loader with the setting's name.
  }
  const format = lastText(scanned.flags["log-format"]) ?? process.env.FDFWD_LOG_FORMAT;
  configureLogger({ debug, format: format === "json" ? "json" : ("text" as LogFormat) });
}

/**
 * A command with its own sub-commands (`dead-letters list`): the flags belong to the sub-command,
 * so it is picked out here and its flags scanned against its own definition, not the parent's.
 */
function nestedCommand(parent: CommandDef<any>, label: string, rest: string[]): { cmd: CommandDef<any>; label: string; rest: string[] } | undefined {
  const subs = parent.subCommands as Record<string, CommandDef<any>> | undefined;
  if (!subs) return undefined;
  const index = rest.findIndex((a) => !a.startsWith("-"));
  const name = index < 0 ? undefined : rest[index]!;
  if (name === undefined) return undefined;
  const cmd = subs[name];
  if (!cmd) throw new UsageError(`unknown command "${name}" for ${label}; expected one of: ${Object.keys(subs).join(", ")}`);
  return { cmd, label: `${label} ${name}`, rest: [...rest.slice(0, index), ...rest.slice(index + 1)] };
}

export async function runCli(argv: readonly string[]): Promise<number> {
  // `--version` alone is what people type first; it means the `version` command.
  if (argv.length === 1 && argv[0] === "--version") argv = ["version"];
  // From the environment alone first, so that even an error in the arguments honours it.
  configureEarlyLogging({ flags: {} });
  const index = commandIndex(argv);
  const name = index < 0 ? undefined : argv[index]!;
  const sub = name === undefined ? undefined : SUBCOMMANDS[name];
  if (name !== undefined && !sub) {
    throw new UsageError(`unknown command "${name}"; expected one of: ${Object.keys(SUBCOMMANDS).join(", ")}`);
  }
  let cmd: CommandDef<any> = sub ?? rootCommand;
  let parent: CommandDef<any> | undefined = sub ? rootCommand : undefined;
  let rest = index < 0 ? [...argv] : [...argv.slice(0, index), ...argv.slice(index + 1)];
  let label = sub ? `${APP_NAME} ${name}` : APP_NAME;
  const nested = sub ? nestedCommand(sub, label, rest) : undefined;
  if (nested) ({ cmd, label, rest, parent } = { ...nested, parent: sub });

  if (rest.some((a) => HELP_FLAGS.has(a))) {
    process.stdout.write((await renderUsage(cmd, parent)) + "\n");
    return 0;
  }
  const scanned = scanArgs(rest, (cmd.args ?? {}) as ArgsDef, label);
  configureEarlyLogging(scanned);
  if (!sub || (cmd.subCommands && !nested)) {
    process.stderr.write((await renderUsage(cmd, parent)) + "\n");
    const names = Object.keys((cmd.subCommands ?? SUBCOMMANDS) as object);
    throw new UsageError(`no command given; expected one of: ${names.join(", ")}`);
  }
  const { result } = await runCommand(cmd, { rawArgs: rest, data: scanned });
  return typeof result === "number" ? result : 0;
}

/** One line for the user; the stack only with --debug. Returns the exit code. */
export function reportError(err: unknown): number {
  const debug = logger.level >= 4;
  if (err instanceof UserError) {
    logger.error(err.message);
    if (debug && err.stack) logger.debug(err.stack);
    return err.exitCode;
  }
  // citty raises its own errors for things like a missing positional argument: usage errors too.
  if (err instanceof Error && err.name === "CLIError") {
    logger.error(err.message);
    return EXIT_USAGE;
  }
  const message = err instanceof Error ? err.message : String(err);
  logger.error(`${message}${debug ? "" : " (run with --debug for details)"}`);
  if (debug && err instanceof Error && err.stack) logger.debug(err.stack);
  return 1;
}
