/** Runs the openssl CLI, as an independent check of what our code or a Makefile produced. */
export function openssl(...args: string[]): { code: number; output: string } {
  const proc = Bun.spawnSync(["openssl", ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: proc.exitCode, output: proc.stdout.toString() + proc.stderr.toString() };
}
