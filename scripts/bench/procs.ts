import { type Subprocess } from "bun";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dir, "../..");
export const BUN = join(ROOT, "node_modules/.bin/bun");

/** A helper process (fake Teleport, receiver) that announced itself with one JSON line on stdout. */
export interface Helper<T> {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  info: T;
  /** Stops it with SIGTERM and returns what it wrote on stderr. */
  stop(): Promise<string>;
}

export async function startHelper<T>(args: string[]): Promise<Helper<T>> {
  const proc = Bun.spawn([BUN, ...args], { cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const stderr = new Response(proc.stderr).text();
  const reader = proc.stdout.getReader();
  let buffered = "";
  while (!buffered.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${args.join(" ")} exited before announcing itself: ${await stderr}`);
    buffered += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const info = JSON.parse(buffered.split("\n")[0]!) as T;
  return {
    proc,
    info,
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
      return stderr;
    },
  };
}

const CLOCK_TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) a live process has used so far, from /proc; undefined elsewhere. */
export function cpuSecondsOf(pid: number): number | undefined {
  const file = `/proc/${pid}/stat`;
  if (!existsSync(file)) return undefined;
  // Fields after the parenthesised command name; utime and stime are the 14th and 15th overall.
  const fields = readFileSync(file, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}
