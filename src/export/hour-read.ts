import type { IngestConfig } from "../config/options.ts";
import { type Engine, HOUR_MS, hourOf } from "../state/index.ts";
import type { AuditEvent, TeleportSource } from "../teleport/types.ts";
import { dateStart, utcDate } from "./dates.ts";
import { auditFilter } from "./filters.ts";
import { readRange } from "./range-read.ts";
import { untilSuccess } from "./retry.ts";

/** The chunk ids of one UTC date, listed whole (retried until the listing succeeds). */
export function listChunks(source: TeleportSource, date: string, signal: AbortSignal): Promise<string[]> {
  return untilSuccess(
    `listing event chunks of ${date}`,
    async () => {
      const ids: string[] = [];
      for await (const id of source.eventExportChunks(dateStart(date), signal)) ids.push(id);
      return ids;
    },
    signal,
  );
}

/** Every event of one UTC date through the bulk export API, chunk by chunk, each chunk resumed at its cursor after a failure. */
async function* exportDate(source: TeleportSource, date: string, signal: AbortSignal): AsyncGenerator<AuditEvent[]> {
  for (const chunk of await listChunks(source, date, signal)) {
    let cursor = "";
    const events: AuditEvent[] = [];
    await untilSuccess(
      `exporting chunk ${chunk} of ${date}`,
      async (progressed) => {
        for await (const item of source.exportEvents({ date: dateStart(date), chunk, cursor }, signal)) {
          cursor = item.cursor;
          progressed();
          events.push(item.event);
        }
      },
      signal,
    );
    yield events;
  }
}

export interface HourEvents {
  hour: number;
  /** The events Teleport holds in the hour under the filters, each id once. */
  events: AuditEvent[];
}

/**
 * Reads the given UTC hours (hours since the epoch, ascending) back from Teleport with the API the
 * export used and its filters, for `verify` and its repairs: the legacy engine searches hour by
 * hour; the bulk export API has no time range below a date, so each date is exported whole once
 * and split into hours (bulk chunks are what the engine delivered from, so a chunk sealed late
 * shows up here as it would to the engine).
 */
export async function* readHours(
  source: TeleportSource,
  engine: Engine,
  ingest: Pick<IngestConfig, "types" | "skipEventTypes" | "batch">,
  hours: readonly number[],
  signal: AbortSignal,
): AsyncGenerator<HourEvents> {
  const keep = auditFilter(ingest);
  if (engine !== "bulk") {
    for (const hour of hours) {
      const seen = new Set<string>();
      const events: AuditEvent[] = [];
      const range = { from: new Date(hour * HOUR_MS), to: new Date((hour + 1) * HOUR_MS), types: ingest.types, limit: ingest.batch };
      for await (const page of readRange(source, range, signal)) {
        for (const e of page) if (keep(e) && !seen.has(e.id) && seen.add(e.id)) events.push(e);
      }
      yield { hour, events };
    }
    return;
  }
  const byDate = new Map<string, number[]>();
  for (const hour of hours) {
    const date = utcDate(new Date(hour * HOUR_MS));
    const list = byDate.get(date);
    if (list) list.push(hour);
    else byDate.set(date, [hour]);
  }
  for (const [date, wanted] of byDate) {
    const buckets = new Map<number, AuditEvent[]>(wanted.map((h) => [h, []]));
    const seen = new Set<string>();
    for await (const chunk of exportDate(source, date, signal)) {
      for (const e of chunk) {
        const bucket = buckets.get(hourOf(e.time));
        if (bucket && keep(e) && !seen.has(e.id) && seen.add(e.id)) bucket.push(e);
      }
    }
    for (const hour of wanted) yield { hour, events: buckets.get(hour)! };
  }
}
