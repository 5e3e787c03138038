import type { SinkRecord } from "../fluentd/types.ts";
import type { AuditEvent } from "../teleport/types.ts";

export const SESSION_UPLOAD = "session.upload";

/** The body is the event exactly as Teleport sent it; the id travels alongside for reports only. */
export function toRecord(e: AuditEvent): SinkRecord {
  return { id: e.id, body: JSON.stringify(e.json) };
}

export function sessionIdOf(e: AuditEvent): string | undefined {
  const sid = e.json.sid;
  return typeof sid === "string" && sid !== "" ? sid : undefined;
}
