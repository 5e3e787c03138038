import type { LogObject } from "consola";
import { logger } from "../../src/logger.ts";

/**
 * Runs `fn` with every log record (debug included) collected instead of printed, and returns what
 * it returned or threw. `fn` sees the records as they come. The logger is the process's, and other
 * test files set its level and reporters too: both are put back afterwards.
 */
export async function capturingLogs<T>(fn: (logs: LogObject[]) => Promise<T>): Promise<{ result: T | Error; logs: LogObject[] }> {
  const logs: LogObject[] = [];
  const saved = logger.options.reporters;
  const level = logger.level;
  logger.setReporters([{ log: (o: LogObject) => void logs.push(o) }]);
  logger.level = 4;
  try {
    return { result: await fn(logs).catch((e: Error) => e), logs };
  } finally {
    logger.setReporters(saved);
    logger.level = level;
  }
}
