import { dirname } from "node:path";
import { formatDuration } from "../lib/duration.ts";
import { lagMs } from "../lib/lag.ts";
import { lockHolder, StateStore } from "../state/index.ts";

export interface StatusReport {
  cluster: string | null;
  stateFile: string;
  runningPid: number | null;
  startTime: string | null;
  engine: string | null;
  /** Where reading resumes: the legacy window start, or the bulk dates still open. */
  position: { windowStart: string } | { dates: string[] } | null;
  /** Set when the position was taken over from the Go tool's state (`from`: its directory). */
  imported: { from: string; at: string } | null;
  lastDelivered: { id: string; time: string } | null;
  /** Now minus the last delivered event (or the start time before the first delivery). */
  lagSeconds: number | null;
  /** Fluentd deliveries failing, as the running (or last) instance recorded it; null when they were not. */
  deliveriesFailing: { since: string; reason: string } | null;
  delivered: { events: number; sessions: number; deadLettered: number };
  /** `refused`: recordings never exported because the session id was not a UUID. */
  sessions: { pending: number; missing: number; givenUp: number; refused: number };
  deadLetters: number;
  /** Slices of the legacy engine still to be read again for late events. */
  lateSweepsPending: number;
}

/** Reads the state without locking it: safe while an instance is exporting (WAL readers don't block). */
export function readStatus(stateFile: string, now = Date.now()): StatusReport {
  const state = StateStore.open(stateFile, { create: false, readonly: true });
  try {
    const engine = state.meta.engine() ?? null;
    const legacy = state.checkpoints.legacyCheckpoint();
    const last = state.meta.lastDelivered();
    const imported = state.meta.goImport();
    const lag = lagMs(last?.time, now, state.meta.startTime());
    const failing = state.meta.deliveryFailure();
    const totals = state.meta.totals();
    const position =
      engine === "bulk" ? { dates: state.checkpoints.bulkDates() } : legacy ? { windowStart: legacy.windowStart.toISOString() } : null;
    return {
      cluster: state.meta.clusterName() ?? null,
      stateFile,
      runningPid: lockHolder(dirname(stateFile)) ?? null,
      startTime: state.meta.startTime()?.toISOString() ?? null,
      engine,
      position,
      imported: imported ? { from: imported.dir, at: imported.at.toISOString() } : null,
      lastDelivered: last ? { id: last.id, time: last.time.toISOString() } : null,
      lagSeconds: lag === undefined ? null : Math.round(lag / 1000),
      deliveriesFailing: failing ? { since: failing.since.toISOString(), reason: failing.reason } : null,
      delivered: { events: totals.events, sessions: totals.sessions, deadLettered: totals.deadLettered },
      sessions: {
        pending: state.sessions.count("pending"),
        missing: state.sessions.count("missing"),
        givenUp: state.sessions.count("given-up"),
        refused: totals.sessionsRefused,
      },
      deadLetters: state.deadLetters.count(),
      lateSweepsPending: state.late.pending(),
    };
  } finally {
    state.close();
  }
}

export function formatStatus(r: StatusReport, now = Date.now()): string {
  const position =
    r.position === null ? "not started" : "dates" in r.position ? `bulk export of ${r.position.dates.join(", ")}` : `legacy window from ${r.position.windowStart}`;
  return [
    `cluster:          ${r.cluster ?? "unknown"}`,
    `state:            ${r.stateFile}${r.runningPid ? ` (in use by pid ${r.runningPid})` : ""}`,
    `start time:       ${r.startTime ?? "not set"}`,
    `position:         ${position}`,
    `position from:    ${r.imported ? `imported from the Go tool's state in ${r.imported.from} on ${r.imported.at}` : "this handler"}`,
    `last delivered:   ${r.lastDelivered ? `${r.lastDelivered.id} at ${r.lastDelivered.time}` : "none"}`,
    `lag:              ${r.lagSeconds === null ? "n/a" : formatDuration(r.lagSeconds * 1000)}${r.lastDelivered ? "" : r.lagSeconds === null ? "" : " (nothing delivered yet: since the start time)"}`,
    `deliveries:       ${
      r.deliveriesFailing
        ? `failing since ${r.deliveriesFailing.since} (${formatDuration(now - Date.parse(r.deliveriesFailing.since))}): ${r.deliveriesFailing.reason}`
        : "ok"
    }`,
    `delivered:        ${r.delivered.events} events, ${r.delivered.sessions} sessions`,
    `sessions:         ${r.sessions.pending} pending, ${r.sessions.missing} missing, ${r.sessions.givenUp} given up, ${r.sessions.refused} refused (invalid session id)`,
    `dead letters:     ${r.deadLetters}`,
    `late sweeps:      ${r.lateSweepsPending} slices still to read again`,
  ].join("\n");
}
