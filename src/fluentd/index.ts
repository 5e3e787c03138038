export { createFluentdSink, type SinkTuning } from "./sink.ts";
export { FluentdSettingError } from "./tls.ts";
export type { DeadLetter, DeliveryReport, FluentdSink, SinkRecord } from "./types.ts";
