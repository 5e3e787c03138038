import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** What the Fluentd-compatible receiver wrote: one `<tag>.jsonl` file per tag, one record per line. */
export interface Landed {
  files: { tag: string; file: string; records: number }[];
  /** One audit record to show: a failed login when there is one (what a SIEM looks for first). */
  sample?: Record<string, unknown>;
  failedLogins: number;
}

const lines = (file: string) => readFileSync(file, "utf8").split("\n").filter(Boolean);

export function readLanded(dir: string): Landed {
  if (!existsSync(dir)) return { files: [], failedLogins: 0 };
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".jsonl"))
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
    .map((f) => ({ tag: f.slice(0, -".jsonl".length), file: join(dir, f), records: lines(join(dir, f)).length }));
  const audit = files.find((f) => f.tag === "events.log");
  let sample: Record<string, unknown> | undefined;
  let failedLogins = 0;
  if (audit) {
    const records = lines(audit.file).map((l) => JSON.parse(l) as { time?: string; record: Record<string, unknown> });
    const failed = records.filter((r) => r.record.event === "user.login" && r.record.success === false);
    failedLogins = failed.length;
    const pick = failed[0] ?? records[0];
    // in_http takes `time` out of the record; put it back so the sample reads like the event sent.
    if (pick) sample = { time: pick.time, ...pick.record };
  }
  return { files, sample, failedLogins };
}

/** The audit log first, then the recordings. */
function rank(file: string): number {
  return file.startsWith("events.") ? 0 : 1;
}

/** Records print data would add, so the demo can show none arrived (skip-session-types = print). */
export function printRecords(landed: Landed): number {
  let n = 0;
  for (const f of landed.files) {
    if (!f.tag.startsWith("session.")) continue;
    for (const l of lines(f.file)) if ((JSON.parse(l) as { record: { event?: string } }).record.event === "print") n++;
  }
  return n;
}
