#!/usr/bin/env bun
/**
 * The export-path benchmark (`make bench`). The fake Teleport and the Fluentd-compatible receiver
 * run as separate processes; the compiled handler runs with --exit-on-last-event and is measured
 * by the operating system (see bench/measure.ts). It prints a markdown table and writes it into
 * BENCHMARKS.md. A benchmark, not a test: it never fails on a number.
 *
 *   bun scripts/bench.ts [--quick] [--binary PATH] [--baseline PATH] [--smol PATH] [--unsized] [--out FILE | --no-write]
 *                        [--events N] [--big-events N] [--recording-mb N] [--cold-runs N]
 *                        [--mixed-events N] [--heavy-sessions N] [--go-design]
 *                        [--only a,b,bf,b0,b2,c,d,e,f,f2,g]   (a subset of the scenarios, e.g. while profiling)
 * bf is (b) over Fluentd's forward protocol (forward+tls://, acks) to the in_forward fake; b0 is
 * (b) with --dry-run, no Fluentd at all.
 *
 * --baseline runs every chosen scenario a second time with another build (e.g. main's), right
 * after the first, so before/after figures come from one run on the same machine state; --smol
 * does the same with a build compiled with `--compile-exec-argv=--smol`, and --unsized with the same
 * build and JavaScriptCore's heap sized for the host's RAM (BUN_JSC_forceRAMSize=0; the handler
 * sizes it for 128 MiB otherwise, src/lib/runtime-options.ts).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { describeMachine } from "./bench/machine.ts";
import { measure, medianWallMs } from "./bench/measure.ts";
import { startDelayProxy, type DelayProxy } from "./bench/delay-proxy.ts";
import { BUN, cpuSecondsOf, ROOT, startHelper, type Helper } from "./bench/procs.ts";
import { cpuFloorSeconds, notes, table, writeSection, type Row } from "./bench/report.ts";
import { type FloorSettings, NON_PRINT_EVENTS_PER_RECORDING, rttFloorSeconds, type Wan } from "./bench/floor.ts";
import { FakeEventLog } from "./fakes/fake-events.ts";

const { values: a } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    binary: { type: "string" },
    baseline: { type: "string" },
    smol: { type: "string" },
    unsized: { type: "boolean", default: false },
    "mixed-events": { type: "string" },
    "heavy-sessions": { type: "string" },
    "go-design": { type: "boolean", default: true },
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
/** (f) and (g): a log of which ~10% are session uploads, recordings of 20 events (17 of them print). */
const MIXED_EVENTS = count(a["mixed-events"], 20_000, 2_000);
const MIXED_PRINTS = 17;
/** (f′): recordings of 2,000 events, 1,997 of them print. */
const HEAVY_SESSIONS = count(a["heavy-sessions"], 200, 10);
const HEAVY_PRINTS = 1_997;
/** (g): the WAN the issue describes, in front of each fake. */
const WAN: Wan = { teleportRttMs: 50, fluentdRttMs: 5 };
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
  const helper = await startHelper<TeleportInfo>(["scripts/fake-teleport.ts", "--start", start, "--days", "3", "--out", join(work, name), "--warm-events", ...flags]);
  return { helper, start };
}

interface Variant {
  /** Appended to the scenario label, e.g. " [before]". */
  tag: string;
  bin: string;
  /** Added to the handler's environment. */
  env?: Record<string, string>;
}

/** What the floor and the per-session figures need to know about a log. */
interface LogShape {
  events: number;
  sessions: number;
  prints: number;
}

async function scenario(
  variant: Variant,
  teleport: { helper: Helper<TeleportInfo>; start: string },
  label: string,
  flags: string[],
  shape?: LogShape,
  wan?: Wan,
  protocol: "http" | "forward" = "http",
): Promise<Row> {
  const t = teleport.helper.info;
  const forward = protocol === "forward" ? ["--forward", "0"] : [];
  const receiver = await startHelper<{ port: number; url: string }>(["scripts/fake-fluentd.ts", "--ca", t.fluentd.caFile, "--cert", t.fluentd.certFile, "--key", t.fluentd.keyFile, ...forward]);
  // The delay proxies forward TCP, so TLS still ends at the fakes; the Fluentd URL keeps the name
  // its certificate carries (localhost) and only the port changes.
  const proxies: DelayProxy[] = [];
  const via = async (host: string, port: number, rttMs: number | undefined) => {
    if (!rttMs) return port;
    const proxy = await startDelayProxy({ host, port }, rttMs);
    proxies.push(proxy);
    return proxy.port;
  };
  const [teleportHost, teleportPort] = t.addr.split(":") as [string, string];
  const teleportAddr = `${teleportHost}:${await via(teleportHost, Number(teleportPort), wan?.teleportRttMs)}`;
  const receiverUrl = new URL(receiver.info.url);
  receiverUrl.port = String(await via("127.0.0.1", Number(receiverUrl.port), wan?.fluentdRttMs));
  const url = receiverUrl.href.replace(/\/$/, "");
  const storage = mkdtempSync(join(work, "storage-"));
  const cpu = (h: Helper<unknown>) => cpuSecondsOf(h.proc.pid);
  const [teleportBefore, receiverBefore] = [cpu(teleport.helper), cpu(receiver)];
  const name = label + variant.tag;
  log(`running ${name}`);
  const run = await measure([
    variant.bin, "start",
    "--teleport-addr", teleportAddr, "--teleport-identity", t.identityFile,
    "--fluentd-url", `${url}/events.log`, "--fluentd-session-url", `${url}/session`,
    "--fluentd-ca", t.fluentd.caFile, "--fluentd-cert", t.fluentd.clientCertFile, "--fluentd-key", t.fluentd.clientKeyFile,
    "--storage", storage, "--start-time", teleport.start, "--exit-on-last-event",
    ...flags,
  ], variant.env);
  await Promise.all(proxies.map((p) => p.close()));
  const delta = (after: number | undefined, before: number | undefined) => (after === undefined || before === undefined ? undefined : after - before);
  const teleportCpu = delta(cpu(teleport.helper), teleportBefore);
  const receiverCpu = delta(cpu(receiver), receiverBefore);
  const received = Number(/stored (\d+) records/.exec(await receiver.stop())?.[1] ?? 0);
  // A dry run sends nothing: its count is what the handler says it read.
  const dryRead = flags.includes("--dry-run") ? [...run.stderr.matchAll(/(\d+) events read \(dry run/g)].at(-1)?.[1] : undefined;
  const stored = dryRead === undefined ? received : Number(dryRead);
  rmSync(storage, { recursive: true, force: true });
  let note = "";
  if (run.code !== 0) {
    note = `handler exited with ${run.code}`;
    log(`${name}: ${note}; last log lines:\n${run.stderr.split("\n").slice(-8).join("\n")}`);
  }
  // The handler's own summary line, the last one (runs past a minute log progress lines first):
  // recordings it finished (missing ones are not counted).
  const sessions = Number([...run.stderr.matchAll(/(\d+) sessions delivered/g)].at(-1)?.[1] ?? 0);
  const floorSeconds = wan && shape ? rttFloorSeconds({ ...shape, recordings: recordingsIn(shape) }, flagSettings(flags), wan) : undefined;
  const recordingEventsRead = shape ? recordingsIn(shape) * (shape.prints + NON_PRINT_EVENTS_PER_RECORDING) : undefined;
  return { scenario: name, events: stored, sessions, recordingEventsRead, wallSeconds: run.wallSeconds, cpuSeconds: run.cpuSeconds, peakRssMB: run.peakRssMB, teleportCpu, receiverCpu, floorSeconds, note };
}

/** Sessions of the log that have a recording, by the fake's own rule (the others answer NOT_FOUND). */
function recordingsIn(shape: LogShape): number {
  const log = new FakeEventLog({ events: shape.events, sessions: shape.sessions });
  let n = 0;
  for (let k = 0; k < log.sessions; k++) if (log.hasRecording(k)) n++;
  return n;
}

/** The handler settings the floor depends on: the flags given, else the handler's defaults. */
function flagSettings(flags: string[]): FloorSettings {
  const flag = (name: string, fallback: number) => {
    const at = flags.indexOf(`--${name}`);
    return at >= 0 ? Number(flags[at + 1]) : fallback;
  };
  return {
    batch: flag("batch", 20),
    fluentdBatchSize: flag("fluentd-batch-size", 100),
    fluentdInflightBatches: flag("fluentd-inflight-batches", 4),
    concurrency: flag("concurrency", 5),
  };
}

async function main(): Promise<void> {
  const variants: Variant[] = [{ tag: "", bin: await compile() }];
  if (a.baseline) variants.push({ tag: " [before]", bin: a.baseline });
  if (a.smol) variants.push({ tag: " [--smol]", bin: a.smol });
  if (a.unsized) variants.push({ tag: " [heap unsized]", bin: variants[0]!.bin, env: { BUN_JSC_forceRAMSize: "0" } });
  // First, while nothing else runs: after the scenarios the same build measured ~100-110 ms where
  // it starts in ~50-65 ms on its own (the full runs of rounds 5 and 6).
  const coldMs = wanted("e") ? await medianWallMs([variants[0]!.bin, "version"], COLD_RUNS) : undefined;
  const rows: Row[] = [];
  /** Runs one scenario with every build, side by side. */
  const each = async (
    teleport: { helper: Helper<TeleportInfo>; start: string },
    label: string,
    flags: string[],
    shape?: LogShape,
    wan?: Wan,
    protocol?: "http" | "forward",
  ): Promise<Row[]> => {
    const out: Row[] = [];
    for (const v of variants) out.push(await scenario(v, teleport, label, flags, shape, wan, protocol));
    rows.push(...out);
    return out;
  };
  const withTeleport = async (name: string, flags: string[], body: (t: { helper: Helper<TeleportInfo>; start: string }) => Promise<void>) => {
    const teleport = await startTeleport(name, flags);
    try {
      await body(teleport);
    } finally {
      await teleport.helper.stop();
    }
  };

  let ra: Row[] = [];
  let rb: Row[] = [];
  let rbf: Row[] = [];
  let rNoSink: Row[] = [];

  if (wanted("a") || wanted("b") || wanted("bf") || wanted("b0") || wanted("b2")) {
    await withTeleport("audit", ["--events", String(EVENTS), "--sessions", "0"], async (audit) => {
      if (wanted("a")) ra = await each(audit, "(a) audit, fluentd-batch-size 1", ["--fluentd-batch-size", "1"]);
      if (wanted("b")) rb = await each(audit, "(b) audit, default batching", []);
      if (wanted("bf")) rbf = await each(audit, "(b) audit, default batching, forward protocol", [], undefined, undefined, "forward");
      // What any sink could gain on (b) at most: the same run with no Fluentd at all.
      if (wanted("b0")) rNoSink = await each(audit, "(b₀) audit, default batching, no sink (--dry-run)", ["--dry-run"]);
      if (wanted("b2")) await each(audit, "(b′) audit, default batching, --batch 500", ["--batch", "500"]);
    });
  }

  if (wanted("c")) {
    await withTeleport("big", ["--events", String(BIG_EVENTS), "--sessions", "0"], async (big) => {
      await each(big, "(c) audit, large log", []);
    });
  }

  if (wanted("d")) {
    // Four audit events carry the one session.upload; the recording is the first session's.
    await withTeleport("recording", ["--events", "4", "--sessions", "1", "--large-recording-mb", String(RECORDING_MB)], async (recording) => {
      // print is skipped by default; here the recording's bulk is exactly what is measured.
      const flags = ["--skip-session-types", "desktop.recording"];
      for (const r of await each(recording, `(d) one ${RECORDING_MB} MB session recording`, flags)) r.note = "events = recording events + 4 audit";
    });
  }

  const mixed: LogShape = { events: MIXED_EVENTS, sessions: Math.round(MIXED_EVENTS / 10), prints: MIXED_PRINTS };
  // Recordings are encoded before the handler starts: the fake's generation would cost more CPU
  // than the handler spends on them, on the same two cores.
  const mixedFlags = ["--events", String(mixed.events), "--sessions", String(mixed.sessions), "--prints", String(mixed.prints), "--warm-recordings"];
  if (wanted("f")) {
    // The same number of audit events without sessions, so (f)'s per-session cost is what the
    // sessions add (the "audit cost subtracted" of the target).
    const auditOnly: Row[] = [];
    await withTeleport("mixed-audit", ["--events", String(mixed.events), "--sessions", "0"], async (t) => {
      auditOnly.push(...(await each(t, "(f₀) audit only, (f)'s size", [])));
    });
    await withTeleport("mixed", mixedFlags, async (t) => {
      const rows = await each(t, `(f) mixed log, ${thousands(mixed.sessions)} sessions`, [], mixed);
      rows.forEach((r, i) => (r.auditCpuSeconds = auditOnly[i]?.cpuSeconds));
    });
  }

  if (wanted("f2")) {
    const heavy: LogShape = { events: HEAVY_SESSIONS * 10, sessions: HEAVY_SESSIONS, prints: HEAVY_PRINTS };
    await withTeleport("print-heavy", ["--events", String(heavy.events), "--sessions", String(heavy.sessions), "--prints", String(heavy.prints), "--warm-recordings"], async (t) => {
      await each(t, `(f′) ${HEAVY_SESSIONS} print-heavy recordings`, [], heavy);
    });
  }

  if (wanted("g")) {
    await withTeleport("wan", mixedFlags, async (t) => {
      const wan = `${WAN.teleportRttMs} ms RTT to Teleport, ${WAN.fluentdRttMs} ms to Fluentd`;
      await each(t, `(g) (f) over a WAN (${wan}), defaults`, [], mixed, WAN);
      await each(t, "(g) same, --batch 500 --concurrency 50", ["--batch", "500", "--concurrency", "50"], mixed, WAN);
      // The Go tool's design: one POST per event, each awaited before the next, five sessions at a
      // time (its defaults otherwise).
      if (a["go-design"]) {
        const goDesign = ["--fluentd-batch-size", "1", "--fluentd-inflight-batches", "1"];
        rows.push(await scenario(variants[0]!, t, "(g) same, the Go tool's design: --fluentd-batch-size 1 --fluentd-inflight-batches 1", goDesign, mixed, WAN));
      }
    });
  }

  const ratio = ra[0] && rb[0] ? rb[0].events / rb[0].wallSeconds / (ra[0].events / ra[0].wallSeconds) : undefined;
  const perK = (r: Row) => (r.cpuSeconds / r.events) * 1000;
  const [b0, bf0, noSink] = [rb[0], rbf[0], rNoSink[0]];
  const forwardLine =
    b0 && bf0
      ? `- (b) forward/in_http: ${(bf0.events / bf0.wallSeconds / (b0.events / b0.wallSeconds)).toFixed(2)}× the events/s, handler CPU s per 1k events ${perK(bf0).toFixed(3)} against ${perK(b0).toFixed(3)}${cpuCapLine(b0, bf0)}${noSink ? `; with no sink at all, (b₀) ran ${(noSink.events / noSink.wallSeconds / (b0.events / b0.wallSeconds)).toFixed(2)}× in_http's events/s` : ""}`
      : undefined;

  const report = [
    `Machine: ${describeMachine()}.`,
    `Measured with ${(await measureMethod())}; events are what the receiver stored, sessions what the handler reported delivered.`,
    "",
    table(rows),
    "",
    ...notes(rows),
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

const thousands = (n: number) => Math.round(n).toLocaleString("en-US");

/** The most events/s the three processes' CPU per event allows forward on these cores, next to 1.5× in_http's rate. */
function cpuCapLine(http: Row, forward: Row): string {
  const floor = cpuFloorSeconds(forward);
  if (floor === undefined) return "";
  return `; the CPU of all three processes allows forward at most ${thousands(forward.events / floor)} events/s here (1.5× in_http: ${thousands((1.5 * http.events) / http.wallSeconds)})`;
}

async function measureMethod(): Promise<string> {
  return (await measure(["true"])).method;
}

try {
  await main();
} finally {
  rmSync(work, { recursive: true, force: true });
}
