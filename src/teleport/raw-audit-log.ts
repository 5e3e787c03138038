import type { DescMessage, DescMethod } from "@bufbuild/protobuf";
import type { GenService } from "@bufbuild/protobuf/codegenv2";
import {
  AuditLogService,
  type EventExportChunkSchema,
  type ExportUnstructuredEventsRequestSchema,
  type GetEventExportChunksRequestSchema,
  type GetUnstructuredEventsRequestSchema,
  type StreamUnstructuredSessionEventsRequestSchema,
} from "../gen/teleport/auditlog/v1/auditlog_pb.ts";
import {
  RawEventsUnstructuredSchema,
  RawEventUnstructuredSchema,
  RawExportEventUnstructuredSchema,
} from "../gen/teleport_event_handler/v1/raw_events_pb.ts";
import { decodeRawEvent, decodeRawEvents, decodeRawExportEvent } from "./struct-json.ts";

/**
 * AuditLogService as the client reads it: the same method paths and request messages, with the
 * event-carrying responses read through the raw views of proto/teleport_event_handler (the
 * payload stays bytes for struct-json.ts). Nothing changes on the wire.
 */
export type RawAuditLogService = GenService<{
  streamUnstructuredSessionEvents: {
    methodKind: "server_streaming";
    input: typeof StreamUnstructuredSessionEventsRequestSchema;
    output: typeof RawEventUnstructuredSchema;
  };
  getUnstructuredEvents: { methodKind: "unary"; input: typeof GetUnstructuredEventsRequestSchema; output: typeof RawEventsUnstructuredSchema };
  exportUnstructuredEvents: {
    methodKind: "server_streaming";
    input: typeof ExportUnstructuredEventsRequestSchema;
    output: typeof RawExportEventUnstructuredSchema;
  };
  getEventExportChunks: { methodKind: "server_streaming"; input: typeof GetEventExportChunksRequestSchema; output: typeof EventExportChunkSchema };
}>;

const RAW_OUTPUTS: Record<string, DescMessage> = {
  streamUnstructuredSessionEvents: RawEventUnstructuredSchema,
  getUnstructuredEvents: RawEventsUnstructuredSchema,
  exportUnstructuredEvents: RawExportEventUnstructuredSchema,
};

function rawView(): RawAuditLogService {
  const methods = AuditLogService.methods.map((m) => {
    const output = RAW_OUTPUTS[m.localName];
    return output ? ({ ...m, output } as DescMethod) : m;
  });
  const method = Object.fromEntries(methods.map((m) => [m.localName, m]));
  return { ...AuditLogService, methods, method } as unknown as RawAuditLogService;
}

export const RawAuditLogService: RawAuditLogService = rawView();

/**
 * Hand decoders for the raw views (grpc-calls.ts): the same messages fromBinary would return,
 * without reflection. A recording is thousands of them, the audit log pages of them.
 */
export const RAW_DECODERS: ReadonlyMap<string, (bytes: Uint8Array) => unknown> = new Map<string, (bytes: Uint8Array) => unknown>([
  [RawEventUnstructuredSchema.typeName, decodeRawEvent],
  [RawExportEventUnstructuredSchema.typeName, decodeRawExportEvent],
  [RawEventsUnstructuredSchema.typeName, decodeRawEvents],
]);
