import { expect, test } from "bun:test";
import { Wakeup } from "../../src/lib/wakeup.ts";

const LONG = 60_000;

test("a wake ends a wait long before its timeout", async () => {
  const w = new Wakeup();
  const waiting = w.wait(LONG).then(() => "woken");
  w.wake();
  expect(await waiting).toBe("woken");
});

test("a wake that came while nobody waited ends the next wait at once, and only that one", async () => {
  const w = new Wakeup();
  w.wake();
  w.wake();
  await w.wait(LONG);
  const second = await Promise.race([w.wait(LONG).then(() => "woken"), Promise.resolve().then(() => "still waiting")]);
  expect(second).toBe("still waiting");
});

test("the timeout ends a wait nobody wakes", async () => {
  const w = new Wakeup();
  expect(await w.wait(1).then(() => "timed out")).toBe("timed out");
});

test("aborting rejects the wait with an AbortError", async () => {
  const w = new Wakeup();
  const stop = new AbortController();
  const waiting = w.wait(LONG, stop.signal);
  stop.abort();
  await expect(waiting).rejects.toMatchObject({ name: "AbortError" });
  await expect(w.wait(LONG, stop.signal)).rejects.toMatchObject({ name: "AbortError" });
});
