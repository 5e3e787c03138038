import { expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { tempDir } from "../../scripts/fakes/pki.ts";
import { compiledBinary, ROOT } from "../support/world.ts";
import { cpuFloorSeconds, notes, type Row } from "../../scripts/bench/report.ts";

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
      "--mixed-events", "200", "--heavy-sessions", "3",
      "--out", out,
    ],
    { cwd: ROOT, stdout: "pipe", stderr: "pipe" },
  );
  const [stdout, stderr, code] = [await new Response(proc.stdout).text(), await new Response(proc.stderr).text(), await proc.exited];
  expect(code, stderr).toBe(0);
  const rows = stdout.split("\n").filter((l) => /^\| \([a-d]/.test(l));
  expect(rows.map((r) => r.slice(2, 5))).toEqual(["(a)", "(b)", "(b)", "(b₀", "(b′", "(c)", "(d)"]);
  expect(rows[2]).toContain("forward protocol");
  expect(rows[3]).toContain("no sink (--dry-run)");
  const events = rows.map((r) => Number(r.split("|")[2]!.trim().replaceAll(",", "")));
  // What the receiver stored (the dry run: what the handler read): every audit event of each log;
  // the recording has 32 KiB prints.
  expect(events.slice(0, 6)).toEqual([300, 300, 300, 300, 300, 400]);
  expect(events[6]).toBe(4 + 3 + 32);
  expect(rows.every((r) => !r.includes("exited with"))).toBe(true);
  expect(stdout).toMatch(/\(b\)\/\(a\) throughput ratio: [\d.]+×/);
  expect(stdout).toMatch(/\(b\) forward\/in_http: [\d.]+× the events\/s, handler CPU s per 1k events [\d.]+ against [\d.]+; the CPU of all three processes allows forward at most [\d,]+ events\/s here \(1\.5× in_http: [\d,]+\); with no sink at all, \(b₀\) ran [\d.]+× in_http's events\/s/);
  // Every run measured all three processes, so each has a CPU floor (its arithmetic: the test below).
  for (const r of rows) expect(Number(r.split("|")[6]!.trim())).toBeGreaterThan(0);
  expect(stdout).toMatch(/`version` cold start, median of 2: \d+ ms/);
  const written = readFileSync(out, "utf8");
  expect(written).toContain("Hand-written analysis that must survive.");
  expect(written).toContain(rows[0]!);
  expect(written).toMatch(/Machine: \d+ CPUs/);

  // The real-world scenarios: 200 audit events with 20 sessions (18 with a recording), 3
  // print-heavy recordings, and the WAN runs with the floor the round trips allow.
  const cells = (prefix: string) => stdout.split("\n").filter((l) => l.startsWith(`| ${prefix}`)).map((l) => l.split("|").map((c) => c.trim()));
  const [mixed] = cells("(f) mixed");
  expect(mixed?.slice(2, 4)).toEqual([String(200 + 18 * 3), "18"]);
  const [heavy] = cells("(f′)");
  expect(heavy?.[3]).toBe("3");
  const wan = cells("(g)");
  expect(wan).toHaveLength(3);
  for (const row of wan) {
    expect(row[3]).toBe("18");
    expect(Number(row[5])).toBeGreaterThan(0);
  }
  expect(stdout).toMatch(/faster than the Go tool's design in the same run/);
  expect(stdout).toMatch(/handler CPU s per 1k recording events read/);
}, 180_000);

test("the CPU floor spreads all three processes' CPU over the cores, and (f)'s 3× target is set against it", () => {
  const row = (scenario: string, wallSeconds: number, cpuSeconds: number): Row => ({ scenario, events: 1_000, wallSeconds, cpuSeconds, peakRssMB: 100, teleportCpu: 1, receiverCpu: 0.5 });
  expect(cpuFloorSeconds(row("(b)", 3, 2.5), 2)).toBe(2);
  // A run whose fakes were not measured has no floor rather than a wrong one.
  expect(cpuFloorSeconds({ ...row("(b)", 3, 2.5), receiverCpu: undefined }, 2)).toBeUndefined();
  const rows = [row("(f₀) audit only, (f)'s size", 1, 1.5), row("(f) mixed log, 2,000 sessions", 3, 4.5), row("(f) mixed log, 2,000 sessions [before]", 6, 6)];
  const cores = availableParallelism();
  const line = notes(rows).find((l) => l.startsWith("- (f) mixed log, 2,000 sessions:"));
  expect(line).toBe(
    `- (f) mixed log, 2,000 sessions: 2.00× the speed of [before]; 3× would be a wall of ≤ 2.00 s, against CPU floors of ${(6 / cores).toFixed(2)} s for this run, the audit log alone ((f₀)) ${(3 / cores).toFixed(2)} s`,
  );
});
