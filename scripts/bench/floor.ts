/**
 * The least time the round trips of a WAN allow a run, as if everything else cost nothing: the
 * yardstick printed next to (g)'s measured wall time. It follows the handler's design, so it is a
 * floor for that design, not for any design.
 *
 * - The audit log is a chain of pages per search window: each page needs the previous page's key,
 *   so pages cost one Teleport round trip each, with up to min(3, concurrency) windows read at
 *   once (read-ahead). Its batches go to Fluentd up to `fluentd-inflight-batches` at once (they
 *   commit in order), one Fluentd round trip per such group. Reading and delivering overlap, so
 *   the slower of the two counts.
 * - A session costs one Teleport round trip to open its stream (the rest streams) and one Fluentd
 *   round trip per batch of exported events; `concurrency` sessions run at once. A session without
 *   a recording costs its NOT_FOUND round trip. Spread evenly over the slots: a lower bound.
 * - Audit and sessions overlap (a session can start once its upload is read), so the larger
 *   counts, plus connecting: TCP and TLS handshakes (2 round trips) to each peer, Ping and the
 *   engine probe (2 more to Teleport).
 */
export interface Wan {
  teleportRttMs: number;
  fluentdRttMs: number;
}

export interface FloorLog {
  /** Audit events, session uploads included. */
  events: number;
  sessions: number;
  /** Sessions that have a recording. */
  recordings: number;
  /** print events per recording; a recording has 3 more (start, resize, end). */
  prints: number;
}

export interface FloorSettings {
  batch: number;
  fluentdBatchSize: number;
  fluentdInflightBatches: number;
  concurrency: number;
}

const READ_AHEAD_WINDOWS = 3;
/** The fake's recordings: session.start, resize, the prints, session.end. */
export const NON_PRINT_EVENTS_PER_RECORDING = 3;

export function rttFloorSeconds(log: FloorLog, s: FloorSettings, wan: Wan): number {
  const pages = Math.ceil(log.events / s.batch);
  const reading = Math.ceil(pages / Math.min(READ_AHEAD_WINDOWS, s.concurrency)) * wan.teleportRttMs;
  const delivering = Math.ceil(log.events / s.fluentdBatchSize / s.fluentdInflightBatches) * wan.fluentdRttMs;
  const audit = Math.max(reading, delivering);
  // print is skipped by default: what a recording sends is its other events.
  const perRecording = wan.teleportRttMs + Math.ceil(NON_PRINT_EVENTS_PER_RECORDING / s.fluentdBatchSize) * wan.fluentdRttMs;
  const missing = log.sessions - log.recordings;
  const sessions = (log.recordings * perRecording + missing * wan.teleportRttMs) / s.concurrency;
  const connecting = 4 * wan.teleportRttMs + 2 * wan.fluentdRttMs;
  return (Math.max(audit, sessions) + connecting) / 1000;
}
