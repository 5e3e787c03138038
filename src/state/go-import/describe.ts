import type { GoState } from "./read.ts";

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** What an import takes over, in one line: the log line at first start and `migrate --dry-run`. */
export function describeGoState(go: GoState): string {
  const parts = [go.startTime ? `start time ${go.startTime.toISOString()}` : "no start time"];
  if (go.legacy) {
    const { windowStart, pageKey, lastEventId } = go.legacy;
    const page = pageKey ? "a saved page" : "the first page";
    parts.push(`legacy position in the window from ${windowStart.toISOString()}, ${page}${lastEventId ? `, after event ${lastEventId}` : ""}`);
  }
  if (go.bulkDates.length > 0) {
    const dates = go.bulkDates.map((date) => {
      const chunks = go.bulkChunks.filter((c) => c.date === date);
      const done = chunks.filter((c) => c.completed).length;
      return `${date} (${done} completed, ${chunks.length - done} partial chunks)`;
    });
    parts.push(`bulk export dates ${dates.join(", ")}`);
  }
  if (go.staleLegacy) parts.push("stale legacy position ignored, as the Go tool ignores it next to bulk state");
  parts.push(plural(go.sessions.length, "session recording") + " in progress");
  parts.push(plural(go.missing.length, "missing recording"));
  return parts.join("; ");
}
