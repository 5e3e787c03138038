#!/usr/bin/env bun
/**
 * The export-path benchmark (`make bench`). The fake Teleport and the Fluentd-compatible receiver
 * run as separate processes; the compiled handler runs with --exit-on-last-event and is measured
 * by the operating system (see bench/measure.ts). It prints a markdown table and writes it into
 * BENCHMARKS.md. A benchmark, not a test: it never fails on a number.
 *
 *   bun scripts/bench.ts [--quick] [--binary PATH] [--out FILE | --no-write]
 *                        [--events N] [--big-events N] [--recording-mb N] [--cold-runs N]
 *                        [--only a,b,bf,b2,c,d,e]   (a subset of the scenarios, e.g. while profiling)
 * bf is (b) over Fluentd's forward protocol (forward+tls://, acks) to the in_forward fake.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { describeMachine } from "./bench/machine.ts";
import { measure, medianWallMs } from "./bench/measure.ts";
import { BUN, cpuSecondsOf, ROOT, startHelper, type Helper } from "./bench/procs.ts";
import { table, writeSection, type Row } from "./bench/report.ts";

const { values: a } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    binary: { type: "string" },
    out: { type: "string" },
    "no-write": { type: "boolean", default: false },
    events: { type: "string" },
    "big-events": { type: "string" },
    "recording-mb": { type: "string" },
    "cold-runs": { type: "string" },
    only: { type: "string" },
  },
  strict: true,
});

const count = (v: string | undefined, full: number, quick: number) => (v === undefined ? (a.quick ? quick : full) : Number(v));
const EVENTS = count(a.events, 200_000, 2_000);
const BIG_EVENTS = count(a["big-events"], 1_000_000, 5_000);
const RECORDING_MB = count(a["recording-mb"], 100, 2);
const COLD_RUNS = count(a["cold-runs"], 10, 3);
const ONLY = a.only ? new Set(a.only.split(",").map((s) => s.trim())) : undefined;
const wanted = (key: string) => !ONLY || ONLY.has(key);
// A partial run must not overwrite the full table.
const OUT = a["no-write"] || ONLY ? undefined : (a.out ?? (a.quick ? undefined : join(ROOT, "BENCHMARKS.md")));

interface TeleportInfo {
  addr: string;
  identityFile: string;
  fluentd: { caFile: string; certFile: string; keyFile: string; clientCertFile: string; clientKeyFile: string };
}

const work = mkdtempSync(join(tmpdir(), "teh-bench-"));
const log = (s: string) => process.stderr.write(`bench: ${s}\n`);

async function compile(): Promise<string> {
  if (a.binary) return a.binary;
  const out = join(work, "teleport-event-handler");
  log("compiling the handler");
  const proc = Bun.spawn([BUN, "build", "--compile", "src/main.ts", "--outfile", out], { cwd: ROOT, stdout: "ignore", stderr: "pipe" });
  if ((await proc.exited) !== 0) throw new Error(`compile failed: ${await new Response(proc.stderr).text()}`);
  return out;
}

/** A fake Teleport whose log starts at a known instant, so start-time covers it exactly. */
async function startTeleport(name: string, flags: string[]): Promise<{ helper: Helper<TeleportInfo>; start: string }> {
  const start = new Date(Math.floor(Date.now() / 86_400_000 - 4) * 86_400_000).toISOString().replace(".000Z", "Z");
  const helper = await startHelper<TeleportInfo>(["scripts/fake-teleport.ts", "--start", start, "--days", "3", "--out", join(work, name), ...flags]);
  return { helper, start };
}

async function scenario(
  bin: string,
  teleport: { helper: Helper<TeleportInfo>; start: string },
  label: string,
  flags: string[],
  protocol: "http" | "forward" = "http",
): Promise<Row> {
  const t = teleport.helper.info;
  const forward = protocol === "forward" ? ["--forward", "0"] : [];
  const receiver = await startHelper<{ port: number; url: string }>(["scripts/fake-fluentd.ts", "--ca", t.fluentd.caFile, "--cert", t.fluentd.certFile, "--key", t.fluentd.keyFile, ...forward]);
  const url = receiver.info.url.replace(/\/$/, "");
  const storage = mkdtempSync(join(work, "storage-"));
  const cpu = (h: Helper<unknown>) => cpuSecondsOf(h.proc.pid);
  const [teleportBefore, receiverBefore] = [cpu(teleport.helper), cpu(receiver)];
  log(`running ${label}`);
  const run = await measure([
    bin, "start",
    "--teleport-addr", t.addr, "--teleport-identity", t.identityFile,
    "--fluentd-url", `${url}/events.log`, "--fluentd-session-url", `${url}/session`,
    "--fluentd-ca", t.fluentd.caFile, "--fluentd-cert", t.fluentd.clientCertFile, "--fluentd-key", t.fluentd.clientKeyFile,
    "--storage", storage, "--start-time", teleport.start, "--exit-on-last-event",
    ...flags,
  ]);
  const delta = (after: number | undefined, before: number | undefined) => (after === undefined || before === undefined ? undefined : after - before);
  const teleportCpu = delta(cpu(teleport.helper), teleportBefore);
  const receiverCpu = delta(cpu(receiver), receiverBefore);
  const stored = Number(/stored (\d+) records/.exec(await receiver.stop())?.[1] ?? 0);
  rmSync(storage, { recursive: true, force: true });
  let note = "";
  if (run.code !== 0) {
    note = `handler exited with ${run.code}`;
    log(`${label}: ${note}; last log lines:\n${run.stderr.split("\n").slice(-8).join("\n")}`);
  }
  return { scenario: label, events: stored, wallSeconds: run.wallSeconds, cpuSeconds: run.cpuSeconds, peakRssMB: run.peakRssMB, teleportCpu, receiverCpu, note };
}

async function main(): Promise<void> {
  const bin = await compile();
  const rows: Row[] = [];

  let ra: Row | undefined;
  let rb: Row | undefined;
  let rbf: Row | undefined;

  if (wanted("a") || wanted("b") || wanted("bf") || wanted("b2")) {
    const audit = await startTeleport("audit", ["--events", String(EVENTS), "--sessions", "0"]);
    try {
      if (wanted("a")) rows.push((ra = await scenario(bin, audit, "(a) audit, fluentd-batch-size 1", ["--fluentd-batch-size", "1"])));
      if (wanted("b")) rows.push((rb = await scenario(bin, audit, "(b) audit, default batching", [])));
      if (wanted("bf")) rows.push((rbf = await scenario(bin, audit, "(b) audit, default batching, forward protocol", [], "forward")));
      if (wanted("b2")) rows.push(await scenario(bin, audit, "(b′) audit, default batching, --batch 500", ["--batch", "500"]));
    } finally {
      await audit.helper.stop();
    }
  }

  if (wanted("c")) {
    const big = await startTeleport("big", ["--events", String(BIG_EVENTS), "--sessions", "0"]);
    try {
      rows.push(await scenario(bin, big, "(c) audit, large log", []));
    } finally {
      await big.helper.stop();
    }
  }

  if (wanted("d")) {
    // Four audit events carry the one session.upload; the recording is the first session's.
    const recording = await startTeleport("recording", ["--events", "4", "--sessions", "1", "--large-recording-mb", String(RECORDING_MB)]);
    try {
      // print is skipped by default; here the recording's bulk is exactly what is measured.
      const flags = ["--skip-session-types", "desktop.recording"];
      rows.push({ ...(await scenario(bin, recording, `(d) one ${RECORDING_MB} MB session recording`, flags)), note: "events = recording events + 4 audit" });
    } finally {
      await recording.helper.stop();
    }
  }

  const coldMs = wanted("e") ? await medianWallMs([bin, "version"], COLD_RUNS) : undefined;
  const ratio = ra && rb ? rb.events / rb.wallSeconds / (ra.events / ra.wallSeconds) : undefined;
  const perK = (r: Row) => (r.cpuSeconds / r.events) * 1000;
  const forwardLine =
    rb && rbf
      ? `- (b) forward/in_http: ${(rbf.events / rbf.wallSeconds / (rb.events / rb.wallSeconds)).toFixed(2)}× the events/s, handler CPU s per 1k events ${perK(rbf).toFixed(3)} against ${perK(rb).toFixed(3)}`
      : undefined;

  const report = [
    `Machine: ${describeMachine()}.`,
    `Measured with ${(await measureMethod())}; events are what the receiver stored.`,
    "",
    table(rows),
    "",
    ...(ratio === undefined ? [] : [`- (b)/(a) throughput ratio: ${ratio.toFixed(1)}×`]),
    ...(forwardLine === undefined ? [] : [forwardLine]),
    ...(coldMs === undefined ? [] : [`- (e) \`version\` cold start, median of ${COLD_RUNS}: ${coldMs.toFixed(0)} ms`]),
  ].join("\n");
  console.log(report);
  if (OUT) {
    writeSection(OUT, report);
    log(`wrote ${OUT}`);
  }
}

async function measureMethod(): Promise<string> {
  return (await measure(["true"])).method;
}

try {
  await main();
} finally {
  rmSync(work, { recursive: true, force: true });
}
