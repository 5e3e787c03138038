import type { AuditEvent } from "../teleport/types.ts";
import type { IngestConfig } from "../config/options.ts";

/** Decides which audit events are exported; `types` is empty for "all". */
export function auditFilter(opts: Pick<IngestConfig, "types" | "skipEventTypes">): (e: AuditEvent) => boolean {
  const only = new Set(opts.types);
  const skip = new Set(opts.skipEventTypes);
  return (e) => (only.size === 0 || only.has(e.type)) && !skip.has(e.type);
}
