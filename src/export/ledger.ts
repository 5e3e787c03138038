import type { AuditCommit, StateStore } from "../state/index.ts";
import type { AuditEvent } from "../teleport/types.ts";
import type { CommitParticipant } from "./acknowledge.ts";
import { filterFingerprint } from "./filters.ts";
import { sweepHorizon } from "./late-sweeps.ts";
import type { ExportOptions } from "./options.ts";

const DAY_MS = 86_400_000;
/** Old digests are pruned at start and then at most this often. */
const PRUNE_EVERY_MS = 3_600_000;

/**
 * What every acknowledged audit batch leaves behind for completeness checks, in the checkpoint's
 * transaction: the per-hour digests `verify` compares, and (while late-event sweeps are on) the
 * ids a sweep must not deliver again.
 */
export function deliveryLedger(state: StateStore, options: ExportOptions, keepIds: boolean, now: () => number): CommitParticipant {
  const filters = filterFingerprint(options.ingest);
  const retentionMs = options.ingest.digestRetentionDays * DAY_MS;
  // Sweeps turned off (or the bulk engine): no schedule to keep, no ids to hold.
  if (!keepIds) state.late.clear();
  state.digests.prune(new Date(now() - retentionMs));
  let pruned = now();
  return {
    inCommit(delivered: readonly AuditEvent[], commit: AuditCommit) {
      state.digests.add(delivered, filters);
      if (keepIds) {
        // Older events are never swept (see `sweepHorizon`): a catch-up keeps no ids for them. The
        // horizon is the one of when they were read, as the sweeps' slices were cut then: a batch
        // Fluentd held up for longer than the longest delay commits events its slice's sweeps will
        // still read. What a sweep found lies in a slice still swept again: all of it is kept.
        const { position } = commit;
        const readAt = position.kind === "legacy" && position.readAt !== undefined ? Math.min(position.readAt, now()) : now();
        const horizon = sweepHorizon(options.ingest.lateEventDelays, readAt);
        state.late.rememberDelivered(commit.late ? delivered : delivered.filter((e) => e.time.getTime() >= horizon));
        // A dead letter was handled too (it is kept for `dead-letters retry`): no sweep sends it again.
        const at = new Date(now());
        state.late.rememberDelivered(commit.deadLetters.map((d) => ({ id: d.record.id, time: at })));
      }
      if (now() - pruned >= PRUNE_EVERY_MS) {
        pruned = now();
        state.digests.prune(new Date(pruned - retentionMs));
      }
    },
  };
}
