import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { runHandler, startWorld, untilAuditRecords, type Handler, type World } from "../support/world.ts";

/**
 * The compiled handler replaces itself once at start to run with its JavaScriptCore options (no FTL
 * tier, a heap sized for 128 MiB: src/lib/runtime-options.ts). Users and service managers must see
 * one process: the pid they started, with their arguments, running the export.
 */
let world: World | undefined;
let running: Handler | undefined;
afterEach(async () => {
  running?.kill("SIGKILL");
  running = undefined;
  await world?.stop();
});

const environ = (pid: number) => readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);

describe("runtime tuning", () => {
  test("the started process itself runs the export with the runtime options, with the arguments it was given", async () => {
    world = await startWorld({ teleport: { events: 200, days: 1, sessions: 0 } });
    const args = world.startArgs();
    running = await runHandler(args);
    await untilAuditRecords(world, 200);
    expect(running.proc.exitCode).toBeNull();
    expect(environ(running.proc.pid)).toContain("BUN_JSC_useFTLJIT=false");
    expect(environ(running.proc.pid)).toContain(`BUN_JSC_forceRAMSize=${128 * 1024 * 1024}`);
    expect(cmdline(running.proc.pid).slice(1)).toEqual(args);
  });

  test("an operator's own setting of an option is kept, the other is still set", async () => {
    world = await startWorld({ teleport: { events: 50, days: 1, sessions: 0 } });
    running = await runHandler(world.startArgs(), { BUN_JSC_useFTLJIT: "true" });
    await untilAuditRecords(world, 50);
    expect(environ(running.proc.pid)).toContain("BUN_JSC_useFTLJIT=true");
    expect(environ(running.proc.pid)).not.toContain("BUN_JSC_useFTLJIT=false");
    expect(environ(running.proc.pid)).toContain(`BUN_JSC_forceRAMSize=${128 * 1024 * 1024}`);
  });
});
