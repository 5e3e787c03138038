import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startFakeTeleport, type FakeTeleport } from "../../scripts/fakes/fake-teleport.ts";
import { tempDir } from "../../scripts/fakes/pki.ts";

/** The source must work in the single-file executable users run, not only under `bun test`. */
let fake: FakeTeleport;

beforeAll(async () => {
  fake = await startFakeTeleport({ events: 30, sessions: 3, bulk: true });
});

afterAll(() => fake.stop());

const PROBE = (entry: string) => `
import { createTeleportSource } from ${JSON.stringify(entry)};
const [host, port] = process.argv[2].split(":");
const src = await createTeleportSource({ addr: { host, port: Number(port) }, identity: process.argv[3], refreshEnabled: false, refreshInterval: 60000, tlsRouting: "off" });
const ping = await src.ping();
const page = await src.searchEvents({ from: new Date(0), to: new Date(Date.now() + 86400000), types: ["session.upload"], limit: 100, startKey: "" });
let recording = 0;
for await (const e of src.sessionEvents(String(page.events[0].json.sid), 0)) recording++;
let chunks = 0;
for await (const c of src.eventExportChunks(new Date())) chunks++;
await src.close();
console.log(JSON.stringify({ ping, uploads: page.events.length, recording, chunks }));
`;

test("a compiled executable pings, pages, streams a recording and lists chunks", async () => {
  const dir = tempDir("teh-compiled-");
  const entry = join(dir, "probe.ts");
  writeFileSync(entry, PROBE(join(import.meta.dir, "..", "..", "src", "teleport", "index.ts")));
  const bin = join(dir, "probe");
  const build = Bun.spawnSync([process.execPath, "build", "--compile", entry, "--outfile", bin], { stderr: "pipe", stdout: "pipe" });
  expect(build.stderr.toString()).not.toContain("error");
  expect(build.exitCode).toBe(0);

  const run = Bun.spawn([bin, fake.addr, fake.identity.identityFile], { cwd: dir, env: {}, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text(), run.exited]);
  expect(err).toBe("");
  expect(code).toBe(0);
  const result = JSON.parse(out);
  expect(result.ping).toEqual({ clusterName: "test-cluster", serverVersion: "17.4.2" });
  expect(result.uploads).toBe(3);
  expect(result.recording).toBe(fake.log.printsPerSession + 3);
  expect(result.chunks).toBeGreaterThanOrEqual(0);
  expect(fake.calls.GetEventExportChunks).toBe(1);
});
