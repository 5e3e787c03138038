import type { AuditEvent, ClusterInfo, ExportedEvent, SearchPage, SearchQuery, TeleportSource } from "../../src/teleport/types.ts";
import { TeleportError } from "../../src/teleport/types.ts";

/**
 * A stop-gap, in-memory Teleport for testing the export jobs' logic without gRPC. Keys and cursors
 * are opaque strings like the real ones; `failEvery` makes every Nth call fail transiently.
 */
export class MemoryTeleport implements TeleportSource {
  events: AuditEvent[] = [];
  recordings = new Map<string, AuditEvent[]>();
  bulk = true;
  chunkSize = 7;
  failEvery = 0;
  calls = 0;

  constructor(readonly clusterName = "memory.example.com") {}

  add(...events: AuditEvent[]): void {
    this.events.push(...events);
    this.events.sort((a, b) => a.time.getTime() - b.time.getTime());
  }

  private maybeFail(): void {
    this.calls++;
    if (this.failEvery > 0 && this.calls % this.failEvery === 0) throw new TeleportError("transient", "UNAVAILABLE (injected)", 14);
  }

  async ping(): Promise<ClusterInfo> {
    return { clusterName: this.clusterName, serverVersion: "18.0.0" };
  }

  async searchEvents(q: SearchQuery): Promise<SearchPage> {
    this.maybeFail();
    const matching = this.events.filter(
      (e) => e.time >= q.from && e.time < q.to && (q.types.length === 0 || q.types.includes(e.type)),
    );
    const start = q.startKey ? matching.findIndex((e) => e.id === q.startKey) + 1 : 0;
    const page = matching.slice(start, start + q.limit);
    return { events: page, nextKey: page.length === q.limit ? page.at(-1)!.id : "" };
  }

  private chunksOf(date: Date): AuditEvent[][] {
    const day = date.toISOString().slice(0, 10);
    const ofDay = this.events.filter((e) => e.time.toISOString().startsWith(day));
    const chunks: AuditEvent[][] = [];
    for (let i = 0; i < ofDay.length; i += this.chunkSize) chunks.push(ofDay.slice(i, i + this.chunkSize));
    return chunks;
  }

  async *eventExportChunks(date: Date): AsyncIterable<string> {
    if (!this.bulk) throw new TeleportError("unimplemented", "unknown method GetEventExportChunks", 12);
    this.maybeFail();
    const day = date.toISOString().slice(0, 10);
    for (let i = 0; i < this.chunksOf(date).length; i++) yield `${day}/${i}`;
  }

  async *exportEvents(q: { date: Date; chunk: string; cursor: string }): AsyncIterable<ExportedEvent> {
    this.maybeFail();
    const chunk = this.chunksOf(q.date)[Number(q.chunk.split("/")[1])] ?? [];
    for (let i = q.cursor ? Number(q.cursor) + 1 : 0; i < chunk.length; i++) yield { event: chunk[i]!, cursor: String(i) };
  }

  async *sessionEvents(sessionId: string, startIndex: number): AsyncIterable<AuditEvent> {
    this.maybeFail();
    const recording = this.recordings.get(sessionId);
    if (!recording) throw new TeleportError("not-found", `session ${sessionId} not found`, 5);
    for (const e of recording) if (e.index >= startIndex) yield e;
  }

  async upsertLock(): Promise<void> {}
  async close(): Promise<void> {}
}

/** Records every search the engine asks for, in call order. */
export class CountingTeleport extends MemoryTeleport {
  readonly queries: SearchQuery[] = [];
  override searchEvents(q: SearchQuery) {
    this.queries.push(q);
    return super.searchEvents(q);
  }
}

let counter = 0;

export function auditEvent(type: string, time: Date, extra: Record<string, string | number> = {}): AuditEvent {
  const id = `ev-${++counter}`;
  return { id, type, time, index: 0, json: { uid: id, event: type, time: time.toISOString(), ...extra } };
}

export function recording(sid: string, types: string[]): AuditEvent[] {
  return types.map((type, index) => ({
    id: `${sid}-${index}`,
    type,
    time: new Date(Date.UTC(2024, 0, 1, 0, 0, index)),
    index,
    json: { event: type, sid, ei: index },
  }));
}
