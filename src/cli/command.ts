import type { ArgsDef, CommandMeta, ParsedArgs } from "citty";
import type { CliValues } from "../config/load.ts";

/** What a command's `run` receives, from the one parse of its command line (cli/args.ts). */
export interface CommandContext<A extends ArgsDef> {
  /** Its flags (last occurrence), booleans and positionals by name, defaults applied. */
  args: ParsedArgs<A>;
  /** The options-table flags given, every occurrence kept, for the config loader. */
  cli: CliValues;
}

/** A command, or a loader of one: commands are imported only when they run or list themselves. */
export type CommandRef = Command<any> | (() => Promise<Command<any>>);

/**
 * One command. citty renders its `--help` from `meta` and `args`; cli/run.ts routes to it and
 * parses its arguments. `args` leaves out the global flags, which the router adds to every command.
 */
export interface Command<A extends ArgsDef = ArgsDef> {
  meta: CommandMeta & { name: string; description: string };
  args?: A;
  subCommands?: Record<string, CommandRef>;
  /** Returns the exit code (0 when nothing is returned). */
  run?(ctx: CommandContext<A>): number | void | Promise<number | void>;
}

export function defineCommand<const A extends ArgsDef = {}>(command: Command<A>): Command<A> {
  return command;
}

export async function loadCommand(ref: CommandRef): Promise<Command<any>> {
  return typeof ref === "function" ? ref() : ref;
}
