#!/usr/bin/env bun
/**
 * The Fluentd-compatible test receiver as a process, for the demo and benchmarks:
 *   bun scripts/fake-fluentd.ts --port 0 --out DIR --ca ca.crt --cert server.crt --key server.key [--passphrase-file F]
 * Prints {"port":…,"url":…} as one JSON line on stdout once listening; records go to DIR/<tag>.jsonl.
 * Fault flags: --fail N [--fail-status 500], --unavailable N --retry-after S, --reject-field name=value,
 * --latency-ms MS, --reset N, --down-after S --down-for S.
 *
 * With --forward PORT it is an in_forward receiver instead (scripts/fakes/fake-forward.ts), over mTLS
 * with the same --ca/--cert/--key and printing a forward+tls:// URL; --shared-key K [--users u:p,…]
 * turns on <security>. Its fault flags: --no-ack N, --ack-delay-ms MS, --reset N, --refuse-handshake N.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { startFakeFluentd } from "./fakes/fake-fluentd.ts";
import { startFakeForward } from "./fakes/fake-forward.ts";

const { values: a } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
    out: { type: "string" },
    ca: { type: "string" },
    cert: { type: "string" },
    key: { type: "string" },
    passphrase: { type: "string" },
    "passphrase-file": { type: "string" },
    "idle-timeout-ms": { type: "string", default: "10000" },
    status: { type: "string", default: "200" },
    fail: { type: "string", default: "0" },
    "fail-status": { type: "string", default: "500" },
    unavailable: { type: "string", default: "0" },
    "retry-after": { type: "string", default: "1" },
    "reject-field": { type: "string" },
    "latency-ms": { type: "string", default: "0" },
    reset: { type: "string", default: "0" },
    "down-after": { type: "string" },
    "down-for": { type: "string", default: "5" },
    forward: { type: "string" },
    "shared-key": { type: "string" },
    users: { type: "string" },
    "no-ack": { type: "string", default: "0" },
    "ack-delay-ms": { type: "string", default: "0" },
    "refuse-handshake": { type: "string", default: "0" },
  },
  strict: true,
});

function fail(message: string): never {
  process.stderr.write(`fake-fluentd: ${message}\n`);
  process.exit(2);
}

function read(flag: "ca" | "cert" | "key" | "passphrase-file"): string {
  const path = a[flag];
  if (!path) fail(`--${flag} is required`);
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    fail(`--${flag}: cannot read ${path}: ${(err as Error).message}`);
  }
}

const passphrase = a["passphrase-file"] ? read("passphrase-file").replace(/\r?\n$/, "") : a.passphrase;

if (a.forward !== undefined) await runForward();

/** The in_forward receiver; never returns (it exits on a signal). */
async function runForward(): Promise<never> {
  const users = (a.users ?? "").split(",").filter(Boolean).map((pair) => {
    const colon = pair.indexOf(":");
    if (colon < 1) fail("--users expects user:password pairs separated by commas");
    return { username: pair.slice(0, colon), password: pair.slice(colon + 1) };
  });
  const forward = await startFakeForward({
    ca: read("ca"),
    cert: read("cert"),
    key: read("key"),
    passphrase,
    port: Number(a.forward),
    host: a.host,
    outDir: a.out,
    keepRecords: false,
    security: a["shared-key"] === undefined ? undefined : { sharedKey: a["shared-key"], users },
  });
  forward.faults.noAckNext(Number(a["no-ack"]));
  forward.faults.ackDelayMs = Number(a["ack-delay-ms"]);
  forward.faults.resetNext(Number(a.reset));
  forward.faults.refuseHandshakeNext(Number(a["refuse-handshake"]));
  process.stdout.write(JSON.stringify({ port: forward.port, url: `forward+tls://localhost:${forward.port}` }) + "\n");
  await new Promise<void>((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => resolve());
  });
  await forward.stop();
  process.stderr.write(`fake-fluentd: stored ${forward.recordCount()} records from ${forward.frameCount()} frames\n`);
  process.exit(0);
}
const fluentd = await startFakeFluentd({
  ca: read("ca"),
  cert: read("cert"),
  key: read("key"),
  passphrase,
  port: Number(a.port),
  host: a.host,
  outDir: a.out,
  keepRecords: false,
  idleTimeoutMs: Number(a["idle-timeout-ms"]),
  successStatus: Number(a.status),
});

if (Number(a.fail) > 0) fluentd.faults.failNext(Number(a.fail), Number(a["fail-status"]));
if (Number(a.unavailable) > 0) fluentd.faults.unavailableNext(Number(a.unavailable), Number(a["retry-after"]));
if (Number(a.reset) > 0) fluentd.faults.resetNext(Number(a.reset));
fluentd.faults.latencyMs = Number(a["latency-ms"]);
if (a["reject-field"]) {
  const eq = a["reject-field"].indexOf("=");
  if (eq < 1) fail("--reject-field expects name=value");
  const [name, value] = [a["reject-field"].slice(0, eq), a["reject-field"].slice(eq + 1)];
  fluentd.faults.rejectWhen((record) => String(record[name]) === value);
}
if (a["down-after"] !== undefined) {
  setTimeout(() => void fluentd.faults.down(Number(a["down-for"]) * 1000), Number(a["down-after"]) * 1000);
}

process.stdout.write(JSON.stringify({ port: fluentd.port, url: `https://localhost:${fluentd.port}` }) + "\n");

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, async () => {
    await fluentd.stop();
    process.stderr.write(`fake-fluentd: stored ${fluentd.recordCount()} records from ${fluentd.requestCount()} requests\n`);
    process.exit(0);
  });
}
