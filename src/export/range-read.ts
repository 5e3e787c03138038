import type { AuditEvent, TeleportSource } from "../teleport/types.ts";
import { untilSuccess } from "./retry.ts";

/**
 * Every event Teleport's search returns for [from, to), page by page, each page retried until it
 * is read. Late-event sweeps and `verify` read a stretch of the log whole, the same way.
 */
export async function* readRange(
  source: TeleportSource,
  range: { from: Date; to: Date; types: readonly string[]; limit: number },
  signal: AbortSignal,
): AsyncGenerator<AuditEvent[]> {
  let startKey = "";
  do {
    const query = { from: range.from, to: range.to, types: [...range.types], limit: range.limit, startKey };
    const page = await untilSuccess("reading the audit log", () => source.searchEvents(query, signal), signal);
    yield page.events;
    startKey = page.nextKey;
  } while (startKey);
}
