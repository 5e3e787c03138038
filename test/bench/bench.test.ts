import { expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../scripts/fakes/pki.ts";
import { compiledBinary, ROOT } from "../support/world.ts";

// A smoke run of the benchmark with tiny counts: every scenario runs end to end and is reported.
// It asserts what was measured (event counts), never how fast: numbers are for BENCHMARKS.md.
test("bench --quick runs every scenario and writes its table between the markers", async () => {
  const out = join(tempDir("teh-bench-test-"), "BENCHMARKS.md");
  writeFileSync(out, "# Benchmarks\n\nHand-written analysis that must survive.\n");
  const proc = Bun.spawn(
    [
      join(ROOT, "node_modules/.bin/bun"), "scripts/bench.ts", "--quick",
      "--binary", await compiledBinary(),
      "--events", "300", "--big-events", "400", "--recording-mb", "1", "--cold-runs", "2",
      "--out", out,
    ],
    { cwd: ROOT, stdout: "pipe", stderr: "pipe" },
  );
  const [stdout, stderr, code] = [await new Response(proc.stdout).text(), await new Response(proc.stderr).text(), await proc.exited];
  expect(code, stderr).toBe(0);
  const rows = stdout.split("\n").filter((l) => /^\| \([a-d]/.test(l));
  expect(rows.map((r) => r.slice(2, 5))).toEqual(["(a)", "(b)", "(b)", "(b′", "(c)", "(d)"]);
  expect(rows[2]).toContain("forward protocol");
  const events = rows.map((r) => Number(r.split("|")[2]!.trim().replaceAll(",", "")));
  // What the receiver stored: every audit event of each log; the recording has 32 KiB prints.
  expect(events.slice(0, 5)).toEqual([300, 300, 300, 300, 400]);
  expect(events[5]).toBe(4 + 3 + 32);
  expect(rows.every((r) => !r.includes("exited with"))).toBe(true);
  expect(stdout).toMatch(/\(b\)\/\(a\) throughput ratio: [\d.]+×/);
  expect(stdout).toMatch(/\(b\) forward\/in_http: [\d.]+× the events\/s, handler CPU s per 1k events [\d.]+ against [\d.]+/);
  expect(stdout).toMatch(/`version` cold start, median of 2: \d+ ms/);
  const written = readFileSync(out, "utf8");
  expect(written).toContain("Hand-written analysis that must survive.");
  expect(written).toContain(rows[0]!);
  expect(written).toMatch(/Machine: \d+ CPUs/);
}, 60_000);
