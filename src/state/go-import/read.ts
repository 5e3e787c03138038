import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../../errors.ts";
import type { ChunkProgress, LegacyCheckpoint } from "../checkpoint-tables.ts";

/**
 * Reads the state Teleport's Go event handler left in `<storage>/<host>_<port>/` (diskv key
 * files and `cursor_v2/`), without changing anything there: a user may roll back to the Go binary.
 * The Go tool writes its keys with O_TRUNC and no fsync, so a crash can leave a key empty or
 * truncated; every such file is reported by name, and the value chosen instead is the one that
 * re-sends rather than skips.
 */

export interface GoSession {
  sid: string;
  /** Index of the last recording event the Go tool handled: streaming resumes there (inclusive). */
  index: number;
}

export interface GoMissingRecording extends GoSession {
  attempts: number;
  /** The session.upload time; undefined when the Go tool did not know it (zero time). */
  uploadTime?: Date;
}

export interface GoState {
  dir: string;
  startTime?: Date;
  /** The legacy engine's position; undefined when bulk state exists (the Go tool ignores it then) or none was saved. */
  legacy?: LegacyCheckpoint;
  /** Legacy keys present next to bulk state: stale, ignored as the Go tool ignores them. */
  staleLegacy: boolean;
  /** UTC dates (YYYY-MM-DD) the bulk engine tracked; an empty date still counts as progress. */
  bulkDates: string[];
  bulkChunks: ChunkProgress[];
  sessions: GoSession[];
  missing: GoMissingRecording[];
  /** One line per crash artefact or unreadable file: the file and what was done about it. */
  warnings: string[];
}

const DATE_DIR = /^\d{4}-\d{2}-\d{2}$/;
/** Teleport session ids are UUIDs; anything else was not written by the Go tool and is not put in a URL. */
const SESSION_ID = /^[A-Za-z0-9._-]{1,128}$/;
/** Ids, keys and cursors are opaque server strings; bounded so a damaged file cannot balloon the state. */
const MAX_OPAQUE = 64 * 1024;
/** completed-chunks holds one short id per line for one day's chunks. */
const MAX_COMPLETED = 16 * 1024 * 1024;
const SESSION_PREFIX = "session";
const MISSING_PREFIX = "missing_recording";
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** The directory the Go tool keys its state by: `host_port` of teleport-addr, brackets of IPv6 removed. */
export function goStateDir(storage: string, addr: { host: string; port: number }): string {
  return join(storage, `${addr.host}_${addr.port}`.trim());
}

/**
 * One key file; `problem` says why its bytes cannot be used (unreadable, or larger than anything
 * the Go tool writes: such a file is not read at all, so a damaged one cannot exhaust memory).
 */
function readBytes(path: string, max: number): { bytes?: Buffer; problem?: string } {
  try {
    const size = statSync(path).size;
    if (size > max) return { problem: `${path} is ${size} bytes, more than the ${max} a Go key holds` };
    return { bytes: readFileSync(path) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === "ENOENT" ? {} : { problem: `${path} is unreadable (${code ?? String(err)})` };
  }
}

/** The bytes of a key, or undefined (missing, or damaged: then a warning says `fallback` applies, which must re-send, never skip). */
function readKey(path: string, warnings: string[], fallback: string, max = MAX_OPAQUE): Buffer | undefined {
  const { bytes, problem } = readBytes(path, max);
  if (problem) warnings.push(`${problem}: ${fallback}`);
  return bytes;
}

/**
 * start_time / window_time: RFC 3339 without a newline. The Go tool never writes them empty on
 * purpose, so an empty file is a crash artefact too; `problem` names the damaged file.
 */
function readTime(path: string): { time?: Date; problem?: string } {
  const { bytes, problem } = readBytes(path, MAX_OPAQUE);
  if (problem) return { problem };
  if (bytes === undefined) return {};
  if (bytes.length === 0) return { problem: `${path} is empty (written by a crash?)` };
  const text = bytes.toString("latin1");
  const t = RFC3339.test(text) ? new Date(text) : undefined;
  if (t === undefined || Number.isNaN(t.getTime())) {
    return { problem: `${path} holds ${JSON.stringify(text.slice(0, 40))}, not an RFC 3339 time (truncated by a crash?)` };
  }
  return { time: new Date(Math.floor(t.getTime() / 1000) * 1000) };
}

/** An opaque value (page key, event id, chunk list or cursor); undefined when missing or damaged. */
function readText(path: string, warnings: string[], fallback: string, max = MAX_OPAQUE): string | undefined {
  return readKey(path, warnings, fallback, max)?.toString("utf8");
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch (err) {
    throw new ConfigError(
      `cannot read the Go tool's state in ${dir} (${(err as NodeJS.ErrnoException).code ?? String(err)}): fix its permissions, or move it away to start without it`,
    );
  }
}

const isDir = (path: string) => statSync(path, { throwIfNoEntry: false })?.isDirectory() === true;

/** `session<sid>`: 8 bytes, big-endian uint64; the Go tool reads an empty file as 0. */
function readSession(path: string, sid: string, warnings: string[]): GoSession {
  const fallback = "its recording is sent again from the start";
  const bytes = readKey(path, warnings, fallback);
  if (bytes === undefined) return { sid, index: 0 };
  if (bytes.length !== 8) {
    warnings.push(`${path} is ${bytes.length} bytes, not an 8-byte index (${bytes.length === 0 ? "empty" : bytes.length < 8 ? "truncated" : "damaged"} by a crash?): ${fallback}`);
    return { sid, index: 0 };
  }
  const index = bytes.readBigUInt64BE(0);
  if (index > BigInt(Number.MAX_SAFE_INTEGER)) {
    warnings.push(`${path} holds index ${index}, out of range: ${fallback}`);
    return { sid, index: 0 };
  }
  return { sid, index: Number(index) };
}

const GO_ZERO_TIME = "0001-01-01T00:00:00Z";

/** `missing_recording<sid>`: JSON {"Index","Attempt","Timestamp"} as Go's encoding/json writes it. */
function readMissing(path: string, sid: string, warnings: string[]): GoMissingRecording {
  const fallback = "the recording is looked for again from its start, with no attempts counted";
  const bytes = readKey(path, warnings, fallback);
  const safe = { sid, index: 0, attempts: 0 };
  if (bytes === undefined) return safe;
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString("utf8"));
  } catch {
    warnings.push(`${path} is not valid JSON (${bytes.length === 0 ? "empty" : "truncated"} by a crash?): ${fallback}`);
    return safe;
  }
  const r = parsed as { Index?: unknown; Attempt?: unknown; Timestamp?: unknown };
  const whole = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
  const time = typeof r.Timestamp === "string" && RFC3339.test(r.Timestamp) ? new Date(r.Timestamp) : undefined;
  if (!whole(r.Index) || !whole(r.Attempt) || time === undefined) {
    warnings.push(`${path} does not hold Index, Attempt and Timestamp as the Go tool writes them: ${fallback}`);
    return safe;
  }
  return { sid, index: r.Index as number, attempts: r.Attempt as number, uploadTime: r.Timestamp === GO_ZERO_TIME ? undefined : time };
}

/**
 * `cursor_v2/<date>/`: `completed-chunks` (one id per line, fsynced per line) and `<chunk>.chunk`
 * (resume cursor). A chunk with both is resumed from its cursor, as the Go exporter does.
 */
function readBulk(dir: string, warnings: string[]): { dates: string[]; chunks: ChunkProgress[] } {
  const root = join(dir, "cursor_v2");
  if (!isDir(root)) return { dates: [], chunks: [] };
  const dates = listDir(root).filter((d) => DATE_DIR.test(d) && !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && isDir(join(root, d)));
  const chunks: ChunkProgress[] = [];
  for (const date of dates) {
    const byId = new Map<string, ChunkProgress>();
    const completedPath = join(root, date, "completed-chunks");
    const completed = readText(completedPath, warnings, "every chunk of that date is read again", MAX_COMPLETED) ?? "";
    const lines = completed.split("\n");
    const partial = lines.pop()!;
    if (partial.trim() !== "") {
      warnings.push(`${completedPath} ends in an unterminated line ${JSON.stringify(partial.slice(0, 40))} (truncated by a crash?): that chunk is not taken as completed`);
    }
    for (const id of lines.map((l) => l.trim()).filter(Boolean)) byId.set(id, { date, chunk: id, cursor: "", completed: true });
    for (const file of listDir(join(root, date)).filter((f) => f.endsWith(".chunk"))) {
      const chunk = file.slice(0, -".chunk".length);
      const fallback = "its cursor is ignored (the chunk is read from its start unless completed-chunks lists it)";
      const cursor = (readText(join(root, date, file), warnings, fallback) ?? "").trim();
      // An empty cursor file is ignored by the Go tool too.
      if (cursor !== "") byId.set(chunk, { date, chunk, cursor, completed: false });
    }
    chunks.push(...byId.values());
  }
  return { dates, chunks };
}

/**
 * The Go state in `dir`, or undefined when there is none. Reads only: `profiles/`, `dry_run/`
 * and every other sub-directory but `cursor_v2/` are skipped (a dry run's throw-away state is
 * not progress), and so are files that are not Go keys.
 */
export function readGoState(dir: string): GoState | undefined {
  if (!isDir(dir)) return undefined;
  const warnings: string[] = [];
  const entries = listDir(dir);
  const files = entries.filter((f) => !isDir(join(dir, f)));
  const bulk = readBulk(dir, warnings);
  const key = (name: string) => join(dir, name);

  const start = readTime(key("start_time"));
  const window = readTime(key("window_time"));
  const legacyKeys = ["cursor", "id", "window_time"].filter((k) => files.includes(k));
  let legacy: LegacyCheckpoint | undefined;
  if (legacyKeys.length > 0 && bulk.dates.length === 0) {
    const pageKey = readText(key("cursor"), warnings, "the window is read again from its first page") ?? "";
    const lastEventId = (readText(key("id"), warnings, "the page is sent again") ?? "").trim();
    if (window.time) legacy = { windowStart: window.time, pageKey, lastEventId };
    else if (start.time) legacy = { windowStart: start.time, pageKey: "", lastEventId: "" };
    if (window.problem) {
      warnings.push(`${window.problem}: ${start.time ? "the legacy export restarts at the start time (events are sent again, none skipped)" : "the legacy position is lost"}`);
    }
  }
  // Without a readable start_time, the earliest saved position is the latest safe start.
  const earliest = legacy?.windowStart ?? (bulk.dates[0] ? new Date(`${bulk.dates[0]}T00:00:00Z`) : undefined);
  // The Go tool writes start_time before any position, so positions without it mean it was lost.
  const startProblem = start.problem ?? (start.time === undefined && earliest ? `${key("start_time")} is missing` : undefined);
  const startTime = start.time ?? (startProblem ? earliest : undefined);
  if (startProblem) {
    warnings.push(
      `${startProblem}: ${startTime ? `the start time is taken as ${startTime.toISOString()}, where the saved position begins` : "no start time is imported; start-time (or now) applies"}`,
    );
  }

  const sessions: GoSession[] = [];
  const missing: GoMissingRecording[] = [];
  for (const f of files) {
    const isMissing = f.startsWith(MISSING_PREFIX);
    const sid = isMissing ? f.slice(MISSING_PREFIX.length) : f.startsWith(SESSION_PREFIX) ? f.slice(SESSION_PREFIX.length) : undefined;
    // The Go tool skips a key named exactly "session" too.
    if (sid === undefined || sid === "") continue;
    if (!SESSION_ID.test(sid)) {
      warnings.push(`${key(f)} does not name a Teleport session id: skipped`);
      continue;
    }
    if (isMissing) missing.push(readMissing(key(f), sid, warnings));
    else sessions.push(readSession(key(f), sid, warnings));
  }

  const state: GoState = {
    dir,
    startTime,
    legacy,
    staleLegacy: legacyKeys.length > 0 && bulk.dates.length > 0,
    bulkDates: bulk.dates,
    bulkChunks: bulk.chunks,
    sessions,
    missing,
    warnings,
  };
  const found = startTime || legacy || bulk.dates.length > 0 || sessions.length > 0 || missing.length > 0 || warnings.length > 0;
  return found ? state : undefined;
}

/** Other `<host>_<port>` directories: Go state kept for another teleport-addr, worth a hint. */
export function otherGoStateDirs(storage: string, expected: string): string[] {
  if (!existsSync(storage)) return [];
  return readdirSync(storage)
    .filter((d) => /_\d+$/.test(d) && join(storage, d) !== expected && isDir(join(storage, d)))
    .map((d) => join(storage, d));
}
