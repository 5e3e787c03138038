import { defineCommand } from "citty";
import { StateStore } from "../../state/index.ts";
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
      for (const d of state.deadLetters()) {
        const line = args.json
          ? JSON.stringify({ id: d.id, eventId: d.eventId, url: d.url, status: d.status, reason: d.reason, time: d.time.toISOString(), body: d.body })
          : `${d.id}\t${d.time.toISOString()}\t${d.eventId}\tHTTP ${d.status}\t${d.url}\t${d.reason}`;
        process.stdout.write(`${line}\n`);
      }
    });
  },
});

const purge = defineCommand({
  meta: { name: "purge", description: "Delete every stored dead letter" },
  args: stateArgs,
  run({ args }) {
    const removed = withState(args, (state) => state.purgeDeadLetters());
    process.stdout.write(`${removed} dead letters removed\n`);
  },
});

/**
 * `retry` needs a Fluentd sink built from the full configuration; it is added to the sub-commands
 * by the CLI entry point once the config and sink exist (see src/app/dead-letters.ts).
 */
export const deadLetterSubCommands = { list, purge };

export default defineCommand({
  meta: { name: "dead-letters", description: "Inspect, resend or purge events Fluentd rejected permanently" },
  subCommands: deadLetterSubCommands,
});
