import { argsForGroups } from "../args.ts";
import { defineCommand } from "../command.ts";
import { loadCommandConfig } from "../settings.ts";

export default defineCommand({
  meta: {
    name: "migrate",
    description:
      "Import the Go event handler's state from <storage>/<host>_<port>/ now instead of at the first start (takes the same configuration as start; --dry-run only prints what would be imported)",
  },
  args: argsForGroups(["teleport", "fluentd", "ingest"]),
  async run({ cli }): Promise<number> {
    const config = loadCommandConfig(cli);
    // Loaded here, as in start: asking Teleport for the cluster name pulls in the gRPC stack.
    const { runMigrate } = await import("../../app/migrate.ts");
    return runMigrate(config, (line) => process.stdout.write(`${line}\n`));
  },
});
