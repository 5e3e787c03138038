/**
 * Runs the `configure` citty command as its own process, for tests, until `src/main.ts` exists on
 * every branch. Prints a user error as one line, as the real CLI does.
 */
import { runCommand } from "citty";
import configure from "../../src/cli/commands/configure.ts";
import { ConfigureError } from "../../src/configure/index.ts";

try {
  await runCommand(configure, { rawArgs: process.argv.slice(2) });
} catch (err) {
  process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(err instanceof ConfigureError ? err.exitCode : 1);
}
