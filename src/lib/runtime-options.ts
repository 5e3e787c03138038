/**
 * The compiled handler runs with two JavaScriptCore options of its own. JSC reads its options once,
 * when the process starts, so the binary replaces itself (execve: same process id, arguments and
 * environment, so service managers and signals see no difference) with them set. An operator's own
 * value of either is left as it is; with both set there is no restart.
 *
 * - No top JIT tier (FTL). The handler's work is many small asynchronous steps per event, not long
 *   hot loops, and FTL's compiler costs memory and CPU of its own. Measured side by side with
 *   `make bench` (both orders): peak RSS 8-13 MB lower in every scenario, CPU per event 5-10% lower
 *   in (b) and (f), 8% higher in (a) (one request per event, fetch-bound).
 * - The heap sized as if the machine had 128 MiB of RAM. JSC grows its heap between collections in
 *   proportion to the machine's RAM (on a 24 GiB host it doubles a small heap each cycle), so the
 *   peak RSS depended on the host, not on what the handler holds (~20 MB of live heap in the
 *   benchmark). One `make bench --unsized` run on a 24 GiB host: (a) 161 -> 114 MB, (b) 142 -> 113,
 *   (b′) 144 -> 117, (c) 143 -> 113, (f) 138 -> 111, events/s within noise (BENCHMARKS.md, round
 *   6); 100 MB cost ~15% of (b)'s throughput in more collections.
 *
 * Only `start` does it, first thing: the other commands are short, and the restart costs ~50 ms
 * (`version` must start within 100 ms).
 */
export const RUNTIME_OPTIONS: Readonly<Record<string, string>> = {
  BUN_JSC_useFTLJIT: "false",
  BUN_JSC_forceRAMSize: String(128 * 1024 * 1024),
};

/** Only the standalone executable: `bun src/main.ts` (development, tests of the source) runs as Bun runs. */
const compiled = Bun.main.startsWith("/$bunfs/");

export function restartWithRuntimeOptions(): void {
  const missing = Object.entries(RUNTIME_OPTIONS).filter(([name]) => process.env[name] === undefined);
  if (!compiled || missing.length === 0 || typeof process.execve !== "function" || process.platform === "win32") return;
  try {
    // argv[0] as it was typed, so `ps` shows the same command line.
    process.execve(process.execPath, [process.argv0, ...process.argv.slice(2)], { ...process.env, ...Object.fromEntries(missing) });
  } catch {
    // Not possible here (a sandbox refusing exec): the handler runs as it is, only a little heavier.
  }
}
