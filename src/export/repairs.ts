import { isAbort } from "../lib/abort.ts";
import { Wakeup } from "../lib/wakeup.ts";
import { logger } from "../logger.ts";
import { type Engine, HOUR_MS, type RepairHour, type RepairRequest, type StateStore } from "../state/index.ts";
import type { TeleportSource } from "../teleport/types.ts";
import type { AuditDelivery } from "./audit-delivery.ts";
import { slices } from "./batches.ts";
import { filterFingerprint } from "./filters.ts";
import { readHours } from "./hour-read.ts";
import type { ExportOptions } from "./options.ts";

/**
 * Serves the repair requests `verify --repair` leaves in the state while this instance holds the
 * lock. It looks for them when it starts and then as often as a caught-up export polls Teleport
 * (`timeout`): one indexed read of a table that is empty almost always, off the delivery path.
 * Each hour is read back from Teleport and re-delivered through the one acknowledged path, so
 * a batch's progress on the request commits with the batch: a crash resends nothing it recorded,
 * and the next start carries on.
 */
export class RepairWorker {
  private readonly wakeup = new Wakeup();
  private finishing = false;
  /** Rejects only on a real failure (the state database), never on a stop. */
  readonly failure: Promise<never>;
  private readonly done: Promise<void>;

  constructor(
    private readonly deps: {
      source: TeleportSource;
      state: StateStore;
      options: ExportOptions;
      delivery: AuditDelivery;
      engine: Engine;
      stopSignal: AbortSignal;
      now: () => number;
    },
  ) {
    const loop = this.loop();
    this.done = loop.catch(() => undefined);
    this.failure = loop.then(
      () => new Promise<never>(() => {}),
      (err) => (isAbort(err, deps.stopSignal) ? new Promise<never>(() => {}) : Promise.reject(err)),
    );
  }

  /** The audit log is done (exit-on-last-event): serve what is queued now, then stop. */
  finish(): Promise<void> {
    this.finishing = true;
    this.wakeup.wake();
    return this.done;
  }

  private async loop(): Promise<void> {
    const { state, options, stopSignal } = this.deps;
    for (;;) {
      for (let req = state.repairs.next(); req; req = state.repairs.next()) await this.serve(req);
      if (this.finishing) return;
      await this.wakeup.wait(options.ingest.timeout, stopSignal);
    }
  }

  /** Why an hour is no longer what verify judged, if it is not: then the request says so instead of sending. */
  private stale(h: RepairHour, filters: string): string | undefined {
    if (h.filters !== filters) return "this instance exports with other filters than verify judged with";
    const row = this.deps.state.digests.between(new Date(h.hour * HOUR_MS), new Date((h.hour + 1) * HOUR_MS)).get(h.hour);
    const now = row ? { count: row.count, digest: row.digest.toString(16) } : null;
    if (JSON.stringify(now) !== JSON.stringify(h.seen)) return "deliveries to the hour changed since verify read it; run verify again";
    return undefined;
  }

  private async serve(req: RepairRequest): Promise<void> {
    const { source, state, options, delivery, engine, stopSignal, now } = this.deps;
    let hours = req.hours;
    if (req.status === "pending") {
      const filters = filterFingerprint(options.ingest);
      hours = hours.map((h) => {
        const skipped = this.stale(h, filters);
        return skipped ? { ...h, done: true, skipped } : h;
      });
      state.repairs.start(req.id, hours, now());
      logger.info(`serving repair request ${req.id} from verify --repair (${hours.length} hour${hours.length === 1 ? "" : "s"})`);
    }
    const todo = new Map(hours.filter((h) => !h.done).map((h) => [h.hour, h]));
    for await (const { hour, events } of readHours(source, engine, options.ingest, [...todo.keys()], stopSignal)) {
      const h = todo.get(hour)!;
      const wanted = h.mode === "missing" ? new Set(h.ids) : undefined;
      const send = wanted ? events.filter((e) => wanted.has(e.id)) : events;
      const parts = [...slices(send, options.fluentd.batchSize)];
      if (parts.length === 0) parts.push([]);
      for (const [i, part] of parts.entries()) {
        const repair = { request: req.id, hour, handled: part.map((e) => e.id), done: i === parts.length - 1, reset: h.mode === "whole" && i === 0 };
        await delivery.deliver(part, { kind: "repair", repair });
      }
    }
    state.repairs.finish(req.id, now());
    const served = state.repairs.get(req.id)!.hours;
    const sent = served.reduce((n, h) => n + h.sent, 0);
    const skipped = served.filter((h) => h.skipped).length;
    logger.info(`repair request ${req.id} done: ${sent} events sent${skipped > 0 ? `, ${skipped} hours skipped (changed since verify)` : ""}`);
  }
}
