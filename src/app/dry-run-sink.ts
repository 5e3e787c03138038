import type { DeliveryReport, FluentdSink, SinkRecord } from "../fluentd/types.ts";
import { redactUrl } from "../lib/redact.ts";
import { logger } from "../logger.ts";

/**
 * Stands in for Fluentd in dry-run: acknowledges everything and logs, at debug, what would have
 * been sent. Ids and sizes only: bodies can hold terminal output and secrets.
 */
export class DryRunSink implements FluentdSink {
  async deliver(url: string, records: SinkRecord[]): Promise<DeliveryReport> {
    let bytes = 0;
    const where = redactUrl(url);
    for (const r of records) {
      bytes += r.body.length;
      logger.debug(`dry run: would send event ${r.id} (${r.body.length} bytes) to ${where}`);
    }
    return { delivered: records.length, deadLettered: [], requests: 0, bytes, retried: 0 };
  }

  async close(): Promise<void> {}
}
