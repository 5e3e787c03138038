import { logger } from "../logger.ts";
import { describeGoState, type GoImportOutcome } from "../state/go-import/index.ts";

/** Logs what an import took over: each damaged Go file on its own line, then one summary line. */
export function reportImport(outcome: GoImportOutcome): void {
  const go = outcome.imported;
  if (go) {
    for (const warning of go.warnings) logger.warn(warning);
    logger.info(`imported the Go tool's state from ${go.dir} into ${outcome.path}: ${describeGoState(go)}; the Go files are left unchanged`);
  }
  for (const dir of outcome.elsewhere) {
    logger.warn(`${dir} holds the Go tool's state for another teleport-addr and is not imported (the Go tool names its state after the address)`);
  }
}
