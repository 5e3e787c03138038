/**
 * The one way a duration is shown to a person: logs, warnings, `status`, the summary line. Go
 * style ("1m30s", "50h11m"), so what is printed can be pasted back into a duration setting.
 * Fractions of a second are only kept below a minute, where they matter.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return "0s";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms >= 60_000) ms = Math.round(ms / 1000) * 1000;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  const secs = s ? `${Number.isInteger(s) ? s : s.toFixed(1).replace(/\.0$/, "")}s` : "";
  return `${h ? `${h}h` : ""}${m ? `${m}m` : ""}${secs}`;
}
