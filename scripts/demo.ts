#!/usr/bin/env bun
/**
 * `make demo`: the handler's main job end to end on this machine, with nothing to set up.
 *   1. `teleport-event-handler configure` (the compiled binary) writes the mTLS material and the TOML;
 *   2. a simulated Teleport Auth server serves a few days of audit events and session recordings;
 *   3. a Fluentd-compatible receiver listens with configure's server certificate and encrypted key;
 *   4. the handler exports everything with `--exit-on-last-event`;
 *   5. the demo shows what landed where, then stops every process it started (also on Ctrl-C).
 * Each run starts from scratch (fresh certificates with --force, empty storage and receiver output),
 * so it always shows a full export; resuming after a crash is covered by the end-to-end tests.
 *
 *   bun scripts/demo.ts [--binary dist/teleport-event-handler] [--dir .demo] [--events 3000] [--days 4]
 *                       [--sessions 8] [--key-length 4096] [--receiver-latency-ms 0] [--no-lock]
 * The simulated log ends with a burst of failed logins by one user; the handler runs with
 * --lock-enabled (unless --no-lock) so auto-locking locks that user in the simulated Teleport.
 */
import { randomBytes } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { isAbsolute, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Children, firstLine, type Child } from "./demo/children.ts";
import { printRecords, readLanded } from "./demo/landed.ts";

const ROOT = resolve(import.meta.dir, "..");
const BUN = process.execPath;

const { values: a } = parseArgs({
  allowNegative: true,
  options: {
    binary: { type: "string", default: join(ROOT, "dist/teleport-event-handler") },
    dir: { type: "string", default: join(ROOT, ".demo") },
    events: { type: "string", default: "3000" },
    days: { type: "string", default: "4" },
    sessions: { type: "string", default: "8" },
    "key-length": { type: "string", default: "4096" },
    "receiver-latency-ms": { type: "string", default: "0" },
    "failed-login-burst": { type: "string", default: "5" },
    lock: { type: "boolean", default: true },
  },
  strict: true,
});

const binary = resolve(a.binary);
const dir = resolve(a.dir);
const paths = {
  mtls: join(dir, "mtls"),
  teleport: join(dir, "teleport"),
  received: join(dir, "fluentd"),
  storage: join(dir, "storage"),
  handlerLog: join(dir, "handler.log"),
};
const children = new Children();
const startedAt = Date.now();
let interrupted = false;

/** Paths as a newcomer would type them: relative to where the demo was started when inside it. */
const show = (p: string) => {
  const r = relative(process.cwd(), p);
  return r && !r.startsWith("..") && !isAbsolute(r) ? r : p;
};
const say = (s = "") => process.stdout.write(s + "\n");
const step = (n: number, s: string) => say(`\n[${n}/5] ${s}`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, async () => {
    if (interrupted) return;
    interrupted = true;
    say(`\n${signal === "SIGINT" ? "Ctrl-C" : signal}: stopping ${children.names().join(", ") || "nothing"}`);
    const stopped = await children.stopAll();
    say(`demo interrupted; stopped ${stopped.length} process(es), none left running`);
    process.exit(signal === "SIGINT" ? 130 : 143);
  });
}

async function main(): Promise<void> {
  if (!existsSync(binary)) throw new Error(`no handler binary at ${show(binary)}: run "make build" (or "make demo", which builds it)`);
  for (const p of [paths.teleport, paths.received, paths.storage, paths.handlerLog]) rmSync(p, { recursive: true, force: true });
  mkdirSync(paths.mtls, { recursive: true, mode: 0o700 });

  const days = Number(a.days);
  // Whole seconds, so the start-time flag below reads cleanly.
  const firstEvent = new Date(Math.floor(Date.now() / 1000) * 1000 - days * 86_400_000);
  say(`teleport-event-handler demo: everything runs on 127.0.0.1 and lands in ${show(dir)}/`);

  step(1, `Simulated Teleport Auth server: ${a.events} audit events over ${days} days, ${a.sessions} recorded sessions, failed logins (the last ${a["failed-login-burst"]} by one user, just now)`);
  const teleport = children.spawn("fake Teleport", [
    BUN, join(ROOT, "scripts/fake-teleport.ts"), "--events", a.events, "--days", a.days, "--sessions", a.sessions,
    "--start", firstEvent.toISOString(), "--cluster", "demo.example.com", "--out", paths.teleport,
    "--failed-login-burst", a["failed-login-burst"],
  ]);
  const tp = JSON.parse(await firstLine(teleport)) as { addr: string; identityFile: string; clusterName: string };
  say(`      listening on ${tp.addr} (cluster ${tp.clusterName}); the handler's identity file: ${show(tp.identityFile)}`);

  step(2, `mTLS material and configuration from our configure command (passphrase piped on stdin)`);
  const passphrase = randomBytes(24).toString("hex");
  await configure(tp.addr, passphrase);
  const passFile = join(paths.mtls, "server.pass");
  writeFileSync(passFile, passphrase + "\n", { mode: 0o600 });

  step(3, `Fluentd-compatible receiver, using configure's server.crt and its encrypted server.key`);
  const receiver = children.spawn("receiver", [
    BUN, join(ROOT, "scripts/fake-fluentd.ts"), "--out", paths.received, "--ca", join(paths.mtls, "ca.crt"),
    "--cert", join(paths.mtls, "server.crt"), "--key", join(paths.mtls, "server.key"), "--passphrase-file", passFile,
    "--latency-ms", a["receiver-latency-ms"],
  ]);
  const rx = JSON.parse(await firstLine(receiver)) as { port: number };
  say(`      listening on https://localhost:${rx.port} (like Fluentd's in_http with client_cert_auth)`);

  const args = [
    "start", "--config", join(paths.mtls, "teleport-event-handler.toml"),
    "--teleport-identity", tp.identityFile,
    "--fluentd-url", `https://localhost:${rx.port}/events.log`,
    "--fluentd-session-url", `https://localhost:${rx.port}/session`,
    "--storage", paths.storage,
    "--start-time", firstEvent.toISOString().replace(".000Z", "Z"),
    "--exit-on-last-event",
    ...(a.lock ? ["--lock-enabled"] : []),
  ];
  step(4, `The handler exports the audit log and the recordings, then exits (--exit-on-last-event):`);
  say(`      ${show(binary)} ${args.map((x) => (x.startsWith("/") ? show(x) : x)).join(" ")}`);
  const summary = await runHandler(args);

  await stopServers(teleport, receiver);
  report(summary, locksIn(teleport.stderr()));
}

async function configure(addr: string, passphrase: string): Promise<void> {
  const args = ["configure", paths.mtls, addr, "--force", "--length", a["key-length"]];
  say(`      printf %s "$PASS" | ${show(binary)} ${args.map((x) => (x.startsWith("/") ? show(x) : x)).join(" ")}`);
  const child = children.spawn("configure", [binary, ...args], { stdin: "pipe" });
  const stdin = child.proc.stdin as import("bun").FileSink;
  stdin.write(passphrase);
  await stdin.end();
  const out = await new Response(child.proc.stdout).text();
  if ((await child.proc.exited) !== 0) throw new Error(`configure failed:\n${child.stderr().trim() || out.trim()}`);
  for (const line of out.split("\n")) if (/^\[\d\]/.test(line)) say(`      ${line.replace(/^\[\d\] /, "")}`);
}

/**
 * Runs the handler with its log shown live (minus the start-up "Using …" settings, which stay in
 * handler.log); resolves with its summary line.
 */
async function runHandler(args: string[]): Promise<string> {
  // The user's own FDFWD_* settings must not leak into the demo.
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^FD(FW|WR)D_/.test(k)) env[k] = v;
  let summary = "";
  let settingsHidden = false;
  const handler = children.spawn("handler", [binary, ...args], {
    env,
    onStderrLine(line) {
      if (!line.trim()) return;
      appendFileSync(paths.handlerLog, line + "\n");
      if (line.includes("summary:")) summary = line.slice(line.indexOf("summary:"));
      if (/\bINFO\s+(Using|Skipping|Exiting after)\b/.test(line)) {
        if (!settingsHidden) say(`      | (its settings, one "Using …" line each, are in ${show(paths.handlerLog)})`);
        settingsHidden = true;
        return;
      }
      say(`      | ${line}`);
    },
  });
  void new Response(handler.proc.stdout).text();
  const code = await handler.proc.exited;
  if (interrupted) await new Promise(() => {});
  if (code !== 0) throw new Error(`the handler exited with code ${code}; its log is above`);
  return summary;
}

/** Stops the fakes; the receiver writes out what it buffered as it stops. */
async function stopServers(...servers: Child[]): Promise<void> {
  for (const s of servers) await children.stop(s);
}

/** The locks the simulated Teleport reports at shutdown (auto-locking's effect). */
function locksIn(teleportLog: string): string[] {
  return teleportLog.split("\n").filter((l) => l.startsWith("fake-teleport: lock ")).map((l) => l.slice("fake-teleport: ".length));
}

function report(summary: string, locks: string[]): void {
  const landed = readLanded(paths.received);
  step(5, `Where the events landed: ${show(paths.received)}/ (one file per Fluentd tag, one record per line)`);
  const width = Math.max(...landed.files.map((f) => f.tag.length));
  let total = 0;
  for (const f of landed.files) {
    say(`      ${f.tag.padEnd(width)}  ${String(f.records).padStart(6)} records`);
    total += f.records;
  }
  const recordings = landed.files.filter((f) => f.tag.startsWith("session.")).length;
  say(`      total: ${total} records (${recordings} session recordings; ${printRecords(landed)} print events, as skip-session-types drops them)`);
  if (landed.sample) say(`\n      sample audit event (events.log):\n      ${JSON.stringify(landed.sample)}`);
  if (landed.sample) say(`      failed logins in the audit log: ${landed.failedLogins}`);
  if (a.lock) say(locks.length ? `      auto-locking created ${locks.length} lock(s) in Teleport:\n${locks.map((l) => `        ${l}`).join("\n")}` : "      auto-locking created no locks");
  say(`\n      handler ${summary || "summary: (none logged)"}`);
  say(`\nDone in ${((Date.now() - startedAt) / 1000).toFixed(1)} s; all demo processes stopped.`);
  say(`Next: the configuration the demo used is ${show(join(paths.mtls, "teleport-event-handler.toml"))}; README "Quick start" wires it to a real cluster.`);
}

try {
  await main();
} catch (err) {
  if (interrupted) await new Promise(() => {});
  process.stderr.write(`\ndemo failed: ${(err as Error).message}\n`);
  await children.stopAll();
  process.exit(1);
}
