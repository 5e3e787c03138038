import { interruptOnSignals } from "../lib/abort.ts";
import { dirname } from "node:path";
import type { Config } from "../config/options.ts";
import { ConfigError } from "../errors.ts";
import { filterFingerprint, logDeadLetters, readHours, SESSION_UPLOAD, sessionIdOf, toRecord } from "../export/index.ts";
import type { FluentdSink } from "../fluentd/types.ts";
import { drawStatusLine, logger } from "../logger.ts";
import {
  acquireInstanceLock,
  findStateFile,
  HOUR_MS,
  hourOf,
  idDigest,
  InstanceLockedError,
  StateStore,
  type HourDigest,
  type InstanceLock,
} from "../state/index.ts";
import { handToRunningInstance, RepairHandOffError, type RepairAsk } from "./repair-handoff.ts";
import type { AuditEvent, TeleportSource } from "../teleport/types.ts";

export interface VerifyRequest {
  from: Date;
  to: Date;
  repair: boolean;
  /** How long --repair waits for a running instance to serve the request it hands over. */
  repairTimeoutMs: number;
  byDay: boolean;
  cluster?: string;
}

export type Verdict = "match" | "gap" | "duplicates" | "differs" | "filters changed" | "not exported";

/** One hour (or day) of the report. */
export interface VerifyRow {
  from: string;
  teleport: number;
  delivered: number;
  /** At least this many events Teleport holds were not delivered. */
  missing: number;
  /** Deliveries beyond what Teleport holds (a replay after a crash sends some again). */
  duplicates: number;
  verdict: Verdict;
  /** What --repair sent: only the missing events (ids were kept), or the whole hour again. */
  repaired?: "missing events" | "whole hour";
  repairedEvents?: number;
  /** Why the running instance did not repair the hour (it changed since verify read it). */
  notRepaired?: string;
}

export interface VerifyReport {
  rows: VerifyRow[];
  /** Hours with a gap (missing or differing events), before any repair. */
  gaps: number;
  repaired: number;
}

/** Gaps are what verify exists to find; duplicates are reported, but they lose nothing. */
const IS_GAP: ReadonlySet<Verdict> = new Set(["gap", "differs"]);

/**
 * Where the export is complete up to: hours that end after it are still being exported. The
 * legacy engine delivers in time order, so that is its last delivered event. The bulk engine
 * finishes a date only as a whole, so it is the first date still open; its last delivered event
 * says nothing there, since a date's chunks are delivered side by side, in no time order.
 */
function exportedUntil(state: StateStore): number {
  const last = state.meta.lastDelivered()?.time.getTime() ?? -Infinity;
  if (state.meta.engine() !== "bulk") return last;
  const open = state.checkpoints.bulkDates()[0];
  return open === undefined ? last : Date.parse(`${open}T00:00:00Z`);
}

function judge(teleport: { count: number; digest: bigint }, row: HourDigest | undefined, filters: string): Pick<VerifyRow, "delivered" | "missing" | "duplicates" | "verdict"> {
  const delivered = row?.count ?? 0;
  const missing = Math.max(0, teleport.count - delivered);
  const duplicates = Math.max(0, delivered - teleport.count);
  if (row && row.filters !== filters) return { delivered, missing, duplicates, verdict: "filters changed" };
  if (delivered === teleport.count) return { delivered, missing, duplicates, verdict: teleport.digest === (row?.digest ?? 0n) ? "match" : "differs" };
  return { delivered, missing, duplicates, verdict: missing > 0 ? "gap" : "duplicates" };
}

/** What a repair of the hour sends: only the missing events while every delivered id is still kept, else the whole hour. */
function planHour(state: StateStore, hour: number, events: AuditEvent[], row: HourDigest | undefined, filters: string) {
  const kept = state.late.idsBetween(new Date(hour * HOUR_MS), new Date((hour + 1) * HOUR_MS));
  const onlyMissing = row !== undefined && kept.size === row.count && row.filters === filters;
  return { onlyMissing, send: onlyMissing ? events.filter((e) => !kept.has(e.id)) : events };
}

/**
 * Re-delivers what an hour lacks. With the hour's ids still kept (late-event sweeps keep them for
 * a while) only the missing events go out; otherwise the whole hour does, and the hour's digest
 * becomes Teleport's: the receiver then holds duplicates, never a gap.
 */
async function repairHour(
  state: StateStore,
  sink: FluentdSink,
  config: Config,
  hour: number,
  events: AuditEvent[],
  row: HourDigest | undefined,
  filters: string,
): Promise<Pick<VerifyRow, "repaired" | "repairedEvents">> {
  const { onlyMissing, send } = planHour(state, hour, events, row, filters);
  const report = send.length > 0 ? await sink.deliver(config.fluentd.url.href, send.map(toRecord)) : { deadLettered: [], retried: 0 };
  logDeadLetters(report.deadLettered);
  const rejected = new Set(report.deadLettered.map((d) => d.record.id));
  const delivered = send.filter((e) => !rejected.has(e.id));
  state.transaction(() => {
    for (const e of send) {
      const sid = e.type === SESSION_UPLOAD ? sessionIdOf(e) : undefined;
      if (sid) state.sessions.enqueue({ sid, uploadTime: e.time });
    }
    state.deadLetters.add(report.deadLettered);
    state.meta.addToTotal("events_delivered", delivered.length);
    if (onlyMissing) {
      state.digests.add(delivered, filters);
      state.late.rememberDelivered(delivered);
    } else {
      const all = idDigest(events.filter((e) => !rejected.has(e.id)).map((e) => e.id));
      state.digests.replace(hour, all.count, all.digest, filters);
    }
  });
  return { repaired: onlyMissing ? "missing events" : "whole hour", repairedEvents: delivered.length };
}

function byDay(rows: VerifyRow[]): VerifyRow[] {
  const days = new Map<string, VerifyRow>();
  const rank: Verdict[] = ["match", "duplicates", "not exported", "filters changed", "differs", "gap"];
  for (const r of rows) {
    const key = r.from.slice(0, 10);
    const d = days.get(key);
    if (!d) {
      days.set(key, { ...r, from: `${key}T00:00:00.000Z` });
      continue;
    }
    d.teleport += r.teleport;
    d.delivered += r.delivered;
    d.missing += r.missing;
    d.duplicates += r.duplicates;
    if (rank.indexOf(r.verdict) > rank.indexOf(d.verdict)) d.verdict = r.verdict;
    if (r.repaired) {
      d.repaired = d.repaired === "whole hour" ? d.repaired : r.repaired;
      d.repairedEvents = (d.repairedEvents ?? 0) + (r.repairedEvents ?? 0);
    }
  }
  return [...days.values()];
}

/**
 * `verify`: reads the range back from Teleport hour by hour with the filters in force and compares
 * each hour's count and id digest with what the state says was delivered. Read-only on the state
 * (safe while `start` runs) unless `repair`, which takes the instance lock and repairs itself, or,
 * while `start` holds the lock, hands the repair to that instance through the state.
 */
export async function verifyRange(
  parts: { source: TeleportSource; sink?: FluentdSink; config: Config; signal: AbortSignal },
  req: VerifyRequest,
): Promise<VerifyReport> {
  const { source, sink, config, signal } = parts;
  if (req.from.getTime() >= req.to.getTime()) throw new ConfigError(`--from ${req.from.toISOString()} is not before --to ${req.to.toISOString()}; give a range that ends after it starts`);
  const file = findStateFile(config.ingest.storage, req.cluster);
  let lock: InstanceLock | undefined;
  let running: { pid: number | undefined } | undefined;
  if (req.repair) {
    try {
      lock = acquireInstanceLock(dirname(file));
    } catch (err) {
      if (!(err instanceof InstanceLockedError)) throw err;
      running = { pid: err.holderPid };
    }
  }
  const state = StateStore.open(file, { create: false, readonly: !lock });
  try {
    const start = state.meta.startTime();
    if (!start) throw new ConfigError(`the export in ${file} has not started yet; run start first`);
    if (req.to.getTime() <= start.getTime()) {
      throw new ConfigError(`--to ${req.to.toISOString()} is before the export's start-time ${start.toISOString()}; nothing in that range was exported`);
    }
    const filters = filterFingerprint(config.ingest);
    const until = exportedUntil(state);
    const first = hourOf(req.from);
    const last = Math.ceil(req.to.getTime() / HOUR_MS);
    const digests = state.digests.between(req.from, req.to);
    const rows = new Map<number, VerifyRow>();
    const toRead: number[] = [];
    for (let hour = first; hour < last; hour++) {
      const exported = hour * HOUR_MS >= start.getTime() && (hour + 1) * HOUR_MS <= until;
      if (exported) toRead.push(hour);
      else rows.set(hour, { from: new Date(hour * HOUR_MS).toISOString(), teleport: 0, delivered: digests.get(hour)?.count ?? 0, missing: 0, duplicates: 0, verdict: "not exported" });
    }
    let gaps = 0;
    let repaired = 0;
    const asks: RepairAsk[] = [];
    // Read back the way the export read: an engine's own API is what it could have missed events on.
    for await (const { hour, events } of readHours(source, state.meta.engine() ?? "legacy", config.ingest, toRead, signal)) {
      if (process.stderr.isTTY) drawStatusLine(`verified ${new Date(hour * HOUR_MS).toISOString()} (${hour - first + 1}/${last - first} hours)`);
      const row = digests.get(hour);
      const result: VerifyRow = { from: new Date(hour * HOUR_MS).toISOString(), teleport: events.length, ...judge(idDigest(events.map((e) => e.id)), row, filters) };
      if (IS_GAP.has(result.verdict)) {
        gaps++;
        if (lock && sink) {
          Object.assign(result, await repairHour(state, sink, config, hour, events, row, filters));
          repaired++;
        } else if (running) {
          const { onlyMissing, send } = planHour(state, hour, events, row, filters);
          const seen = row ? { count: row.count, digest: row.digest.toString(16) } : null;
          asks.push({ hour, mode: onlyMissing ? "missing" : "whole", ids: onlyMissing ? send.map((e) => e.id) : undefined, seen, filters });
        }
      }
      rows.set(hour, result);
    }
    if (running && asks.length > 0) {
      const served = await handToRunningInstance(state, file, asks, { pid: running.pid, timeoutMs: req.repairTimeoutMs, signal });
      for (const h of served) {
        const row = rows.get(h.hour)!;
        if (h.skipped) row.notRepaired = h.skipped;
        else {
          Object.assign(row, { repaired: h.mode === "missing" ? "missing events" : "whole hour", repairedEvents: h.sent });
          repaired++;
        }
      }
    }
    const ordered = [...rows.entries()].sort(([a], [b]) => a - b).map(([, r]) => r);
    return { rows: req.byDay ? byDay(ordered) : ordered, gaps, repaired };
  } finally {
    if (process.stderr.isTTY) drawStatusLine(undefined);
    state.close();
    lock?.release();
  }
}

export function formatVerify(report: VerifyReport, by: "hour" | "day"): string {
  const head = [by === "day" ? "day" : "hour (UTC)", "teleport", "delivered", "missing", "duplicates", "verdict"];
  const lines = report.rows.map((r) => [
    by === "day" ? r.from.slice(0, 10) : r.from.slice(0, 13) + ":00",
    String(r.teleport),
    String(r.delivered),
    String(r.missing),
    String(r.duplicates),
    r.verdict + (r.repaired ? ` (repaired: ${r.repairedEvents} events sent, ${r.repaired})` : "") + (r.notRepaired ? ` (not repaired: ${r.notRepaired})` : ""),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const render = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  const summary =
    report.gaps === 0 ? "every exported hour matches" : `${report.gaps} hour${report.gaps === 1 ? "" : "s"} with gaps${report.repaired > 0 ? `, ${report.repaired} repaired` : ""}`;
  return [render(head), ...lines.map(render), summary].join("\n");
}

/** Exit code: 0 when nothing is missing (or --repair sent all of it), 1 when gaps remain. */
export function verifyExitCode(report: VerifyReport): number {
  return report.gaps > report.repaired ? 1 : 0;
}

/** The command's run: builds the source (and the sink for --repair) from the configuration. */
export async function runVerify(config: Config, req: VerifyRequest & { json: boolean }): Promise<number> {
  const { createTeleportSource } = await import("../teleport/index.ts");
  const { createFluentdSink } = await import("../fluentd/index.ts");
  const source = await createTeleportSource(config.teleport);
  const sink = req.repair ? await createFluentdSink(config.fluentd) : undefined;
  const interrupted = interruptOnSignals();
  try {
    const report = await verifyRange({ source, sink, config, signal: interrupted.signal }, req);
    process.stdout.write(req.json ? `${JSON.stringify(report)}\n` : `${formatVerify(report, req.byDay ? "day" : "hour")}\n`);
    return verifyExitCode(report);
  } catch (err) {
    // Not the user's mistake (exit 2) nor a failure with a stack: the gaps stay, said in one line.
    if (!(err instanceof RepairHandOffError)) throw err;
    logger.error(err.message);
    return 1;
  } finally {
    interrupted.dispose();
    await sink?.close();
    await source.close();
  }
}
