/**
 * The compiled handler runs without JavaScriptCore's top JIT tier (FTL). Its work is many small
 * asynchronous steps per event, not long hot loops, and FTL's compiler costs memory and CPU of its
 * own. Measured side by side with `make bench` (both orders): peak RSS 8-13 MB lower in every
 * scenario ((a) 131 -> 127, (b) 126 -> 116, (f) 128 -> 120, (f′) 129 -> 117 MB), CPU per event
 * 5-10% lower in (b) and (f), but 8% higher in (a) (one request per event, fetch-bound). JSC reads
 * its options once, when the process starts, so the binary replaces itself (execve: same process
 * id, arguments and environment, so service managers and signals see no difference) with the
 * option set. An operator's own BUN_JSC_useFTLJIT is left as it is.
 *
 * Only `start` does it, first thing: the other commands are short, and the restart costs ~50 ms
 * (`version` must start within 100 ms).
 */
const OPTION = "BUN_JSC_useFTLJIT";

/** Only the standalone executable: `bun src/main.ts` (development, tests of the source) runs as Bun runs. */
const compiled = Bun.main.startsWith("/$bunfs/");

export function restartWithoutFtl(): void {
  if (!compiled || process.env[OPTION] !== undefined || typeof process.execve !== "function" || process.platform === "win32") return;
  try {
    // argv[0] as it was typed, so `ps` shows the same command line.
    process.execve(process.execPath, [process.argv0, ...process.argv.slice(2)], { ...process.env, [OPTION]: "false" });
  } catch {
    // Not possible here (a sandbox refusing exec): the handler runs as it is, only a little heavier.
  }
}
