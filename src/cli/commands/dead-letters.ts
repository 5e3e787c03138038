import { defineCommand } from "citty";
import { loadConfig } from "../../config/load.ts";
import { redactUrl } from "../../lib/redact.ts";
import { configureLogger, logger } from "../../logger.ts";
import { StateStore } from "../../state/index.ts";
import { argsForGroups, cliValues, type ScannedArgs } from "../args.ts";
import { resolveStateFile, stateArgs } from "../state-args.ts";

function withState<T>(args: { storage?: string; config?: string; cluster?: string }, fn: (state: StateStore) => T): T {
  const state = StateStore.open(resolveStateFile(args), { create: false });
  try {
    return fn(state);
  } finally {
    state.close();
  }
}

const list = defineCommand({
  meta: { name: "list", description: "List events Fluentd rejected permanently (ids, status and reason; --json adds bodies)" },
  args: { ...stateArgs, json: { type: "boolean", description: "One JSON object per line, with the event body" } },
  run({ args }) {
    withState(args, (state) => {
      for (const d of state.deadLetters.list()) {
        // Rows written before URLs were stored redacted may still hold user:password.
        const url = redactUrl(d.url);
        const line = args.json
          ? JSON.stringify({ id: d.id, eventId: d.eventId, url, status: d.status, reason: d.reason, time: d.time.toISOString(), body: d.body })
          : `${d.id}\t${d.time.toISOString()}\t${d.eventId}\tHTTP ${d.status}\t${url}\t${d.reason}`;
        process.stdout.write(`${line}\n`);
      }
    });
  },
});

const purge = defineCommand({
  meta: { name: "purge", description: "Delete every stored dead letter" },
  args: stateArgs,
  run({ args }) {
    const removed = withState(args, (state) => state.deadLetters.purge());
    process.stdout.write(`${removed} dead letters removed\n`);
  },
});

const retry = defineCommand({
  meta: {
    name: "retry",
    description: "Resend the dead letters to Fluentd (takes the same configuration as start); delivered ones are removed. Exit 1 when some remain",
  },
  args: { ...argsForGroups(["global", "teleport", "fluentd", "ingest"]), cluster: stateArgs.cluster },
  async run(ctx): Promise<number> {
    const scanned = ctx.data as ScannedArgs;
    const { config, warnings } = loadConfig({ cli: cliValues(scanned), env: process.env, cwd: process.cwd() });
    configureLogger({ debug: config.global.debug, format: config.global.logFormat });
    for (const warning of warnings) logger.warn(warning);
    const cluster = scanned.flags.cluster;
    // Loaded here, as in start: the sink pulls in TLS and metrics, which no other command (and
    // not `version` or `--help`, which load this file too) should pay for at start-up.
    const { runDeadLetterRetry } = await import("../../app/dead-letters.ts");
    return runDeadLetterRetry(config, Array.isArray(cluster) ? cluster.at(-1) : undefined);
  },
});

const deadLetterSubCommands = { list, retry, purge };

export default defineCommand({
  meta: { name: "dead-letters", description: "Inspect, resend or purge events Fluentd rejected permanently" },
  subCommands: deadLetterSubCommands,
});
