import { createConsola, type ConsolaInstance, type LogObject } from "consola";

/**
 * The one logger. Human-readable on stderr by default; `json` writes one object per line for
 * log pipelines. Everything goes to stderr so stdout stays free for command output (status --json).
 */
export type LogFormat = "text" | "json";

/**
 * Figures a JSON log line carries as fields (`events_delivered`, `lag_seconds`…); the text form
 * leaves them out because its message already says the same in words.
 */
export class LogFields {
  constructor(readonly fields: Record<string, unknown>) {}
}

export function logFields(fields: Record<string, unknown>): LogFields {
  return new LogFields(fields);
}

/** Renders extra log arguments as ` key=value` pairs (objects) or ` value` (anything else). */
function renderExtras(extras: unknown[]): string {
  return extras
    .map((extra) => {
      if (extra instanceof LogFields) return "";
      if (extra instanceof Error) return ` error=${JSON.stringify(extra.message)}`;
      if (extra && typeof extra === "object") {
        return Object.entries(extra)
          .map(([k, v]) => ` ${k}=${typeof v === "string" && !/\s|"/.test(v) ? v : JSON.stringify(v)}`)
          .join("");
      }
      return extra === undefined ? "" : ` ${String(extra)}`;
    })
    .join("");
}

/** True while a live status line (terminal only) sits on stderr without a newline. */
let statusLineDrawn = false;
const CLEAR_LINE = "\r\x1b[2K";

/**
 * Draws (or, with undefined, clears) the one live status line. Log entries clear it before they
 * are written, so a warning never lands in the middle of the progress text.
 */
export function drawStatusLine(text: string | undefined): void {
  if (text !== undefined) {
    process.stderr.write(`${CLEAR_LINE}${text}`);
    statusLineDrawn = true;
  } else if (statusLineDrawn) {
    process.stderr.write(CLEAR_LINE);
    statusLineDrawn = false;
  }
}

function writeEntry(line: string): void {
  process.stderr.write(statusLineDrawn ? `${CLEAR_LINE}${line}` : line);
  statusLineDrawn = false;
}

/**
 * One line per entry, no colours or blank lines, so journald, `docker logs` and grep read it well:
 * `2025-01-31T10:00:00.000Z INFO  Using batch size: 20`.
 */
function textReporter() {
  return {
    log(obj: LogObject) {
      const [msg, ...rest] = obj.args;
      const text = msg instanceof Error ? msg.message : String(msg);
      const level = obj.type.toUpperCase().padEnd(5);
      writeEntry(`${obj.date.toISOString()} ${level} ${text}${renderExtras(rest)}\n`);
    },
  };
}

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
        if (extra instanceof LogFields) Object.assign(line, extra.fields);
        else if (extra && typeof extra === "object" && !(extra instanceof Error)) Object.assign(line, extra);
        else if (extra !== undefined) line.detail = String(extra);
      }
      writeEntry(JSON.stringify(line) + "\n");
    },
  };
}

export const logger: ConsolaInstance = createConsola({
  level: 3,
  stdout: process.stderr,
  stderr: process.stderr,
  reporters: [textReporter()],
});

export function configureLogger(opts: { debug: boolean; format: LogFormat }): void {
  logger.level = opts.debug ? 4 : 3;
  logger.setReporters([opts.format === "json" ? jsonReporter() : textReporter()]);
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
