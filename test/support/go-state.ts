import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatGoTime } from "../../scripts/fakes/fake-events.ts";

/**
 * Writes the state Teleport's Go event handler keeps on disk, byte for byte as its code writes
 * it (reference go-event-handler-compat.md §B), so the import is tested without Go. A value given
 * as a Buffer is written as is: that is how tests plant crash artefacts (empty, truncated files).
 */

export interface GoMissingRecordingFixture {
  index: number;
  attempt: number;
  /** The session.upload time; the Go zero time when undefined. */
  timestamp?: Date;
}

export interface GoBulkDateFixture {
  /** Written as the Go exporter appends them: one id and "\n" per line. A Buffer is written raw. */
  completed?: string[] | Buffer;
  /** `<chunk>.chunk` files: the raw cursor, no newline. */
  cursors?: Record<string, string>;
}

export interface GoStateFixture {
  startTime?: Date | Buffer;
  windowTime?: Date | Buffer;
  cursor?: string;
  id?: string;
  /** `session<sid>`: an index (8 bytes, big-endian) or raw bytes. */
  sessions?: Record<string, number | Buffer>;
  /** `missing_recording<sid>`: the record, or raw bytes. */
  missing?: Record<string, GoMissingRecordingFixture | Buffer>;
  /** `cursor_v2/<YYYY-MM-DD>/`: an empty object is an empty date directory. */
  bulk?: Record<string, GoBulkDateFixture>;
  /** A `--dry-run` leftover: a whole state tree in `dry_run/<32 random chars>/`. */
  dryRun?: GoStateFixture;
}

/** `t.Truncate(time.Second).Format(time.RFC3339)` of a UTC time: `2024-05-01T00:00:00Z`. */
export function goRfc3339(t: Date): string {
  return new Date(Math.floor(t.getTime() / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

/** `binary.BigEndian.PutUint64(b, uint64(index))`. */
export function goSessionIndex(index: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(index));
  return b;
}

/** `json.Marshal(missingRecording{Index, Attempt, Timestamp})`: Go field names, RFC 3339 with nanoseconds trimmed. */
export function goMissingRecording(r: GoMissingRecordingFixture): string {
  const ms = r.timestamp?.getTime();
  const timestamp = ms === undefined ? "0001-01-01T00:00:00Z" : formatGoTime({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });
  return `{"Index":${r.index},"Attempt":${r.attempt},"Timestamp":"${timestamp}"}`;
}

const timeBytes = (t: Date | Buffer) => (Buffer.isBuffer(t) ? t : goRfc3339(t));

function writeTree(dir: string, f: GoStateFixture): void {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const key = (name: string, value: string | Buffer) => writeFileSync(join(dir, name), value, { mode: 0o644 });
  if (f.startTime !== undefined) key("start_time", timeBytes(f.startTime));
  if (f.windowTime !== undefined) key("window_time", timeBytes(f.windowTime));
  if (f.cursor !== undefined) key("cursor", f.cursor);
  if (f.id !== undefined) key("id", f.id);
  for (const [sid, v] of Object.entries(f.sessions ?? {})) key(`session${sid}`, typeof v === "number" ? goSessionIndex(v) : v);
  for (const [sid, v] of Object.entries(f.missing ?? {})) key(`missing_recording${sid}`, Buffer.isBuffer(v) ? v : goMissingRecording(v));
  for (const [date, d] of Object.entries(f.bulk ?? {})) {
    const dateDir = join(dir, "cursor_v2", date);
    mkdirSync(dateDir, { recursive: true, mode: 0o750 });
    if (d.completed !== undefined) {
      const body = Buffer.isBuffer(d.completed) ? d.completed : d.completed.map((c) => `${c}\n`).join("");
      writeFileSync(join(dateDir, "completed-chunks"), body, { mode: 0o644 });
    }
    for (const [chunk, cursor] of Object.entries(d.cursors ?? {})) writeFileSync(join(dateDir, `${chunk}.chunk`), cursor, { mode: 0o644 });
  }
  if (f.dryRun) writeTree(join(dir, "dry_run", "Q7x-0aZ9kLmN3pR5tV8wY1bC4dE6fG2h"), f.dryRun);
}

/** Writes `fixture` where the Go tool keeps it for `teleportAddr` (`host_port`, IPv6 brackets removed); returns that directory. */
export function writeGoState(storage: string, teleportAddr: string, fixture: GoStateFixture): string {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(teleportAddr);
  if (!m) throw new Error(`not host:port: ${teleportAddr}`);
  const dir = join(storage, `${m[1]}_${m[2]}`);
  writeTree(dir, fixture);
  return dir;
}
