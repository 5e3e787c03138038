import { defineCommand } from "citty";
import { loadConfig } from "../../config/load.ts";
import { configureLogger, logger } from "../../logger.ts";
import { argsForGroups, cliValues, type ScannedArgs } from "../args.ts";

export default defineCommand({
  meta: {
    name: "migrate",
    description:
      "Import the Go event handler's state from <storage>/<host>_<port>/ now instead of at the first start (takes the same configuration as start; --dry-run only prints what would be imported)",
  },
  args: argsForGroups(["global", "teleport", "fluentd", "ingest"]),
  async run(ctx): Promise<number> {
    const scanned = ctx.data as ScannedArgs;
    const { config, warnings } = loadConfig({ cli: cliValues(scanned), env: process.env, cwd: process.cwd() });
    configureLogger({ debug: config.global.debug, format: config.global.logFormat });
    for (const warning of warnings) logger.warn(warning);
    // Loaded here, as in start: asking Teleport for the cluster name pulls in the gRPC stack.
    const { runMigrate } = await import("../../app/migrate.ts");
    return runMigrate(config, (line) => process.stdout.write(`${line}\n`));
  },
});
