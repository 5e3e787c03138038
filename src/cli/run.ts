import { renderUsage, type ArgsDef, type CommandDef } from "citty";
import { OutageError, UsageError, UserError } from "../errors.ts";
import { parseBool } from "../config/values.ts";
import { configureLogger, logger } from "../logger.ts";
import { APP_NAME, VERSION } from "../version.ts";
import { commandViews, GLOBAL_ARGS, scanArgs } from "./args.ts";
import { loadCommand, type Command } from "./command.ts";
import { COMMANDS, rootCommand } from "./commands/index.ts";

/**
 * Logging before the config file is read, from the environment and (once parsed) the command line,
 * so that errors from parsing and loading already honour debug and log-format.
 */
function configureEarlyLogging(flags: { debug?: boolean; "log-format"?: string } = {}): void {
  let debug = flags.debug;
  try {
    debug ??= parseBool(process.env.FDFWD_DEBUG ?? "false");
  } catch {
    // A malformed value is reported by the config loader with the setting's name.
  }
  const format = flags["log-format"] ?? process.env.FDFWD_LOG_FORMAT;
  configureLogger({ debug: debug === true, format: format === "json" ? "json" : "text" });
}

function argsOf(cmd: Command<any>): ArgsDef {
  return { ...GLOBAL_ARGS, ...cmd.args };
}

/** citty renders the help; `parent` carries the full name of the command above. */
async function usage(cmd: Command<any>, parentLabel: string | undefined): Promise<string> {
  const def = { meta: cmd.meta, args: argsOf(cmd), subCommands: cmd.subCommands } as CommandDef<any>;
  const parent = parentLabel === undefined ? undefined : ({ meta: { name: parentLabel, version: VERSION } } as CommandDef<any>);
  return renderUsage(def, parent);
}

/**
 * Walks down the command tree: at each level the arguments up to the first positional are checked
 * against that level's flags, the positional names the sub-command, and the rest (flags written
 * before the name included) goes on down. Returns the command to run and its arguments.
 */
async function resolveCommand(argv: readonly string[]) {
  let cmd: Command<any> = rootCommand;
  let label = APP_NAME;
  let parentLabel: string | undefined;
  let rest = [...argv];
  while (cmd.subCommands) {
    const at = scanArgs(rest, argsOf(cmd), label, { untilCommand: true }).commandAt;
    if (at < 0) break;
    const name = rest[at]!;
    const ref = Object.hasOwn(cmd.subCommands, name) ? cmd.subCommands[name] : undefined;
    if (!ref) {
      const where = cmd === rootCommand ? "" : ` for ${label}`;
      throw new UsageError(`unknown command "${name}"${where}; expected one of: ${Object.keys(cmd.subCommands).join(", ")}`);
    }
    cmd = await loadCommand(ref);
    parentLabel = label;
    label = `${label} ${name}`;
    rest = [...rest.slice(0, at), ...rest.slice(at + 1)];
  }
  return { cmd, label, parentLabel, rest };
}

export async function runCli(argv: readonly string[]): Promise<number> {
  configureEarlyLogging();
  const resolved = await resolveCommand(argv);
  let { cmd } = resolved;
  const { label, parentLabel, rest } = resolved;
  const argsDef = argsOf(cmd);
  const scanned = scanArgs(rest, argsDef, label);
  // Help wins over missing arguments: `configure --help` is how one learns what OUT is.
  if (scanned.flags.help === true) {
    process.stdout.write(`${await usage(cmd, parentLabel)}\n`);
    return 0;
  }
  const { args, cli } = commandViews(scanned, argsDef, label);
  configureEarlyLogging({ debug: args.debug as boolean | undefined, "log-format": args["log-format"] as string | undefined });
  // `--version` is the `version` command spelled as a flag.
  if (cmd === rootCommand && args.version) cmd = await COMMANDS.version();
  if (!cmd.run) {
    process.stderr.write(`${await usage(cmd, parentLabel)}\n`);
    throw new UsageError(`no command given; expected one of: ${Object.keys(cmd.subCommands ?? {}).join(", ")}`);
  }
  return (await cmd.run({ args, cli })) ?? 0;
}

/** One line for the user; the stack only with --debug. Returns the exit code. */
export function reportError(err: unknown): number {
  const debug = logger.level >= 4;
  if (err instanceof UserError || err instanceof OutageError) {
    logger.error(err.message);
    if (debug && err.stack) logger.debug(err.stack);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  logger.error(`${message}${debug ? "" : " (run with --debug for details)"}`);
  if (debug && err instanceof Error && err.stack) logger.debug(err.stack);
  return 1;
}
