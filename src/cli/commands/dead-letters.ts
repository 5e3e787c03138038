import { UsageError } from "../../errors.ts";
import type { StateStore } from "../../state/index.ts";
import type { CliValues } from "../../config/load.ts";
import { argsForGroups } from "../args.ts";
import { defineCommand } from "../command.ts";
import { loadCommandConfig, resolveStateFile, stateArgs } from "../settings.ts";
import { redactUrl } from "../../lib/redact.ts";

async function withState<T>(cli: CliValues, cluster: string | undefined, fn: (state: StateStore) => T, readonly = false): Promise<T> {
  const file = await resolveStateFile(cli, cluster);
  const { StateStore } = await import("../../state/index.ts");
  const state = StateStore.open(file, { create: false, readonly });
  try {
    return fn(state);
  } finally {
    state.close();
  }
}

const list = defineCommand({
  meta: { name: "list", description: "List events Fluentd rejected permanently (ids, status and reason; --json adds bodies)" },
  args: { ...stateArgs, json: { type: "boolean", description: "One JSON object per line, with the event body" } },
  async run({ args, cli }) {
    await withState(cli, args.cluster, (state) => {
      const letters = state.deadLetters.list();
      if (!args.json) process.stdout.write(letters.length === 0 ? "no dead letters\n" : "ID\tTIME\tEVENT\tSTATUS\tURL\tREASON\n");
      for (const d of letters) {
        // Rows written before URLs were stored redacted may still hold user:password.
        const url = redactUrl(d.url);
        const line = args.json
          ? JSON.stringify({ id: d.id, eventId: d.eventId, url, status: d.status, reason: d.reason, time: d.time.toISOString(), body: d.body })
          : `${d.id}\t${d.time.toISOString()}\t${d.eventId}\tHTTP ${d.status}\t${url}\t${d.reason}`;
        process.stdout.write(`${line}\n`);
      }
    }, true);
  },
});

const purge = defineCommand({
  meta: { name: "purge", description: "Delete every stored dead letter (at a terminal, only with --yes)" },
  args: { ...stateArgs, yes: { type: "boolean", description: "Delete without asking (required at a terminal)" } },
  async run({ args, cli }) {
    // Events Fluentd refused exist nowhere else once purged: a person typing this must mean it.
    if (process.stdin.isTTY && !args.yes) {
      const count = await withState(cli, args.cluster, (state) => state.deadLetters.count(), true);
      throw new UsageError(`purge deletes ${count} dead letters for good; run it again with --yes to confirm (dead-letters list shows them)`);
    }
    const removed = await withState(cli, args.cluster, (state) => state.deadLetters.purge());
    process.stdout.write(`${removed} dead letters removed\n`);
  },
});

const retry = defineCommand({
  meta: {
    name: "retry",
    description: "Resend the dead letters to Fluentd (takes the same configuration as start); delivered ones are removed. Exit 1 when some remain",
  },
  args: {
    ...argsForGroups(["teleport", "fluentd", "ingest"]),
    cluster: stateArgs.cluster,
    "to-stored-url": { type: "boolean", description: "Resend each letter to the URL it was refused at, instead of the configured fluentd-url / fluentd-session-url" },
  },
  async run({ args, cli }): Promise<number> {
    const config = loadCommandConfig(cli);
    // Loaded here, as in start: the sink pulls in TLS and metrics, which no other command (and
    // not `version` or `--help`) should pay for at start-up.
    const { runDeadLetterRetry } = await import("../../app/dead-letters.ts");
    return runDeadLetterRetry(config, args.cluster, args["to-stored-url"] === true);
  },
});

export default defineCommand({
  meta: { name: "dead-letters", description: "Inspect, resend or purge events Fluentd rejected permanently" },
  subCommands: { list, retry, purge },
});
