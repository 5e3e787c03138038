import type { FluentdSinkOptions } from "../../src/fluentd/index.ts";
import type { SinkRecord } from "../../src/fluentd/types.ts";
import type { TestPki } from "../../scripts/fakes/pki.ts";

/** Audit-event-shaped records with ids `<prefix>-<i, 4 digits>`, serialized once like the export jobs do. */
export function auditRecords(n: number, opts: { prefix?: string; extra?: (i: number) => Record<string, unknown> } = {}): SinkRecord[] {
  const prefix = opts.prefix ?? "ev";
  return Array.from({ length: n }, (_, i) => {
    const id = `${prefix}-${String(i).padStart(4, "0")}`;
    const event = { code: "T1000I", event: "user.login", ei: i, time: "2024-05-01T12:34:56.789Z", uid: id, user: "alice", ...opts.extra?.(i) };
    return { id, body: JSON.stringify(event) };
  });
}

/** Sink options with the test PKI's client certificate and short retry delays. */
export function sinkOptions(pki: TestPki, over: Partial<FluentdSinkOptions> = {}): FluentdSinkOptions {
  return {
    ca: pki.fluentdCA.caFile,
    cert: pki.fluentdClient.certFile,
    key: pki.fluentdClient.keyFile,
    allowInsecure: false,
    maxConnections: 4,
    backoff: { baseMs: 5, capMs: 20 },
    ...over,
  };
}
