import { health } from "../observability/health.ts";
import type { StateStore } from "../state/index.ts";

/** How often the running instance copies the Fluentd failure (if any) into the state for `status`. */
const SYNC_MS = 5_000;

/**
 * Keeps the state's record of failing deliveries in step with what the sink reports, writing only
 * when it changes. Returns a function that writes the final word and stops.
 */
export function recordDeliveryFailures(state: StateStore, intervalMs = SYNC_MS): () => void {
  let written: string | undefined;
  const sync = () => {
    const failing = health.fluentdFailing();
    const key = failing ? `${failing.since}|${failing.reason}` : "";
    if (key === written) return;
    state.meta.setDeliveryFailure(failing && { since: new Date(failing.since), reason: failing.reason });
    written = key;
  };
  const timer = setInterval(sync, intervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    sync();
  };
}
