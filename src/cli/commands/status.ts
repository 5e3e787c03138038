import { defineCommand } from "citty";
import { formatStatus, readStatus } from "../../app/status.ts";
import { resolveStateFile, stateArgs } from "../state-args.ts";

export default defineCommand({
  meta: { name: "status", description: "Show the export position, lag, queued sessions and dead letters (safe while running)" },
  args: {
    ...stateArgs,
    json: { type: "boolean", description: "Print one JSON object for scripts" },
  },
  run({ args }) {
    const report = readStatus(resolveStateFile(args));
    process.stdout.write(args.json ? `${JSON.stringify(report)}\n` : `${formatStatus(report)}\n`);
  },
});
