import type { FluentdConfig } from "../../src/config/options.ts";
import { createFluentdSink, type FluentdSink, type SinkTuning } from "../../src/fluentd/index.ts";
import { fluentdConfig } from "./config.ts";
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

export type SinkTestOptions = Partial<FluentdConfig> & SinkTuning;

/** `fluentd` settings with the test PKI's client certificate (the rest are the options table's defaults). */
export function sinkOptions(pki: TestPki, over: SinkTestOptions = {}): SinkTestOptions {
  return { ca: pki.fluentdCA.caFile, cert: pki.fluentdClient.certFile, key: pki.fluentdClient.keyFile, allowInsecure: false, maxConnections: 4, ...over };
}

/** The sink from those settings, with short retry delays. */
export function sinkFrom({ backoff, warnIntervalMs, ...config }: SinkTestOptions): Promise<FluentdSink> {
  return createFluentdSink(fluentdConfig(config), { backoff: backoff ?? { baseMs: 5, capMs: 20 }, warnIntervalMs });
}
