import { abortable, isAbort, Stopped } from "../lib/abort.ts";
import { Backoff } from "../lib/backoff.ts";
import { logger, rateLimited } from "../logger.ts";
import { formatDuration } from "../lib/duration.ts";

const warnOncePerMinute = rateLimited(60_000);

export { Stopped };

/**
 * Runs `fn` until it succeeds: Teleport restarts, network blips and overload must slow the export
 * down, never end it (exit-timeout ends a cron run from above). Throws `Stopped` as soon as
 * `signal` aborts, even while `fn` is still waiting (a blackholed connect).
 *
 * A resumable `fn` (a stream that goes on from its cursor) calls `progressed` when it got further:
 * its next failure waits the first delay again, so a stream cut now and then is not slowed down
 * more after each cut while every attempt gets further.
 */
export async function untilSuccess<T>(what: string, fn: (progressed: () => void) => Promise<T>, signal: AbortSignal, backoff = new Backoff()): Promise<T> {
  let failingSince: number | undefined;
  const progressed = () => backoff.reset();
  for (;;) {
    try {
      const result = await abortable(fn(progressed), signal);
      if (failingSince !== undefined) logger.info(`${what} recovered after ${formatDuration(Date.now() - failingSince)}`);
      backoff.reset();
      return result;
    } catch (err) {
      if (isAbort(err, signal)) throw new Stopped();
      failingSince ??= Date.now();
      const since = failingSince;
      const cause = err instanceof Error ? err.message : String(err);
      warnOncePerMinute(what, () => {
        const failingFor = Date.now() - since;
        logger.warn(failingFor < 1000 ? `${what} failed, retrying: ${cause}` : `${what} failing for ${formatDuration(failingFor)}, still retrying: ${cause}`);
      });
      try {
        await backoff.wait(signal);
      } catch {
        throw new Stopped();
      }
    }
  }
}
