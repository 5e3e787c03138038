import { defineCommand } from "../command.ts";
import { resolveStateFile, stateArgs } from "../settings.ts";

export default defineCommand({
  meta: { name: "status", description: "Show the export position, lag, queued sessions and dead letters (safe while running)" },
  args: {
    ...stateArgs,
    json: { type: "boolean", description: "Print one JSON object for scripts" },
  },
  async run({ args, cli }) {
    const file = await resolveStateFile(cli, args.cluster);
    const { formatStatus, readStatus } = await import("../../app/status.ts");
    const report = readStatus(file);
    process.stdout.write(args.json ? `${JSON.stringify(report)}\n` : `${formatStatus(report)}\n`);
  },
});
