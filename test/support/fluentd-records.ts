import type { SinkRecord } from "../../src/fluentd/types.ts";

/** Audit-event-shaped records with ids `<prefix>-<i, 4 digits>`, serialized once like the export jobs do. */
export function auditRecords(n: number, opts: { prefix?: string; extra?: (i: number) => Record<string, unknown> } = {}): SinkRecord[] {
  const prefix = opts.prefix ?? "ev";
  return Array.from({ length: n }, (_, i) => {
    const id = `${prefix}-${String(i).padStart(4, "0")}`;
    const event = { code: "T1000I", event: "user.login", ei: i, time: "2024-05-01T12:34:56.789Z", uid: id, user: "alice", ...opts.extra?.(i) };
    return { id, body: JSON.stringify(event) };
  });
}
