/**
 * How far behind the export is: now minus the time of the newest audit event Fluentd
 * acknowledged. The one definition the summary, the Prometheus gauge and `status` share.
 */
export function lagMs(newest: Date | undefined, now: number): number | undefined {
  return newest === undefined ? undefined : Math.max(0, now - newest.getTime());
}
