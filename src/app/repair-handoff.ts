import { sleep } from "../lib/abort.ts";
import { formatDuration } from "../lib/duration.ts";
import { type RepairHour, SCHEMA_VERSION, StateStore } from "../state/index.ts";

/** One hour verify asks the running instance to repair. */
export type RepairAsk = Omit<RepairHour, "sent" | "done">;

/** How often verify looks at its request while it waits: a read of one row. */
const POLL_MS = 200;

/** The running instance did not (or not yet) serve the request: the gaps stay, exit 1. */
export class RepairHandOffError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RepairHandOffError";
  }
}

const instance = (pid: number | undefined) => `the running instance${pid ? ` (pid ${pid})` : ""}`;

/**
 * Hands a repair to the instance that holds the lock: writes the request into the state, waits
 * (bounded) for that instance to serve it, and returns the hours as served. A request nobody took
 * in time is withdrawn, so a later start does not act on a verify that has given up.
 */
export async function handToRunningInstance(
  state: StateStore,
  file: string,
  asks: readonly RepairAsk[],
  opts: { pid: number | undefined; timeoutMs: number; signal: AbortSignal },
): Promise<RepairHour[]> {
  // Every version that serves requests migrated the state to them at its start: an older schema
  // means an older instance, and writing the request would mean migrating its state under it.
  const version = state.schemaVersion();
  if (version < SCHEMA_VERSION) {
    throw new RepairHandOffError(
      `${instance(opts.pid)} is an older teleport-event-handler (its state ${file} has schema version ${version}, this one ${SCHEMA_VERSION}) that does not take repair requests: upgrade it, or stop it and run verify --repair again`,
    );
  }
  const rw = StateStore.open(file, { create: false });
  try {
    const { id } = rw.repairs.request(asks, Date.now());
    const deadline = Date.now() + opts.timeoutMs;
    for (;;) {
      const req = rw.repairs.get(id);
      if (req?.status === "done") return req.hours;
      if (Date.now() >= deadline) {
        const waited = formatDuration(opts.timeoutMs);
        if (rw.repairs.withdraw(id, Date.now())) {
          throw new RepairHandOffError(
            `${instance(opts.pid)} did not take repair request ${id} within ${waited}, so it was withdrawn: an older teleport-event-handler does not take repair requests; upgrade it, or stop it and run verify --repair again (or give --repair-timeout more time)`,
          );
        }
        throw new RepairHandOffError(
          `${instance(opts.pid)} is still serving repair request ${id} after ${waited}; it finishes on its own (see its log): run verify again later to check`,
        );
      }
      try {
        await sleep(POLL_MS, opts.signal);
      } catch (err) {
        // Interrupted: a request left behind would be served for a verify that is gone.
        rw.repairs.withdraw(id, Date.now());
        throw err;
      }
    }
  } finally {
    rw.close();
  }
}
