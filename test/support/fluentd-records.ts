import type { FluentdConfig } from "../../src/config/options.ts";
import { createFluentdSink, type FluentdSink, type SinkTuning } from "../../src/fluentd/index.ts";
import { fluentdConfig } from "./config.ts";
import type { SinkRecord } from "../../src/fluentd/types.ts";
import type { TestPki } from "../../scripts/fakes/pki.ts";
import type { JsonObject } from "@bufbuild/protobuf";
import { toRecord } from "../../src/export/records.ts";
import { decodeStruct } from "../../src/teleport/struct-json.ts";
import { structToMsgpack } from "../../src/teleport/struct-msgpack.ts";
import type { AuditEvent } from "../../src/teleport/types.ts";
import { encodeStruct } from "../../scripts/fakes/struct-encode.ts";

/**
 * Audit-event-shaped records with ids `<prefix>-<i, 4 digits>`, serialized once like the export
 * jobs do. `packed`: records as the export makes them from events read from Teleport (toRecord), which
 * the forward sink sends as msgpack written from the Struct; otherwise JSON-only records, as
 * dead letters sent again are.
 */
export function auditRecords(n: number, opts: { prefix?: string; extra?: (i: number) => Record<string, unknown>; packed?: boolean } = {}): SinkRecord[] {
  const prefix = opts.prefix ?? "ev";
  return Array.from({ length: n }, (_, i) => {
    const id = `${prefix}-${String(i).padStart(4, "0")}`;
    const event = { code: "T1000I", event: "user.login", ei: i, time: "2024-05-01T12:34:56.789Z", uid: id, user: "alice", ...opts.extra?.(i) };
    return opts.packed ? toRecord(structEvent(id, event as JsonObject)) : { id, body: JSON.stringify(event) };
  });
}

/** An AuditEvent over Struct bytes, with the readers LazyEvent uses. */
function structEvent(id: string, json: JsonObject): AuditEvent {
  const bytes = encodeStruct(json);
  return { id, type: String(json.event), time: new Date(String(json.time)), index: 0, json: decodeStruct(bytes), msgpack: (limit, headroom) => structToMsgpack(bytes, limit, headroom) };
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
