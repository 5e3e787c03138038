// Runs an external tool and fails loudly with its stderr, so a broken release step never goes unnoticed.

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
}

export async function run(cmd: string[], options: RunOptions = {}): Promise<string> {
  const proc = Bun.spawn(cmd, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code !== 0) {
    throw new Error(`${cmd[0]} exited with ${code}: ${stderr.trim() || stdout.trim()}`);
  }
  return stdout;
}

/** Runs `jobs` with at most `limit` in flight: compression is CPU-bound and CI has 2 cores. */
export async function inParallel<T>(items: readonly T[], limit: number, job: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const workers = Array.from({ length: Math.max(1, Math.min(limit, queue.length)) }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await job(item);
  });
  await Promise.all(workers);
}
