import type { SinkRecord } from "../fluentd/types.ts";
import type { AuditEvent } from "../teleport/types.ts";
import type { ExportOptions } from "./options.ts";

export const SESSION_UPLOAD = "session.upload";

/** Decides which audit events are exported; `types` is empty for "all". */
export function auditFilter(opts: Pick<ExportOptions, "types" | "skipEventTypes">): (e: AuditEvent) => boolean {
  const only = new Set(opts.types);
  const skip = new Set(opts.skipEventTypes);
  return (e) => (only.size === 0 || only.has(e.type)) && !skip.has(e.type);
}

/** The body is the event exactly as Teleport sent it; the id travels alongside for reports only. */
export function toRecord(e: AuditEvent): SinkRecord {
  return { id: e.id, body: JSON.stringify(e.json) };
}

export function sessionIdOf(e: AuditEvent): string | undefined {
  const sid = e.json.sid;
  return typeof sid === "string" && sid !== "" ? sid : undefined;
}

export function sessionUrl(base: string, sid: string): string {
  return `${base}.${sid}.log`;
}
