#!/usr/bin/env bun
/**
 * Runs the fake Teleport Auth server as a process (demos, benchmarks, manual testing).
 * Prints one JSON line on stdout with the port and the credential files, then serves until
 * SIGINT/SIGTERM. Example:
 *   bun scripts/fake-teleport.ts --events 1000000 --days 5 --sessions 50 --bulk --out .demo/teleport
 * --failed-login-burst N appends N failed logins of one user ending about now (for auto-locking);
 * the locks clients created are listed on stderr at shutdown. --warm-recordings encodes every
 * recording at start, so streaming them costs the fake next to nothing, and --warm-events encodes
 * the events, so the first run against the fake does not pay for it (benchmarks).
 */
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { createTestPki } from "./fakes/pki.ts";
import { startFakeTeleport } from "./fakes/fake-teleport.ts";

const { values: a } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    events: { type: "string", default: "1000" },
    days: { type: "string", default: "3" },
    sessions: { type: "string" },
    prints: { type: "string" },
    seed: { type: "string", default: "1" },
    start: { type: "string" },
    cluster: { type: "string", default: "test-cluster" },
    bulk: { type: "boolean", default: false },
    "chunk-size": { type: "string" },
    "fail-every": { type: "string" },
    "latency-ms": { type: "string" },
    "drop-streams-after": { type: "string" },
    "append-rate": { type: "string" },
    "large-recording-mb": { type: "string" },
    "failed-login-burst": { type: "string" },
    "warm-recordings": { type: "boolean", default: false },
    "warm-events": { type: "boolean", default: false },
    out: { type: "string" },
  },
  strict: true,
});

const num = (name: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) {
    console.error(`--${name}: "${v}" is not a non-negative number`);
    process.exit(2);
  }
  return n;
};

const dir = a.out ? resolve(a.out) : undefined;
if (dir) mkdirSync(dir, { recursive: true });
const pki = await createTestPki({ clusterName: a.cluster, dir });
const largeMb = num("large-recording-mb", a["large-recording-mb"]);
const fake = await startFakeTeleport({
  pki,
  port: num("port", a.port),
  events: num("events", a.events),
  days: num("days", a.days),
  sessions: num("sessions", a.sessions),
  printsPerSession: num("prints", a.prints),
  seed: num("seed", a.seed),
  start: a.start ? new Date(a.start) : undefined,
  bulk: a.bulk,
  chunkSize: num("chunk-size", a["chunk-size"]),
  failEvery: num("fail-every", a["fail-every"]),
  latencyMs: num("latency-ms", a["latency-ms"]),
  dropStreamsAfter: num("drop-streams-after", a["drop-streams-after"]),
  appendRate: num("append-rate", a["append-rate"]),
  largeRecordingBytes: largeMb ? largeMb * 1024 * 1024 : undefined,
  failedLoginBurst: num("failed-login-burst", a["failed-login-burst"]),
  warmRecordings: a["warm-recordings"],
  warmEvents: a["warm-events"],
});

console.log(
  JSON.stringify({
    port: fake.port,
    addr: fake.addr,
    clusterName: fake.clusterName,
    ...fake.identity,
    fluentd: { caFile: pki.fluentdCA.caFile, certFile: pki.fluentdServer.certFile, keyFile: pki.fluentdServer.keyFile, clientCertFile: pki.fluentdClient.certFile, clientKeyFile: pki.fluentdClient.keyFile },
  }),
);

const shutdown = async () => {
  await fake.stop();
  for (const lock of fake.locks) {
    const expires = lock.expires ? `until ${lock.expires.toISOString()}` : "with no expiry";
    process.stderr.write(`fake-teleport: lock ${lock.name} on user ${lock.target.user} (login ${lock.target.login || "any"}) ${expires}: ${lock.message}\n`);
  }
  process.exit(0);
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
