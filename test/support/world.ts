import { afterAll, beforeAll, expect } from "bun:test";
import { type Subprocess } from "bun";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { startFakeFluentd, type FakeFluentd, type FakeFluentdOptions } from "../../scripts/fakes/fake-fluentd.ts";
import { startFakeForward, type FakeForward, type FakeForwardOptions } from "../../scripts/fakes/fake-forward.ts";
import type { ReceivedRecords } from "../../scripts/fakes/record-store.ts";
import { startFakeTeleport, type FakeTeleport, type FakeTeleportOptions } from "../../scripts/fakes/fake-teleport.ts";
import { createTestPki, tempDir, type TestPki } from "../../scripts/fakes/pki.ts";

/**
 * The end-to-end test world: the fake Teleport and the Fluentd-compatible receiver run inside the
 * test process (so tests can inject faults and count records), and the handler runs as the
 * compiled binary in its own process, exactly as users run it.
 */
export const ROOT = resolve(import.meta.dir, "../..");
const BUN = join(ROOT, "node_modules/.bin/bun");

let binary: Promise<string> | undefined;

/** Compiles src/main.ts once per test process; later calls reuse the same binary. */
export function compiledBinary(): Promise<string> {
  binary ??= (async () => {
    const dir = tempDir("teh-bin-");
    const out = join(dir, "teleport-event-handler");
    const proc = Bun.spawn([BUN, "build", "--compile", join(ROOT, "src/main.ts"), "--outfile", out], {
      cwd: ROOT,
      stdout: "pipe",
      stderr: "pipe",
    });
    if ((await proc.exited) !== 0) throw new Error(`compile failed: ${await new Response(proc.stderr).text()}`);
    return out;
  })();
  return binary;
}

export type Protocol = "http" | "forward";

export interface WorldOptions {
  teleport?: Omit<FakeTeleportOptions, "pki">;
  fluentd?: Partial<Omit<FakeFluentdOptions, "ca" | "cert" | "key">>;
  /** Starts the in_forward receiver too (over mTLS with the same certificates), with these options. */
  forward?: Partial<Omit<FakeForwardOptions, "ca" | "cert" | "key">>;
  /** Which receiver the handler's fluentd-url (audit) and fluentd-session-url point at (default http). */
  protocols?: { audit?: Protocol; sessions?: Protocol };
}

export interface World {
  pki: TestPki;
  teleport: FakeTeleport;
  /** The in_http receiver. */
  fluentd: FakeFluentd;
  /** The in_forward receiver, when `forward` or a forward protocol was asked for. */
  forward?: FakeForward;
  /** The receivers the audit log and the recordings go to (per `protocols`). */
  audit: ReceivedRecords;
  sessions: ReceivedRecords;
  dir: string;
  /** A fresh storage directory per call unless one is given. */
  storage: string;
  /** The --start-time `startArgs` passes: a day before the first event. */
  startTime: Date;
  /** The `start` flags that point the handler at this world. */
  startArgs(extra?: string[], storage?: string): string[];
  stop(): Promise<void>;
}

export async function startWorld(opts: WorldOptions = {}): Promise<World> {
  const dir = tempDir("teh-world-");
  for (const sub of ["pki", "teleport"]) mkdirSync(join(dir, sub));
  const pki = await createTestPki({ dir: join(dir, "pki") });
  const teleport = await startFakeTeleport({ ...opts.teleport, pki, outDir: join(dir, "teleport") });
  const fluentd = await startFakeFluentd({
    ca: pki.fluentdCA.ca.certPem,
    cert: pki.fluentdServer.certPem,
    key: pki.fluentdServer.keyPem,
    ...opts.fluentd,
  });
  const protocols = { audit: opts.protocols?.audit ?? "http", sessions: opts.protocols?.sessions ?? "http" };
  const forward =
    opts.forward || protocols.audit === "forward" || protocols.sessions === "forward"
      ? await startFakeForward({ ca: pki.fluentdCA.ca.certPem, cert: pki.fluentdServer.certPem, key: pki.fluentdServer.keyPem, ...opts.forward })
      : undefined;
  const urlOf = (protocol: Protocol, tag: string) => (protocol === "forward" ? forward!.url(tag) : `https://localhost:${fluentd.port}/${tag}`);
  // A day before the first event: the whole log, without paging through years of empty windows.
  const first = teleport.log.timeAt(0);
  const startTime = new Date((first.seconds - 86_400) * 1000).toISOString().replace(".000Z", "Z");
  const storage = join(dir, "storage");
  mkdirSync(storage, { recursive: true });
  return {
    pki,
    teleport,
    fluentd,
    forward,
    audit: protocols.audit === "forward" ? forward! : fluentd,
    sessions: protocols.sessions === "forward" ? forward! : fluentd,
    dir,
    storage,
    startTime: new Date(startTime),
    startArgs(extra = [], store = storage) {
      return [
        "start",
        "--teleport-addr", teleport.addr,
        "--teleport-identity", teleport.identity.identityFile,
        "--fluentd-url", urlOf(protocols.audit, "events.log"),
        "--fluentd-session-url", urlOf(protocols.sessions, "session"),
        "--fluentd-ca", pki.fluentdCA.caFile,
        "--fluentd-cert", pki.fluentdClient.certFile,
        "--fluentd-key", pki.fluentdClient.keyFile,
        "--storage", store,
        "--start-time", startTime,
        ...extra,
      ];
    },
    async stop() {
      await Promise.allSettled([teleport.stop(), fluentd.stop(), forward?.stop()]);
    },
  };
}

export interface Handler {
  proc: Subprocess<"ignore" | Buffer, "pipe", "pipe">;
  /** Resolves with the exit code and everything the process wrote. */
  done: Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>;
  /** stderr so far (the log). */
  log(): string;
  /** Resolves once the log contains `text` (or rejects after `timeoutMs`). */
  waitForLog(text: string | RegExp, timeoutMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals | number): void;
}

export interface SpawnOptions {
  /** Working directory (relative paths in a config file resolve against it). */
  cwd?: string;
  /** Piped to stdin (e.g. configure's passphrase); stdin is closed otherwise. */
  stdin?: string;
  /** A command the binary runs under, its path and arguments appended (e.g. unshare, setpriv). */
  wrap?: string[];
}

/**
 * A world started before the tests of the enclosing file or describe block and stopped after them.
 * Property reads go to the started world, so tests use it as they would the result of startWorld.
 */
export function sharedWorld(opts: WorldOptions = {}): World {
  let current: World | undefined;
  beforeAll(async () => {
    current = await startWorld(opts);
  });
  afterAll(() => current?.stop());
  return new Proxy({} as World, {
    get(_, key) {
      if (!current) throw new Error("the shared world starts in beforeAll; use it inside a test");
      const value = Reflect.get(current, key);
      return typeof value === "function" ? value.bind(current) : value;
    },
  });
}

/** Runs the compiled handler with `args`; env is the test's environment minus FDFWD_* plus `env`. */
export async function runHandler(args: string[], env: Record<string, string> = {}, opts: SpawnOptions = {}): Promise<Handler> {
  const bin = await compiledBinary();
  const cleanEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^FD(FW|WR)D_/.test(k)) cleanEnv[k] = v;
  const stdin = opts.stdin === undefined ? "ignore" : Buffer.from(opts.stdin);
  const proc = Bun.spawn([...(opts.wrap ?? []), bin, ...args], { env: { ...cleanEnv, ...env }, cwd: opts.cwd, stdin, stdout: "pipe", stderr: "pipe" });
  let stderr = "";
  let stdout = "";
  const readAll = async (stream: ReadableStream<Uint8Array>, append: (s: string) => void) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) append(decoder.decode(chunk, { stream: true }));
  };
  const readers = Promise.all([readAll(proc.stderr, (s) => (stderr += s)), readAll(proc.stdout, (s) => (stdout += s))]);
  const done = (async () => {
    const code = await proc.exited;
    await readers;
    return { code: proc.signalCode ? null : code, signal: proc.signalCode ? String(proc.signalCode) : null, stdout, stderr };
  })();
  return {
    proc,
    done,
    log: () => stderr,
    async waitForLog(text, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      const found = () => (typeof text === "string" ? stderr.includes(text) : text.test(stderr));
      while (!found()) {
        if (Date.now() > deadline) throw new Error(`log never showed ${text}; log:\n${stderr}`);
        if (proc.exitCode !== null || proc.signalCode) {
          await readers;
          if (found()) return;
          throw new Error(`handler exited before logging ${text}; log:\n${stderr}`);
        }
        await Bun.sleep(20);
      }
    },
    kill: (signal = "SIGTERM") => proc.kill(signal),
  };
}

/** Runs the handler to completion and returns its result. */
export async function runToEnd(args: string[], env: Record<string, string> = {}, opts: SpawnOptions = {}) {
  return (await runHandler(args, env, opts)).done;
}

/** Audit records the receiver stored, by the `uid` Teleport gave them. */
export function auditUids(world: World): string[] {
  return world.audit.records("events.log").map((r) => String(r.record.uid ?? r.record.id ?? ""));
}

/** Counts occurrences of each value; handy to assert exactly-once delivery. */
export function countBy<T>(values: T[]): Map<T, number> {
  const m = new Map<T, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return m;
}

export function readJsonLines(file: string): unknown[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

/** The `ei` of every stored recording event, per session tag (`session.<sid>.log`), in arrival order. */
export function sessionIndexes(world: World): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const r of world.sessions.records()) {
    if (!r.tag.startsWith("session.")) continue;
    const list = out.get(r.tag) ?? [];
    list.push(Number(r.record.ei));
    out.set(r.tag, list);
  }
  return out;
}

/** The recordings the fake Teleport holds (missing ones excluded), as tag → expected `ei` list. */
export function expectedRecordings(world: World, opts: { withPrints: boolean }): Map<string, number[]> {
  const log = world.teleport.log;
  const out = new Map<string, number[]>();
  for (let k = 0; k < log.sessions; k++) {
    if (!log.hasRecording(k)) continue;
    const events = [...log.recording(k)].filter((e) => opts.withPrints || e.type !== "print");
    out.set(`session.${log.sessionId(k)}.log`, events.map((e) => e.ei));
  }
  return out;
}

/** `status --json` of a storage directory, read by the compiled binary. */
export async function statusJson(storage: string): Promise<Record<string, any>> {
  const result = await runToEnd(["status", "--json", "--storage", storage]);
  if (result.code !== 0) throw new Error(`status failed (${result.code}): ${result.stderr}`);
  return JSON.parse(result.stdout);
}

/** The uids of the fake's audit log (index order) whose type passes `keep`: what a run should deliver. */
export function logUids(world: World, keep: (type: string) => boolean = () => true): string[] {
  const uids: string[] = [];
  for (let i = 0; i < world.teleport.log.count; i++) if (keep(world.teleport.log.typeAt(i))) uids.push(world.teleport.log.eventAt(i).id);
  return uids;
}

/**
 * A sorted copy, to compare delivered ids with expected ones regardless of arrival order: over
 * in_http, the audit batches in flight at once (fluentd-inflight-batches) may arrive in any order.
 * Duplicates are kept, so comparing sorted copies still checks exactly once.
 */
export const sorted = (xs: string[]): string[] => [...xs].sort();

/** Tags of the session recordings the receiver got (`session.<sid>.log`). */
export function sessionTags(world: World): string[] {
  return [...new Set(world.sessions.records().map((r) => r.tag).filter((t) => t.startsWith("session.")))];
}

/** Polls `condition` until it holds (or throws after `timeoutMs`, naming `what`). */
export async function waitUntil(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  await waitFor(what, async () => condition() || undefined, timeoutMs);
}

/** Polls `probe` (e.g. a scrape, a `status` run) until it returns a value, and returns it; throws after `timeoutMs`, naming `what`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await Bun.sleep(20);
  }
}

/** Asserts every audit event of the fake log arrived exactly once. */
export function expectAuditExactlyOnce(world: World): void {
  const uids = countBy(auditUids(world));
  expect([...uids].filter(([, n]) => n !== 1)).toEqual([]);
  expect(uids.size).toBe(world.teleport.log.count);
}

/** Asserts every recording arrived complete, exactly once and in order. */
export function expectRecordingsExactlyOnce(world: World, opts: { withPrints: boolean }): void {
  const got = sessionIndexes(world);
  const expected = expectedRecordings(world, opts);
  expect(expected.size).toBeGreaterThan(0);
  expect(Object.fromEntries(got)).toEqual(Object.fromEntries(expected));
}

/** Waits until the receiver holds `n` audit records. */
export function untilAuditRecords(world: World, n: number, timeoutMs = 15_000): Promise<void> {
  return waitUntil(`the receiver holds ${n} audit records`, () => world.audit.recordCount("events.log") >= n, timeoutMs);
}

/** A port nothing listens on right now (for settings that want a real port, not 0). */
export function freePort(): number {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

/** Waits until a handler started with --metrics-addr serves, and returns its base URL. */
export async function metricsBase(handler: Handler): Promise<string> {
  const serving = /Serving metrics on (http:\/\/127\.0\.0\.1:\d+)\/metrics/;
  await handler.waitForLog(serving);
  return serving.exec(handler.log())![1]!;
}

/** Stops a handler (SIGTERM) and then the world around it. */
export async function stopAll(handler: Handler | undefined, world: World | undefined): Promise<void> {
  handler?.kill();
  await handler?.done;
  await world?.stop();
}

/** Runs the compiled handler on a pseudo-terminal (script(1)); `screen` is what the terminal showed. */
export async function runInTerminal(args: string[]): Promise<{ code: number; screen: string }> {
  const quote = (a: string) => `'${a.replaceAll("'", "'\\''")}'`;
  const command = [await compiledBinary(), ...args].map(quote).join(" ");
  const proc = Bun.spawn(["script", "-qfec", command, "/dev/null"], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const screen = await new Response(proc.stdout).text();
  return { code: await proc.exited, screen };
}
