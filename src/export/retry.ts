import { isAbort, Stopped } from "../lib/abort.ts";
import { Backoff } from "../lib/backoff.ts";
import { logger, rateLimited } from "../logger.ts";

const warnOncePerMinute = rateLimited(60_000);

export { Stopped };

/**
 * Runs `fn` until it succeeds: Teleport restarts, network blips and overload must slow the export
 * down, never end it. Throws `Stopped` once `signal` aborts.
 */
export async function untilSuccess<T>(what: string, fn: () => Promise<T>, signal: AbortSignal, backoff = new Backoff()): Promise<T> {
  for (;;) {
    try {
      const result = await fn();
      backoff.reset();
      return result;
    } catch (err) {
      if (isAbort(err, signal)) throw new Stopped();
      warnOncePerMinute(what, () => logger.warn(`${what} failed, retrying: ${err instanceof Error ? err.message : String(err)}`));
      try {
        await backoff.wait(signal);
      } catch {
        throw new Stopped();
      }
    }
  }
}
