import { APP_NAME, VERSION } from "../../version.ts";
import { defineCommand, type Command } from "../command.ts";

const load = (m: { default: Command<any> }) => m.default;

/**
 * Every command by name, each file's default export, imported only when it is run or its help is
 * shown: `version` and `--help` must not pay for the export stack. Add a new command here.
 */
export const COMMANDS = {
  start: () => import("./start.ts").then(load),
  configure: () => import("./configure.ts").then(load),
  version: () => import("./version.ts").then(load),
  status: () => import("./status.ts").then(load),
  "dead-letters": () => import("./dead-letters.ts").then(load),
  migrate: () => import("./migrate.ts").then(load),
  verify: () => import("./verify.ts").then(load),
};

export const rootCommand = defineCommand({
  meta: { name: APP_NAME, version: VERSION, description: "Forwards the Teleport audit log and session recordings to Fluentd" },
  args: {
    version: { type: "boolean", alias: "v", description: "Print the version, as the version command does" },
  },
  subCommands: COMMANDS,
});
