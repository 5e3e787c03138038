/**
 * How far behind the export is: now minus the time of the newest audit event Fluentd
 * acknowledged, or, before anything was acknowledged, minus the export's start time (a fresh
 * deploy that never delivers is as far behind as its start time, and must alert). The one
 * definition the summary, the Prometheus gauge and `status` share.
 */
export function lagMs(newest: Date | undefined, now: number, startTime?: Date): number | undefined {
  const from = newest ?? startTime;
  return from === undefined ? undefined : Math.max(0, now - from.getTime());
}
