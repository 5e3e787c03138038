import { readdirSync } from "node:fs";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { lagMs } from "../lib/lag.ts";
import { COMMIT, VERSION } from "../version.ts";

/**
 * Every metric the handler exposes, in one registry. The jobs and the sink update these; the
 * metrics server only renders them. `stream` is "audit" or "session".
 */
export const registry = new Registry();

const prefix = "teleport_event_handler_";
type Stream = "audit" | "session";

function streamCounter(name: string, help: string) {
  return new Counter({ name: `${prefix}${name}`, help, labelNames: ["stream"] as const, registers: [registry] });
}

const eventsReceived = streamCounter("events_received_total", "Events read from Teleport.");
export const eventsDelivered = streamCounter("events_delivered_total", "Events acknowledged by Fluentd.");
const eventsRetried = streamCounter("events_retried_total", "Events sent again after a failed request.");
const eventsDeadLettered = streamCounter(
  "events_dead_lettered_total",
  "Events Fluentd rejected permanently, kept in the dead-letter store.",
);
const eventsFiltered = streamCounter(
  "events_filtered_total",
  "Events not sent because of types, skip-event-types or skip-session-types.",
);
/** Audit events a late-event sweep found that the first read had not (legacy engine). */
export const lateEventsFound = new Counter({
  name: `${prefix}late_events_total`,
  help: "Audit events delivered by a late-event sweep: searchable only after the first read of their time.",
  registers: [registry],
});
const batchesSent = new Counter({
  name: `${prefix}fluentd_requests_total`,
  help: "HTTP requests to Fluentd, by outcome (ok, retry, rejected).",
  labelNames: ["outcome"] as const,
  registers: [registry],
});
export const bytesSent = new Counter({
  name: `${prefix}fluentd_sent_bytes_total`,
  help: "Request body bytes sent to Fluentd.",
  registers: [registry],
});
export const errors = new Counter({
  name: `${prefix}errors_total`,
  help: "Errors by kind (teleport, fluentd, state).",
  labelNames: ["kind"] as const,
  registers: [registry],
});
export const pendingSessions = new Gauge({
  name: `${prefix}sessions_pending`,
  help: "Session recordings waiting to be exported.",
  registers: [registry],
});
export const missingRecordings = new Gauge({
  name: `${prefix}sessions_missing`,
  help: "Session recordings Teleport did not have yet (NotFound), waiting for a retry.",
  registers: [registry],
});
export const refusedSessions = new Counter({
  name: `${prefix}sessions_refused_total`,
  help: "Recordings not exported because their session id is not a UUID (it would go into the URL).",
  registers: [registry],
});
const lastDeliveredEventTime = new Gauge({
  name: `${prefix}last_delivered_event_timestamp_seconds`,
  help: "Time of the newest audit event acknowledged by Fluentd (Unix seconds).",
  registers: [registry],
});
export const lagSeconds = new Gauge({
  name: `${prefix}lag_seconds`,
  help: "Now minus the time of the newest audit event acknowledged by Fluentd.",
  registers: [registry],
  collect() {
    const lag = lagMs(newestDelivered, Date.now(), lagBaseline);
    if (lag !== undefined) this.set(lag / 1000);
  },
});
const lastDeliveryTimestamp = new Gauge({
  name: `${prefix}last_successful_delivery_timestamp_seconds`,
  help: "When Fluentd last acknowledged a request (Unix seconds).",
  registers: [registry],
});
export const fluentdClientCertExpiry = new Gauge({
  name: `${prefix}fluentd_client_cert_expiry_timestamp_seconds`,
  help: "When the Fluentd client certificate (fluentd-cert) expires (Unix seconds).",
  registers: [registry],
});
export const identityExpiry = new Gauge({
  name: `${prefix}identity_expiry_timestamp_seconds`,
  help: "When the Teleport client certificate expires (Unix seconds).",
  registers: [registry],
});
export const deliveryLatency = new Histogram({
  name: `${prefix}fluentd_request_duration_seconds`,
  help: "Duration of one HTTP request to Fluentd.",
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});

let newestDelivered: Date | undefined;
/** Until the first delivery, lag counts from the export's start time: a fresh deploy that never delivers must still alert. */
let lagBaseline: Date | undefined;
let lastDeliveryAtMs = 0;

/** Where lag is measured from before anything was delivered: the settled start time. */
export function setLagBaseline(start: Date): void {
  lagBaseline = start;
}

/** When Fluentd last acknowledged anything (0: never); exit-timeout reads it as progress. */
export function lastDeliveryAt(): number {
  return lastDeliveryAtMs;
}

new Gauge({
  name: `${prefix}build_info`,
  help: "Always 1; the labels say which build is running.",
  labelNames: ["version", "commit", "bun"] as const,
  registers: [registry],
}).set({ version: VERSION, commit: COMMIT, bun: Bun.version }, 1);

// Process metrics under their standard names (as every Prometheus client library exports them),
// so generic dashboards and alerts work; prom-client's defaults would add nodejs_* series that
// mean little for a Bun binary.
const processStart = Date.now() / 1000 - process.uptime();
new Counter({
  name: "process_cpu_seconds_total",
  help: "Total user and system CPU time spent in seconds.",
  registers: [registry],
  collect() {
    const { user, system } = process.cpuUsage();
    this.reset();
    this.inc((user + system) / 1e6);
  },
});
new Gauge({
  name: "process_resident_memory_bytes",
  help: "Resident memory size in bytes.",
  registers: [registry],
  collect() {
    this.set(process.memoryUsage.rss());
  },
});
new Gauge({
  name: "process_start_time_seconds",
  help: "Start time of the process since unix epoch in seconds.",
  registers: [registry],
}).set(processStart);
if (process.platform === "linux") {
  new Gauge({
    name: "process_open_fds",
    help: "Number of open file descriptors.",
    registers: [registry],
    collect() {
      try {
        this.set(readdirSync("/proc/self/fd").length);
      } catch {
        // /proc not mounted: leave the last value.
      }
    },
  });
}

/**
 * The labelled series the hot paths touch, resolved once: the jobs add whole batches to these and
 * never look a label set up per event.
 */
function perStream(stream: Stream) {
  return {
    received: series(eventsReceived, stream),
    delivered: series(eventsDelivered, stream),
    retried: series(eventsRetried, stream),
    deadLettered: series(eventsDeadLettered, stream),
    filtered: series(eventsFiltered, stream),
  };
}

/**
 * A labelled series, exported at 0 from the start: prom-client only shows a series after its first
 * increment, and `rate(...{outcome="ok"}[5m]) == 0` cannot match a series that does not exist.
 */
function series<L extends string>(counter: Counter<L>, value: string) {
  const child = counter.labels(value);
  child.inc(0);
  return child;
}
export const streamMetrics = { audit: perStream("audit"), session: perStream("session") };

export const requestOutcomes = { ok: series(batchesSent, "ok"), retry: series(batchesSent, "retry"), rejected: series(batchesSent, "rejected") };
export const errorKinds = { teleport: series(errors, "teleport"), fluentd: series(errors, "fluentd"), state: series(errors, "state") };

/** Runs a state database write, counting its failure (which still ends the export, loudly). */
export function countStateErrors<T>(write: () => T): T {
  try {
    return write();
  } catch (err) {
    errorKinds.state.inc();
    throw err;
  }
}

/** Records that Fluentd acknowledged events of `stream`, the newest of which happened at `newest`. */
export function recordDelivered(stream: Stream, count: number, newest?: Date): void {
  // An empty window's checkpoint is no delivery: the lag alert must still see a Fluentd that never answered.
  if (count > 0) {
    streamMetrics[stream].delivered.inc(count);
    lastDeliveryAtMs = Date.now();
    lastDeliveryTimestamp.set(lastDeliveryAtMs / 1000);
  }
  if (stream === "audit" && newest && (newestDelivered === undefined || newest > newestDelivered)) {
    newestDelivered = newest;
    lastDeliveredEventTime.set(newest.getTime() / 1000);
  }
}

/** Events read from Teleport and dropped by the type filters so far, per stream. */
export interface FilterCounts {
  received: number;
  filtered: number;
}

export async function filterCounts(): Promise<Record<Stream, FilterCounts>> {
  const out: Record<Stream, FilterCounts> = { audit: { received: 0, filtered: 0 }, session: { received: 0, filtered: 0 } };
  for (const v of (await eventsReceived.get()).values) out[v.labels.stream as Stream].received = v.value;
  for (const v of (await eventsFiltered.get()).values) out[v.labels.stream as Stream].filtered = v.value;
  return out;
}
