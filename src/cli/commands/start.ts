import { effectiveConfigLines } from "../../config/describe.ts";
import { restartWithRuntimeOptions } from "../../lib/runtime-options.ts";
import { logger } from "../../logger.ts";
import { argsForGroups } from "../args.ts";
import { defineCommand } from "../command.ts";
import { loadCommandConfig } from "../settings.ts";

export default defineCommand({
  meta: { name: "start", description: "Export the audit log and session recordings to Fluentd" },
  args: argsForGroups(["teleport", "fluentd", "ingest", "locking", "observability"]),
  async run({ cli }): Promise<number> {
    restartWithRuntimeOptions();
    const config = loadCommandConfig(cli);
    for (const line of effectiveConfigLines(config)) logger.info(line);
    // Loaded here, not at the top: the export stack (gRPC, protobuf, TLS, metrics) is most of the
    // start-up cost, and `version`, `status` or `--help` must not pay for it.
    const { runApp } = await import("../../app/index.ts");
    return runApp(config);
  },
});
