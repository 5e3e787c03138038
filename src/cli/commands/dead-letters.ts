import { defineCommand } from "citty";
import { loadConfig } from "../../config/load.ts";
import { UsageError } from "../../errors.ts";
import { configureLogger, logger } from "../../logger.ts";
import { StateStore } from "../../state/index.ts";
import { argsForGroups, cliValues, type ScannedArgs } from "../args.ts";
import { resolveStateFile, stateArgs } from "../state-args.ts";

function withState<T>(args: { storage?: string; config?: string; cluster?: string }, fn: (state: StateStore) => T, readonly = false): T {
  const state = StateStore.open(resolveStateFile(args), { create: false, readonly });
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
      const letters = state.deadLetters.list();
      if (!args.json) process.stdout.write(letters.length === 0 ? "no dead letters\n" : "ID\tTIME\tEVENT\tSTATUS\tURL\tREASON\n");
      for (const d of letters) {
        const line = args.json
          ? JSON.stringify({ id: d.id, eventId: d.eventId, url: d.url, status: d.status, reason: d.reason, time: d.time.toISOString(), body: d.body })
          : `${d.id}\t${d.time.toISOString()}\t${d.eventId}\tHTTP ${d.status}\t${d.url}\t${d.reason}`;
        process.stdout.write(`${line}\n`);
      }
    }, true);
  },
});

const purge = defineCommand({
  meta: { name: "purge", description: "Delete every stored dead letter (at a terminal, only with --yes)" },
  args: { ...stateArgs, yes: { type: "boolean", description: "Delete without asking (required at a terminal)" } },
  run({ args }) {
    // Events Fluentd refused exist nowhere else once purged: a person typing this must mean it.
    if (process.stdin.isTTY && !args.yes) {
      const count = withState(args, (state) => state.deadLetters.count(), true);
      throw new UsageError(`purge deletes ${count} dead letters for good; run it again with --yes to confirm (dead-letters list shows them)`);
    }
    const removed = withState(args, (state) => state.deadLetters.purge());
    process.stdout.write(`${removed} dead letters removed\n`);
  },
});

const retry = defineCommand({
  meta: {
    name: "retry",
    description: "Resend the dead letters to Fluentd (takes the same configuration as start); delivered ones are removed. Exit 1 when some remain",
  },
  args: {
    ...argsForGroups(["global", "teleport", "fluentd", "ingest"]),
    cluster: stateArgs.cluster,
    "to-stored-url": { type: "boolean", description: "Resend each letter to the URL it was refused at, instead of the configured fluentd-url / fluentd-session-url" },
  },
  async run(ctx): Promise<number> {
    const scanned = ctx.data as ScannedArgs;
    const { config, warnings } = loadConfig({ cli: cliValues(scanned), env: process.env, cwd: process.cwd() });
    configureLogger({ debug: config.global.debug, format: config.global.logFormat });
    for (const warning of warnings) logger.warn(warning);
    const cluster = scanned.flags.cluster;
    // Loaded here, as in start: the sink pulls in TLS and metrics, which no other command (and
    // not `version` or `--help`, which load this file too) should pay for at start-up.
    const { runDeadLetterRetry } = await import("../../app/dead-letters.ts");
    return runDeadLetterRetry(config, Array.isArray(cluster) ? cluster.at(-1) : undefined, scanned.flags["to-stored-url"] === true);
  },
});

const deadLetterSubCommands = { list, retry, purge };

export default defineCommand({
  meta: { name: "dead-letters", description: "Inspect, resend or purge events Fluentd rejected permanently" },
  subCommands: deadLetterSubCommands,
});
