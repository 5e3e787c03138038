import { ConfigError } from "../../errors.ts";
import { parseDuration, parseTime, ValueError } from "../../config/values.ts";
import { argsForGroups } from "../args.ts";
import { defineCommand } from "../command.ts";
import { loadCommandConfig, stateArgs } from "../settings.ts";

function parsedArg<T>(flag: string, text: string, parse: (text: string) => T): T {
  try {
    return parse(text);
  } catch (err) {
    if (err instanceof ValueError) throw new ConfigError(`invalid --${flag} ${JSON.stringify(text)}: ${err.message}`);
    throw err;
  }
}

function timeArg(flag: string, text: string | undefined): Date {
  if (text === undefined) throw new ConfigError(`--${flag} is required: give an RFC3339 time, e.g. --${flag} 2024-01-31T00:00:00Z`);
  return parsedArg(flag, text, parseTime);
}

export default defineCommand({
  meta: {
    name: "verify",
    description:
      "Read a range back from Teleport and compare each hour with what was delivered (takes the same configuration as start). Exit 0 when every hour matches, 1 on gaps",
  },
  args: {
    ...argsForGroups(["teleport", "fluentd", "ingest"]),
    cluster: stateArgs.cluster,
    from: { type: "string", description: "Start of the range (RFC3339)" },
    to: { type: "string", description: "End of the range (RFC3339, exclusive)" },
    repair: { type: "boolean", description: "Deliver what is missing (while start runs, that instance does it and verify waits)" },
    "repair-timeout": { type: "string", description: "How long --repair waits for a running start to serve it (default 5m)", valueHint: "duration" },
    json: { type: "boolean", description: "Print one JSON object for scripts" },
    by: { type: "string", description: "Rows per hour (default) or per day", valueHint: "hour|day" },
  },
  async run({ args, cli }): Promise<number> {
    const from = timeArg("from", args.from);
    const to = timeArg("to", args.to);
    const by = args.by ?? "hour";
    if (by !== "hour" && by !== "day") throw new ConfigError(`invalid --by ${JSON.stringify(by)}: expected hour or day`);
    const repairTimeoutMs = parsedArg("repair-timeout", args["repair-timeout"] ?? "5m", parseDuration);
    const config = loadCommandConfig(cli);
    const { runVerify } = await import("../../app/verify.ts");
    return runVerify(config, { from, to, repair: args.repair ?? false, repairTimeoutMs, json: args.json ?? false, byDay: by === "day", cluster: args.cluster });
  },
});
