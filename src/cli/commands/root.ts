import { defineCommand, type CommandDef } from "citty";
import { APP_NAME, VERSION } from "../../version.ts";
import { GLOBAL_ARGS } from "../args.ts";
import { configureCommand } from "./configure.ts";
import deadLettersCommand from "./dead-letters.ts";
import migrateCommand from "./migrate.ts";
import { startCommand } from "./start.ts";
import statusCommand from "./status.ts";
import { versionCommand } from "./version.ts";

/** Subcommands by name; add new commands here (one file each). */
export const SUBCOMMANDS: Record<string, CommandDef<any>> = {
  start: startCommand,
  configure: configureCommand,
  version: versionCommand,
  status: statusCommand,
  "dead-letters": deadLettersCommand,
  migrate: migrateCommand,
};

export const rootCommand = defineCommand({
  meta: { name: APP_NAME, version: VERSION, description: "Forwards the Teleport audit log and session recordings to Fluentd" },
  args: GLOBAL_ARGS,
  subCommands: SUBCOMMANDS,
});
