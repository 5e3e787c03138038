import { expect, test } from "bun:test";
import { lockHolder } from "../../src/state/index.ts";
import { compiledBinary, waitFor, waitUntil, sharedWorld } from "../support/world.ts";

/**
 * One handler per storage directory, decided by a kernel lock. Two handlers are started in the
 * same tick over a stale lock (the previous round's winner was killed with SIGKILL, leaving its
 * lock file and pid file behind), a hundred times: each time exactly one must run and the other
 * must refuse. With the old pid-file lock both won in 141 of 150 tries.
 */

const ROUNDS = 100;

const world = sharedWorld({ teleport: { events: 20, days: 1, sessions: 0 } });

test(`two handlers started together over a stale lock: exactly one runs, ${ROUNDS} times out of ${ROUNDS}`, async () => {
  const bin = await compiledBinary();
  const args = world.startArgs();
  const start = () => Bun.spawn([bin, ...args], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const outcomes: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const pair = [start(), start()];
    // With a broken lock neither would ever exit: after 20 s the round counts as both running.
    const first = await waitFor("one of the two handlers exits", async () => pair.find((p) => p.exitCode !== null), 20_000).catch(() => undefined);
    if (first === undefined) {
      outcomes.push(`round ${round}: both running`);
      for (const p of pair) p.kill("SIGKILL");
      await Promise.all(pair.map((p) => p.exited));
      continue;
    }
    const winner = pair.find((p) => p !== first)!;
    const refusal = await new Response(first.stderr).text();
    try {
      // The winner holds the kernel lock and keeps running; the other one said why it stopped.
      await waitUntil("the winner holds the lock", () => lockHolder(world.storage) === winner.pid || winner.exitCode !== null, 10_000);
      const ok = first.exitCode !== 0 && refusal.includes("storage is in use by another teleport-event-handler") && winner.exitCode === null;
      outcomes.push(ok ? "one" : `round ${round}: first exit ${first.exitCode} (${refusal.trim().split("\n").at(-1)}), other ${winner.exitCode ?? "running"}`);
    } finally {
      winner.kill("SIGKILL");
      await winner.exited;
    }
  }
  expect(outcomes.filter((o) => o !== "one")).toEqual([]);
}, 600_000);
