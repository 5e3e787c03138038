import { join } from "node:path";

export const REPO_ROOT = join(import.meta.dir, "..", "..");
export const MAIN = join(REPO_ROOT, "src", "main.ts");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI as a user would, with a clean environment (no FDFWD_* leaking in from the host).
 * `command` defaults to `bun src/main.ts`; pass a compiled binary's path to test that instead.
 */
export function runCli(
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string; command?: string[] } = {},
): CliResult {
  const command = opts.command ?? [process.execPath, MAIN];
  const proc = Bun.spawnSync({
    cmd: [...command, ...args],
    cwd: opts.cwd ?? REPO_ROOT,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", ...opts.env },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: proc.exitCode ?? -1, stdout: proc.stdout.toString(), stderr: proc.stderr.toString() };
}
