import { expect } from "bun:test";
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

/**
 * Holds a run to the contract for mistakes the user can fix (src/errors.ts UserError): exit 2 and
 * one ERROR line, the last thing written, without a stack or the "--debug" hint that runtime
 * failures carry. Returns the message without its timestamp.
 */
export function expectUserError(result: { code: number | null; stderr: string }, message?: string | RegExp): string {
  expect(result.code).toBe(2);
  const lines = result.stderr.trimEnd().split("\n");
  const errors = lines.filter((l) => / ERROR /.test(l));
  expect(errors).toHaveLength(1);
  expect(lines.at(-1)).toBe(errors[0]!);
  expect(result.stderr).not.toContain("--debug");
  expect(result.stderr).not.toContain("    at ");
  const text = errors[0]!.replace(/^\S+ ERROR /, "");
  if (typeof message === "string") expect(text).toBe(message);
  else if (message) expect(text).toMatch(message);
  return text;
}
