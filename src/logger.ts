import { createConsola, type ConsolaInstance, type LogObject } from "consola";

/**
 * The one logger. Human-readable on stderr by default; `json` writes one object per line for
 * log pipelines. Everything goes to stderr so stdout stays free for command output (status --json).
 */
export type LogFormat = "text" | "json";

function jsonReporter() {
  return {
    log(obj: LogObject) {
      const [msg, ...rest] = obj.args;
      const line: Record<string, unknown> = {
        time: obj.date.toISOString(),
        level: obj.type,
        msg: msg instanceof Error ? msg.message : String(msg),
      };
      for (const extra of rest) {
        if (extra && typeof extra === "object" && !(extra instanceof Error)) Object.assign(line, extra);
        else if (extra !== undefined) line.detail = String(extra);
      }
      process.stderr.write(JSON.stringify(line) + "\n");
    },
  };
}

export const logger: ConsolaInstance = createConsola({ level: 3, stdout: process.stderr, stderr: process.stderr });

export function configureLogger(opts: { debug: boolean; format: LogFormat }): void {
  logger.level = opts.debug ? 4 : 3;
  if (opts.format === "json") logger.setReporters([jsonReporter()]);
}

/** Logs a message at most once per `intervalMs` for a given key; for warnings inside retry loops. */
export function rateLimited(intervalMs: number): (key: string, fn: () => void) => void {
  const last = new Map<string, number>();
  return (key, fn) => {
    const now = Date.now();
    if ((last.get(key) ?? -Infinity) + intervalMs <= now) {
      last.set(key, now);
      fn();
    }
  };
}
