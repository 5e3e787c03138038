import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { lagMs } from "../lib/lag.ts";

/**
 * Every metric the handler exposes, in one registry. The jobs and the sink update these; the
 * metrics server only renders them. `stream` is "audit" or "session".
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: "teleport_event_handler_" });

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
    const lag = lagMs(newestDelivered, Date.now());
    if (lag !== undefined) this.set(lag / 1000);
  },
});
const lastDeliveryTimestamp = new Gauge({
  name: `${prefix}last_successful_delivery_timestamp_seconds`,
  help: "When Fluentd last acknowledged a request (Unix seconds).",
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

/**
 * The labelled series the hot paths touch, resolved once: the jobs add whole batches to these and
 * never look a label set up per event.
 */
function perStream(stream: Stream) {
  return {
    received: eventsReceived.labels(stream),
    delivered: eventsDelivered.labels(stream),
    retried: eventsRetried.labels(stream),
    deadLettered: eventsDeadLettered.labels(stream),
    filtered: eventsFiltered.labels(stream),
  };
}
export const streamMetrics = { audit: perStream("audit"), session: perStream("session") };

export const requestOutcomes = { ok: batchesSent.labels("ok"), retry: batchesSent.labels("retry"), rejected: batchesSent.labels("rejected") };
export const errorKinds = { teleport: errors.labels("teleport"), fluentd: errors.labels("fluentd"), state: errors.labels("state") };

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
  if (count > 0) streamMetrics[stream].delivered.inc(count);
  lastDeliveryTimestamp.set(Date.now() / 1000);
  if (stream === "audit" && newest && (newestDelivered === undefined || newest > newestDelivered)) {
    newestDelivered = newest;
    lastDeliveredEventTime.set(newest.getTime() / 1000);
  }
}
