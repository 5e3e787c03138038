import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startFakeFluentd, type FakeFluentd } from "../../scripts/fakes/fake-fluentd.ts";
import { createTestPki, tempDir, type TestPki } from "../../scripts/fakes/pki.ts";
import { waitUntil } from "../support/world.ts";

let pki: TestPki;
let fluentd: FakeFluentd;
let outDir: string;

beforeAll(async () => {
  pki = await createTestPki();
  outDir = tempDir("teh-fluentd-out-");
  const encryptedServer = await pki.fluentdCA.issue("fluentd-server-encrypted", { usage: "server", dnsNames: ["localhost"], passphrase: "server-secret" });
  fluentd = await startFakeFluentd({
    ca: pki.fluentdCA.ca.certPem,
    cert: encryptedServer.certPem,
    key: encryptedServer.keyPem,
    passphrase: "server-secret",
    outDir,
    bodyLimit: 4096,
    idleTimeoutMs: 200,
  });
});

afterAll(async () => {
  await fluentd.stop();
});

function clientTls() {
  return { ca: pki.fluentdCA.ca.certPem, cert: pki.fluentdClient.certPem, key: pki.fluentdClient.keyPem };
}

async function post(tag: string, body: string, tls: object = clientTls()): Promise<{ status: number; text: string }> {
  const res = await fetch(fluentd.url(tag), { method: "POST", body, headers: { "Content-Type": "application/json" }, tls });
  return { status: res.status, text: await res.text() };
}

describe("fake Fluentd in_http semantics", () => {
  test("an object is stored under the tag from the path, time kept alongside", async () => {
    const res = await post("audit/events.log", JSON.stringify({ event: "user.login", time: "2024-05-01T12:34:56.789Z", user: "alice" }));
    expect(res).toEqual({ status: 200, text: "" });
    expect(fluentd.records("audit.events.log")).toEqual([
      { tag: "audit.events.log", time: "2024-05-01T12:34:56.789Z", record: { event: "user.login", user: "alice" } },
    ]);
  });

  test("an array stores one record per object element and drops the rest", async () => {
    const res = await post("array.log", JSON.stringify([{ a: 1 }, 2, "x", null, [3], { a: 4 }]));
    expect(res.status).toBe(200);
    expect(fluentd.records("array.log").map((r) => r.record)).toEqual([{ a: 1 }, { a: 4 }]);
  });

  test("malformed JSON, a scalar and an empty body get 200 and store nothing", async () => {
    for (const body of ["{not json", "42", '"text"', ""]) {
      expect((await post("junk.log", body)).status).toBe(200);
    }
    expect(fluentd.recordCount("junk.log")).toBe(0);
  });

  test("one unparseable time refuses the whole request with 400", async () => {
    const res = await post("badtime.log", JSON.stringify([{ a: 6, time: "yesterday" }, { a: 7 }]));
    expect(res.status).toBe(400);
    expect(res.text).toStartWith("400 Bad Request\n");
    expect((await post("badtime.log", JSON.stringify({ a: 8, time: 1714567890 }))).status).toBe(400);
    expect(fluentd.recordCount("badtime.log")).toBe(0);
  });

  test("a body over the limit gets 413 and stores nothing", async () => {
    const res = await post("big.log", JSON.stringify({ pad: "x".repeat(5000) }));
    expect(res.status).toBe(413);
    expect(fluentd.recordCount("big.log")).toBe(0);
  });

  test("clients without a certificate or from another CA are refused at the handshake", async () => {
    const before = fluentd.requestCount();
    await expect(post("nocert.log", "{}", { ca: pki.fluentdCA.ca.certPem })).rejects.toThrow();
    await expect(post("rogue.log", "{}", { ca: pki.fluentdCA.ca.certPem, cert: pki.rogueClient.certPem, key: pki.rogueClient.keyPem })).rejects.toThrow();
    expect(fluentd.requestCount()).toBe(before);
  });

  test("records are appended to <tag>.jsonl in the output directory", async () => {
    await post("file.log", JSON.stringify([{ n: 1, time: "2024-05-01T00:00:00Z" }, { n: 2 }]));
    fluentd.flush();
    const lines = readFileSync(join(outDir, "file.log.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines).toEqual([{ time: "2024-05-01T00:00:00Z", record: { n: 1 } }, { record: { n: 2 } }]);
  });

  test("faults: N failures, 503 with Retry-After, rejected records, reset", async () => {
    fluentd.faults.failNext(2);
    expect((await post("f.log", "{}")).status).toBe(500);
    expect((await post("f.log", "{}")).status).toBe(500);
    expect((await post("f.log", "{}")).status).toBe(200);
    fluentd.faults.unavailableNext(1, 7);
    const res = await fetch(fluentd.url("f.log"), { method: "POST", body: "{}", tls: clientTls() });
    expect([res.status, res.headers.get("retry-after")]).toEqual([503, "7"]);
    fluentd.faults.rejectWhen((r) => r.bad === true);
    expect((await post("f.log", JSON.stringify([{ ok: 1 }, { bad: true }]))).status).toBe(400);
    fluentd.faults.rejectWhen(null);
    fluentd.faults.resetNext(1);
    await expect(post("f.log", "{}")).rejects.toThrow();
    expect(fluentd.recordCount("f.log")).toBe(1);
  });

  test("down for a while, then back on the same port", async () => {
    const back = fluentd.faults.down(300);
    await waitUntil("the receiver stopped listening", () => !fluentd.listening());
    await expect(post("down.log", "{}")).rejects.toThrow();
    await back;
    expect((await post("down.log", "{}")).status).toBe(200);
  });
});

test("idle keep-alive connections are closed after the idle timeout", async () => {
  await post("idle.log", "{}");
  const opened = fluentd.connectionCount();
  await post("idle.log", "{}");
  expect(fluentd.connectionCount()).toBe(opened); // reused while fresh
  await waitUntil("the receiver closed the idle connection", () => fluentd.openConnections() === 0);
  await post("idle.log", "{}");
  expect(fluentd.connectionCount()).toBe(opened + 1);
  expect(fluentd.recordCount("idle.log")).toBe(3);
});

test("the standalone script prints its port, stores to --out and flushes on SIGTERM", async () => {
  const out = tempDir("teh-fluentd-script-");
  const passFile = join(out, "pass");
  const server = await pki.fluentdCA.issue("script-server", { usage: "server", dnsNames: ["localhost"], passphrase: "from-file" });
  await Bun.write(passFile, "from-file\n");
  const proc = Bun.spawn(
    [process.execPath, join(import.meta.dir, "../../scripts/fake-fluentd.ts"), "--port", "0", "--out", out,
      "--ca", pki.fluentdCA.caFile, "--cert", server.certFile, "--key", server.keyFile, "--passphrase-file", passFile],
    { stdout: "pipe", stderr: "pipe" },
  );
  try {
    const reader = proc.stdout.getReader();
    const { value } = await reader.read();
    const { port } = JSON.parse(new TextDecoder().decode(value).split("\n")[0]!) as { port: number };
    const res = await fetch(`https://localhost:${port}/script.log`, { method: "POST", body: JSON.stringify([{ n: 1 }, { n: 2 }]), tls: clientTls() });
    expect(res.status).toBe(200);
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    expect(readFileSync(join(out, "script.log.jsonl"), "utf8").trim().split("\n")).toHaveLength(2);
  } finally {
    proc.kill();
  }
});
