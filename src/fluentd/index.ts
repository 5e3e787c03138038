export { createFluentdSink, sessionUrl, DEFAULT_BATCH_BYTES, DEFAULT_BATCH_SIZE, DEFAULT_TIMEOUT_MS, type FluentdSinkOptions } from "./sink.ts";
export { FluentdSettingError, loadFluentdTls, redactUrl, type FluentdTlsMaterial, type FluentdTlsSettings } from "./tls.ts";
export { DEFAULT_BACKOFF } from "./retry.ts";
export type { BackoffPolicy } from "../lib/backoff.ts";
export type { DeadLetter, DeliveryReport, FluentdSink, SinkRecord } from "./types.ts";
