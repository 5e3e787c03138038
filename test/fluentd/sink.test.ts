import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { FluentdSettingError } from "../../src/fluentd/index.ts";
import { sessionUrl } from "../../src/export/records.ts";
import { logger } from "../../src/logger.ts";
import { capturingLogs } from "../support/logs.ts";
import { startFakeFluentd, type FakeFluentd } from "../../scripts/fakes/fake-fluentd.ts";
import { auditRecords, sinkFrom, sinkOptions, type SinkTestOptions } from "../support/fluentd-records.ts";
import { createTestPki, type PemPair, type TestPki } from "../../scripts/fakes/pki.ts";
import { waitUntil } from "../support/world.ts";

let pki: TestPki;
let fluentd: FakeFluentd;
let encryptedClient: PemPair;
let tagSeq = 0;

beforeAll(async () => {
  logger.level = 0; // retry warnings are expected here; tests that check logs capture them
  pki = await createTestPki();
  encryptedClient = await pki.fluentdCA.issue("encrypted-client", { usage: "client", passphrase: "client-secret" });
  fluentd = await startFakeFluentd({ ca: pki.fluentdCA.ca.certPem, cert: pki.fluentdServer.certPem, key: pki.fluentdServer.keyPem, bodyLimit: 64 * 1024 });
});

afterAll(async () => {
  await fluentd.stop();
});

afterEach(() => {
  fluentd.faults.latencyMs = 0;
  fluentd.faults.rejectWhen(null);
  fluentd.faults.failNext(0);
  fluentd.faults.resetNext(0);
});

/** A fresh tag per test keeps the shared receiver's counts apart. */
function freshTag(): string {
  return `test${++tagSeq}.log`;
}

function options(over: SinkTestOptions = {}): SinkTestOptions {
  return sinkOptions(pki, over);
}

const createFluentdSink = sinkFrom;

function requestsFor(tag: string) {
  return fluentd.requests.filter((r) => r.tag === tag);
}

/** Every record arrived exactly once, with its body intact (in_http moves `time` out of the record). */
function expectExactlyOnce(tag: string, records: { id: string; body: string }[]): void {
  const stored = fluentd.records(tag);
  expect(stored.map((s) => s.record.uid).sort()).toEqual(records.map((r) => r.id).sort());
  const byId = new Map(stored.map((s) => [s.record.uid, { ...s.record, time: s.time }]));
  for (const r of records) expect(byId.get(r.id)).toEqual(JSON.parse(r.body));
}

describe("batching", () => {
  test("batches by count, as JSON arrays, every record stored once", async () => {
    const tag = freshTag();
    const sink = await createFluentdSink(options({ batchSize: 100 }));
    const records = auditRecords(250);
    const report = await sink.deliver(fluentd.url(tag), records);
    expect(report.delivered).toBe(250);
    expect(report.deadLettered).toEqual([]);
    expect(report.requests).toBe(3);
    expect(requestsFor(tag).map((r) => r.stored).sort()).toEqual([100, 100, 50]);
    for (const r of requestsFor(tag)) expect(r.body.startsWith("[")).toBe(true);
    expect(report.bytes).toBe(requestsFor(tag).reduce((sum, r) => sum + r.bytes, 0));
    expectExactlyOnce(tag, records);
  });

  test("batch size 1 sends each event JSON alone, byte for byte", async () => {
    const tag = freshTag();
    const sink = await createFluentdSink(options({ batchSize: 1 }));
    const records = auditRecords(5);
    await sink.deliver(fluentd.url(tag), records);
    expect(requestsFor(tag).map((r) => r.body).sort()).toEqual(records.map((r) => r.body).sort());
  });

  test("batches by bytes", async () => {
    const tag = freshTag();
    const records = auditRecords(40, { extra: () => ({ ei: 0 }) }); // equal sizes
    const oneRecord = Buffer.byteLength(records[0]!.body);
    const batchBytes = oneRecord * 4 + 5; // brackets and 3 commas: exactly 4 records fit
    const sink = await createFluentdSink(options({ batchSize: 100, batchBytes }));
    const report = await sink.deliver(fluentd.url(tag), records);
    expect(report.requests).toBe(10);
    for (const r of requestsFor(tag)) {
      expect(r.bytes).toBeLessThanOrEqual(batchBytes);
      expect(r.stored).toBe(4);
    }
    expectExactlyOnce(tag, records);
  });

  test("the requests of one call go one at a time, so the records arrive in order", async () => {
    const ordered = await startFakeFluentd({ ca: pki.fluentdCA.ca.certPem, cert: pki.fluentdServer.certPem, key: pki.fluentdServer.keyPem });
    try {
      ordered.faults.latencyMs = 10;
      const records = auditRecords(40, { extra: () => ({ ei: 0 }) });
      const sink = await createFluentdSink(options({ batchSize: 100, batchBytes: Buffer.byteLength(records[0]!.body) * 4 + 5, maxConnections: 8 }));
      await sink.deliver(ordered.url("o.log"), records);
      expect(ordered.peakInFlight()).toBe(1);
      expect(ordered.records("o.log").map((r) => r.record.uid)).toEqual(records.map((r) => r.id));
    } finally {
      await ordered.stop();
    }
  });

  test("at most maxConnections requests are in flight", async () => {
    const limited = await startFakeFluentd({ ca: pki.fluentdCA.ca.certPem, cert: pki.fluentdServer.certPem, key: pki.fluentdServer.keyPem });
    try {
      limited.faults.latencyMs = 30;
      const sink = await createFluentdSink(options({ batchSize: 1, maxConnections: 2 }));
      // Calls run side by side (one request at a time each); the limit is shared by all of them.
      await Promise.all([0, 1, 2, 3].map((i) => sink.deliver(limited.url("c.log"), auditRecords(2, { prefix: `c${i}` }))));
      expect(limited.recordCount("c.log")).toBe(8);
      expect(limited.peakInFlight()).toBe(2);
    } finally {
      await limited.stop();
    }
  });
});

describe("requests", () => {
  test("custom headers and the JSON content type arrive; values stay out of the logs", async () => {
    const tag = freshTag();
    const sink = await createFluentdSink(options({ header: [{ name: "Authorization", value: "Splunk s3cr3t-token" }, { name: "X-Env", value: "prod" }] }));
    const { logs } = await capturingLogs(() => sink.deliver(fluentd.url(tag), auditRecords(2)));
    const [req] = requestsFor(tag);
    expect(req!.headers.authorization).toBe("Splunk s3cr3t-token");
    expect(req!.headers["x-env"]).toBe("prod");
    expect(req!.headers["content-type"]).toBe("application/json");
    expect(JSON.stringify(logs.map((l) => l.args))).not.toContain("s3cr3t-token");
  });

  test("session recordings go to <session-url>.<sid>.log", async () => {
    const base = fluentd.url("session");
    const url = sessionUrl(base, "0b6e2f4e-1b7c-4a7e-9d7a-3d1f2c3b4a5e");
    expect(url).toBe(`${base}.0b6e2f4e-1b7c-4a7e-9d7a-3d1f2c3b4a5e.log`);
    const sink = await createFluentdSink(options());
    await sink.deliver(url, auditRecords(3));
    expect(fluentd.recordCount("session.0b6e2f4e-1b7c-4a7e-9d7a-3d1f2c3b4a5e.log")).toBe(3);
  });

  test("fluentd-compress=gzip sends gzip bodies that in_http inflates", async () => {
    const sink = await createFluentdSink(options({ compress: "gzip" }));
    const tag = freshTag();
    const records = auditRecords(30);
    await sink.deliver(fluentd.url(tag), records);
    await sink.close();
    expectExactlyOnce(tag, records);
    expect(requestsFor(tag).map((r) => r.headers["content-encoding"])).toEqual(["gzip"]);
    expect(JSON.parse(requestsFor(tag)[0]!.body)).toHaveLength(30);
  });

  test("200, 201 and 204 all count as delivered", async () => {
    const seen: string[] = [];
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      tls: { ca: pki.fluentdCA.ca.certPem, cert: pki.fluentdServer.certPem, key: pki.fluentdServer.keyPem, requestCert: true, rejectUnauthorized: true },
      async fetch(req) {
        seen.push(await req.text());
        return new Response(null, { status: Number(new URL(req.url).pathname.slice(1)) });
      },
    });
    try {
      const sink = await createFluentdSink(options({ batchSize: 1 }));
      for (const status of [200, 201, 204]) {
        const report = await sink.deliver(`https://localhost:${server.port}/${status}`, auditRecords(1, { prefix: `s${status}` }));
        expect(report).toMatchObject({ delivered: 1, requests: 1, deadLettered: [] });
      }
      expect(seen).toHaveLength(3);
    } finally {
      server.stop(true);
    }
  });
});

describe("mutual TLS", () => {
  test("a server signed by an unknown CA is never sent to, and the warning says why", async () => {
    const tag = freshTag();
    const sink = await createFluentdSink(options({ ca: pki.rogueCA.caFile, warnIntervalMs: 0 }));
    const { result, logs } = await capturingLogs(() => sink.deliver(fluentd.url(tag), auditRecords(1), AbortSignal.timeout(300)));
    expect((result as Error).name).toBe("AbortError");
    expect(requestsFor(tag)).toHaveLength(0);
    const warnings = logs.filter((l) => l.type === "warn").map((l) => JSON.stringify(l.args));
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings[0]).toContain("fluentd-ca");
  });

  test("the receiver refuses a client without a certificate and one from another CA", async () => {
    const tag = freshTag();
    const anonymous = await createFluentdSink(options({ cert: undefined, key: undefined, allowInsecure: true }));
    const rogue = await createFluentdSink(options({ cert: pki.rogueClient.certFile, key: pki.rogueClient.keyFile }));
    for (const sink of [anonymous, rogue]) {
      const err = await sink.deliver(fluentd.url(tag), auditRecords(1), AbortSignal.timeout(300)).catch((e) => e);
      expect(err.name).toBe("AbortError");
    }
    expect(requestsFor(tag)).toHaveLength(0);
  });

  test("an encrypted client key works with the right passphrase and fails at start-up with a wrong one", async () => {
    const tag = freshTag();
    const sink = await createFluentdSink(options({ cert: encryptedClient.certFile, key: encryptedClient.keyFile, keyPassphrase: "client-secret" }));
    expect((await sink.deliver(fluentd.url(tag), auditRecords(2))).delivered).toBe(2);
    expect(fluentd.recordCount(tag)).toBe(2);
    const err = await createFluentdSink(options({ cert: encryptedClient.certFile, key: encryptedClient.keyFile, keyPassphrase: "nope" })).catch((e) => e);
    expect(err).toBeInstanceOf(FluentdSettingError);
    expect(err.setting).toBe("fluentd-key-passphrase");
  });

});

test("with fluentd-allow-insecure, plain HTTP without a client certificate delivers", async () => {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response(null, { status: 200 }) });
  try {
    const url = `http://127.0.0.1:${server.port}/plain.log`;
    const sink = await createFluentdSink({ allowInsecure: true, maxConnections: 1 });
    expect((await sink.deliver(url, auditRecords(3))).delivered).toBe(3);
  } finally {
    server.stop(true);
  }
});

describe("retries", () => {
  test("through 500s, every record stored exactly once", async () => {
    const tag = freshTag();
    fluentd.faults.failNext(3);
    const sink = await createFluentdSink(options({ batchSize: 10 }));
    const records = auditRecords(30);
    const report = await sink.deliver(fluentd.url(tag), records);
    expect(report.delivered).toBe(30);
    expect(report.requests).toBe(6);
    expectExactlyOnce(tag, records);
  });

  test("429, 408 and 401 are retried, not dead-lettered (401 refuses the whole stream, not a record)", async () => {
    const sink = await createFluentdSink(options({ batchSize: 10 }));
    for (const status of [429, 408, 401]) {
      const tag = freshTag();
      fluentd.faults.failNext(2, status);
      const records = auditRecords(4);
      const report = await sink.deliver(fluentd.url(tag), records);
      expect(report).toMatchObject({ delivered: 4, requests: 3, deadLettered: [] });
      expectExactlyOnce(tag, records);
    }
  });

  test("503 with Retry-After waits as told", async () => {
    const tag = freshTag();
    fluentd.faults.unavailableNext(1, 1);
    const sink = await createFluentdSink(options({ batchSize: 10 }));
    const records = auditRecords(5);
    const started = Date.now();
    await sink.deliver(fluentd.url(tag), records);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expectExactlyOnce(tag, records);
  });

  test("through connection resets", async () => {
    const tag = freshTag();
    fluentd.faults.resetNext(3);
    const sink = await createFluentdSink(options({ batchSize: 5 }));
    const records = auditRecords(20);
    expect((await sink.deliver(fluentd.url(tag), records)).delivered).toBe(20);
    expectExactlyOnce(tag, records);
  });

  test("through timeouts", async () => {
    const tag = freshTag();
    fluentd.faults.latencyMs = 400;
    // The receiver answers a request only after the sink gave up on it (at 100 ms): from then on
    // it answers at once, and the retry gets through.
    const answered = fluentd.requestCount();
    void waitUntil("the receiver answered a request the sink timed out", () => fluentd.requestCount() > answered).then(() => (fluentd.faults.latencyMs = 0));
    const sink = await createFluentdSink(options({ batchSize: 5, timeout: 100 }));
    const records = auditRecords(10);
    const { result, logs } = await capturingLogs(() => sink.deliver(fluentd.url(tag), records));
    expect(result).toMatchObject({ delivered: 10 });
    expect(JSON.stringify(logs.map((l) => l.args))).toContain("fluentd-timeout");
    expectExactlyOnce(tag, records);
  });

  test("through downtime", async () => {
    const tag = freshTag();
    const sink = await createFluentdSink(options({ batchSize: 5 }));
    const back = fluentd.faults.down(400);
    const records = auditRecords(20);
    expect((await sink.deliver(fluentd.url(tag), records)).delivered).toBe(20);
    await back;
    expectExactlyOnce(tag, records);
  });

  test("a pooled connection the server closed is retried at once", async () => {
    const idle = await startFakeFluentd({ ca: pki.fluentdCA.ca.certPem, cert: pki.fluentdServer.certPem, key: pki.fluentdServer.keyPem, idleTimeoutMs: 100 });
    try {
      // A backoff this long would time the test out if the stale connection were not retried at once.
      const sink = await createFluentdSink(options({ backoff: { baseMs: 60_000, capMs: 60_000 } }));
      for (let i = 0; i < 3; i++) {
        await sink.deliver(idle.url("idle.log"), auditRecords(2, { prefix: `round${i}` }));
        await waitUntil("the receiver closed the idle connection", () => idle.openConnections() === 0);
      }
      expect(idle.recordCount("idle.log")).toBe(6);
      expect(idle.connectionCount()).toBe(3);
    } finally {
      await idle.stop();
    }
  });

  test("abort rejects with AbortError while the receiver is failing", async () => {
    fluentd.faults.failNext(1_000_000);
    const sink = await createFluentdSink(options());
    const controller = new AbortController();
    const answered = fluentd.requestCount();
    void waitUntil("the receiver refused a first attempt", () => fluentd.requestCount() > answered).then(() => controller.abort());
    const err = await sink.deliver(fluentd.url(freshTag()), auditRecords(3), controller.signal).catch((e) => e);
    expect(err.name).toBe("AbortError");
  });
});

describe("refusals", () => {
  test("a 400 batch is split until the bad records stand alone; they are dead-lettered, the rest delivered", async () => {
    const tag = freshTag();
    fluentd.faults.rejectWhen((r) => r.poison === true);
    const records = auditRecords(50, { extra: (i) => (i === 7 || i === 31 ? { poison: true } : {}) });
    const sink = await createFluentdSink(options({ batchSize: 25 }));
    const report = await sink.deliver(fluentd.url(tag), records);
    expect(report.delivered).toBe(48);
    expect(report.deadLettered.map((d) => d.record.id).sort()).toEqual(["ev-0007", "ev-0031"]);
    for (const d of report.deadLettered) expect(d).toMatchObject({ status: 400, url: fluentd.url(tag) });
    expectExactlyOnce(tag, records.filter((r) => !["ev-0007", "ev-0031"].includes(r.id)));
  });

  test("a receiver that recovers while a refused batch is being halved: the records it refused before are sent again, none dead-lettered", async () => {
    const tag = freshTag();
    // 400 for the batch of 8, its first half, quarter and first record; stored from then on.
    fluentd.faults.failNext(4, 400);
    const records = auditRecords(8);
    const report = await (await createFluentdSink(options({ batchSize: 8 }))).deliver(fluentd.url(tag), records);
    expect(report.deadLettered).toEqual([]);
    expect(report.delivered).toBe(8);
    expectExactlyOnce(tag, records);
  });

  test("an unparseable time is dead-lettered with Fluentd's reason", async () => {
    const tag = freshTag();
    const records = auditRecords(6, { extra: (i) => (i === 2 ? { time: "yesterday" } : {}) });
    const report = await (await createFluentdSink(options())).deliver(fluentd.url(tag), records);
    expect(report.delivered).toBe(5);
    expect(report.deadLettered).toHaveLength(1);
    expect(report.deadLettered[0]!.reason).toContain("yesterday");
  });

  test("413 splits the batch; a record too large alone is dead-lettered", async () => {
    const tag = freshTag();
    const pad = "x".repeat(1000);
    const records = auditRecords(200, { extra: (i) => ({ pad: i === 99 ? "y".repeat(70 * 1024) : pad }) });
    const sink = await createFluentdSink(options({ batchSize: 200, batchBytes: 1024 * 1024 }));
    const report = await sink.deliver(fluentd.url(tag), records);
    expect(report.delivered).toBe(199);
    expect(report.deadLettered.map((d) => [d.record.id, d.status])).toEqual([["ev-0099", 413]]);
    expectExactlyOnce(tag, records.filter((r) => r.id !== "ev-0099"));
  });
});
