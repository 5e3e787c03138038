import type { StateStore } from "../state/index.ts";
import type { TeleportSource } from "../teleport/types.ts";
import type { AuditDelivery } from "./audit-delivery.ts";
import type { ExportOptions } from "./options.ts";
import type { ExportStats } from "./stats.ts";

/** Everything an audit engine needs; `stopSignal` ends reading, in-flight deliveries still finish. */
export interface AuditJob {
  source: TeleportSource;
  state: StateStore;
  options: ExportOptions;
  stats: ExportStats;
  delivery: AuditDelivery;
  stopSignal: AbortSignal;
  /** Hard stop (shutdown deadline): abandons the deliveries in flight. */
  deliverySignal?: AbortSignal;
  startTime: Date;
  /** The wall clock (injected by tests). */
  now: () => number;
}
