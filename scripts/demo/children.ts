import type { Subprocess } from "bun";

/**
 * Every process the demo starts, so it can stop all of them, on success, failure or Ctrl-C.
 * Each child runs in its own process group (setsid): a terminal's Ctrl-C reaches only the demo,
 * which then stops the children in order (handler first, so it can save its progress), and a
 * whole group is signalled so nothing a child started survives it.
 */
export interface Child {
  name: string;
  proc: Subprocess<"pipe" | "ignore", "pipe", "pipe">;
  /** Everything the child wrote to stderr so far (shown when it fails). */
  stderr(): string;
}

const GRACE_MS = 5_000;

export class Children {
  private readonly running: Child[] = [];

  spawn(name: string, cmd: string[], opts: { stdin?: "pipe" | "ignore"; env?: Record<string, string>; onStderrLine?: (line: string) => void } = {}): Child {
    const proc = Bun.spawn(cmd, { stdin: opts.stdin ?? "ignore", stdout: "pipe", stderr: "pipe", detached: true, env: opts.env });
    let text = "";
    void (async () => {
      const decoder = new TextDecoder();
      let partial = "";
      for await (const chunk of proc.stderr) {
        const s = decoder.decode(chunk, { stream: true });
        text += s;
        if (!opts.onStderrLine) continue;
        partial += s;
        const lines = partial.split("\n");
        partial = lines.pop()!;
        for (const line of lines) opts.onStderrLine(line);
      }
      if (partial && opts.onStderrLine) opts.onStderrLine(partial);
    })();
    const child: Child = { name, proc: proc as Child["proc"], stderr: () => text };
    this.running.push(child);
    void proc.exited.then(() => this.forget(child));
    return child;
  }

  /** Names of the children still running. */
  names(): string[] {
    return this.running.map((c) => c.name);
  }

  /** Stops one child: SIGTERM to its group, SIGKILL after a grace period. Resolves once it is gone. */
  async stop(child: Child): Promise<void> {
    signalGroup(child, "SIGTERM");
    const killed = setTimeout(() => signalGroup(child, "SIGKILL"), GRACE_MS);
    await child.proc.exited;
    clearTimeout(killed);
    // The leader is gone; anything it left in its group goes with it.
    signalGroup(child, "SIGKILL");
    this.forget(child);
  }

  /** Stops every child, the most recently started first (the handler before its servers). */
  async stopAll(): Promise<string[]> {
    const stopped: string[] = [];
    for (const child of [...this.running].reverse()) {
      await this.stop(child);
      stopped.push(child.name);
    }
    return stopped;
  }

  private forget(child: Child): void {
    const i = this.running.indexOf(child);
    if (i >= 0) this.running.splice(i, 1);
  }
}

function signalGroup(child: Child, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.proc.pid, signal);
  } catch {
    // ESRCH: the group is already empty.
  }
}

/** Resolves with the first line a child prints on stdout (the fakes announce their port this way). */
export async function firstLine(child: Child, timeoutMs = 30_000): Promise<string> {
  const reader = child.proc.stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const timer = setTimeout(() => void reader.cancel(), timeoutMs);
  try {
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
  const line = text.split("\n")[0]!;
  if (!line) {
    await Promise.race([child.proc.exited, Bun.sleep(1000)]);
    throw new Error(`${child.name} did not start:\n${child.stderr().trim()}`);
  }
  return line;
}
