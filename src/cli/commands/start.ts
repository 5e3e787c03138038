import { defineCommand } from "citty";
import { runApp } from "../../app/index.ts";
import { effectiveConfigLines } from "../../config/describe.ts";
import { loadConfig } from "../../config/load.ts";
import { configureLogger, logger } from "../../logger.ts";
import { argsForGroups, cliValues, type ScannedArgs } from "../args.ts";

export const startCommand = defineCommand({
  meta: { name: "start", description: "Export the audit log and session recordings to Fluentd" },
  args: argsForGroups(["global", "teleport", "fluentd", "ingest", "locking", "observability"]),
  async run(ctx): Promise<number> {
    const scanned = ctx.data as ScannedArgs;
    const { config, warnings } = loadConfig({ cli: cliValues(scanned), env: process.env, cwd: process.cwd() });
    // The TOML file may turn on debug or JSON logs, so configure again now that it is read.
    configureLogger({ debug: config.debug, format: config.logFormat });
    for (const warning of warnings) logger.warn(warning);
    for (const line of effectiveConfigLines(config)) logger.info(line);
    return runApp(config);
  },
});
