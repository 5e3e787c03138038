import { afterAll, beforeAll, expect, test } from "bun:test";
import { join, resolve } from "node:path";
import { startFakeFluentd, type FakeFluentd } from "../../scripts/fakes/fake-fluentd.ts";
import { createTestPki, tempDir, type TestPki } from "../../scripts/fakes/pki.ts";

let pki: TestPki;
let fluentd: FakeFluentd;

beforeAll(async () => {
  pki = await createTestPki();
  fluentd = await startFakeFluentd({ ca: pki.fluentdCA.ca.certPem, cert: pki.fluentdServer.certPem, key: pki.fluentdServer.keyPem });
});

afterAll(async () => {
  await fluentd.stop();
});

const SENDER = `
import { createFluentdSink } from ${JSON.stringify(resolve(import.meta.dir, "../../src/fluentd/index.ts"))};
const [url, ca, cert, key, passphrase] = process.argv.slice(2);
const sink = await createFluentdSink({
  ca, cert, key, keyPassphrase: passphrase, allowInsecure: false, maxConnections: 2, batchSize: 2, batchBytes: 1 << 20, timeout: 30_000, header: [],
} as never);
const records = [1, 2, 3].map((i) => ({ id: "c" + i, body: JSON.stringify({ event: "compiled", i }) }));
console.log(JSON.stringify(await sink.deliver(url, records)));
`;

test("a compiled binary delivers over mTLS with an encrypted client key", async () => {
  const dir = tempDir("teh-compiled-");
  const client = await pki.fluentdCA.issue("compiled-client", { usage: "client", passphrase: "bin-secret" });
  await Bun.write(join(dir, "sender.ts"), SENDER);
  const binary = join(dir, "sender");
  const build = Bun.spawnSync([process.execPath, "build", "--compile", join(dir, "sender.ts"), "--outfile", binary], { stderr: "pipe" });
  expect(build.stderr.toString()).not.toContain("error");
  expect(build.exitCode).toBe(0);

  // Run from an empty directory with a bare environment, like a deployed binary. Asynchronously:
  // the receiver lives in this process and must keep answering.
  const run = Bun.spawn([binary, fluentd.url("compiled.log"), pki.fluentdCA.caFile, client.certFile, client.keyFile, "bin-secret"], {
    cwd: tempDir("teh-compiled-run-"),
    env: {},
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text(), run.exited]);
  expect(stderr).toBe("");
  expect(exitCode).toBe(0);
  expect(JSON.parse(stdout)).toMatchObject({ delivered: 3, requests: 2, deadLettered: [] });
  expect(fluentd.records("compiled.log").map((r) => r.record.i).sort()).toEqual([1, 2, 3]);
}, 30_000);
