import { createHash } from "node:crypto";
import type { AuditEvent } from "../teleport/types.ts";
import type { IngestConfig } from "../config/options.ts";

/** Decides which audit events are exported; `types` is empty for "all". */
export function auditFilter(opts: Pick<IngestConfig, "types" | "skipEventTypes">): (e: AuditEvent) => boolean {
  const only = new Set(opts.types);
  const skip = new Set(opts.skipEventTypes);
  return (e) => (only.size === 0 || only.has(e.type)) && !skip.has(e.type);
}

/**
 * Names the audit filters in force, for the per-hour digests: `verify` reports an hour delivered
 * under other filters as "filters changed" rather than as a gap.
 */
export function filterFingerprint(opts: Pick<IngestConfig, "types" | "skipEventTypes">): string {
  const canonical = JSON.stringify({ types: [...new Set(opts.types)].sort(), skip: [...new Set(opts.skipEventTypes)].sort() });
  return createHash("sha256").update(canonical).digest("hex").slice(0, 16);
}
