import { defineCommand } from "citty";
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
    configureLogger({ debug: config.global.debug, format: config.global.logFormat });
    for (const warning of warnings) logger.warn(warning);
    for (const line of effectiveConfigLines(config)) logger.info(line);
    // Loaded here, not at the top: the export stack (gRPC, protobuf, TLS, metrics) is most of the
    // start-up cost, and `version`, `status` or `--help` must not pay for it.
    const { runApp } = await import("../../app/index.ts");
    return runApp(config);
  },
});
