// `make demo` as a user runs it (minus the build: the test process's compiled binary is passed in),
// and the promise that it leaves nothing running, also when interrupted.
import { afterAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../scripts/fakes/pki.ts";
import { compiledBinary, ROOT, waitUntil } from "../support/world.ts";

const BUN = join(ROOT, "node_modules/.bin/bun");
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Small and quick: fewer events than the real demo and 2048-bit keys. */
async function startDemo(extra: string[] = []) {
  const dir = tempDir("teh-demo-");
  dirs.push(dir);
  const args = ["scripts/demo.ts", "--binary", await compiledBinary(), "--dir", dir, "--events", "600", "--days", "2", "--sessions", "4", "--key-length", "2048", ...extra];
  const proc = Bun.spawn([BUN, ...args], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  let stdout = "";
  const reading = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout) stdout += decoder.decode(chunk, { stream: true });
  })();
  const stderr = new Response(proc.stderr).text();
  return {
    dir,
    proc,
    output: () => stdout,
    async done() {
      const code = await proc.exited;
      await reading;
      return { code, stdout, stderr: await stderr };
    },
  };
}

/** Processes whose command line mentions `dir`: every child the demo starts is given a path in it. */
function processesUsing(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmdline.includes(dir)) found.push(`${pid}: ${cmdline}`);
    } catch {
      // Gone between listing and reading.
    }
  }
  return found;
}

const countLines = (file: string) => readFileSync(file, "utf8").split("\n").filter(Boolean).length;

describe("make demo", () => {
  test("exports everything, reports counts that match the receiver's files, and leaves nothing running", async () => {
    const demo = await startDemo();
    const { code, stdout, stderr } = await demo.done();
    expect(stderr).toBe("");
    expect(code).toBe(0);

    // "      <tag>   <n> records", one line per file the receiver wrote.
    const printed = new Map([...stdout.matchAll(/^ {6}(\S+)\s+(\d+) records$/gm)].map((m) => [m[1]!, Number(m[2])]));
    const files = readdirSync(join(demo.dir, "fluentd")).filter((f) => f.endsWith(".jsonl"));
    expect(files.length).toBeGreaterThan(1);
    expect([...printed.keys()].sort()).toEqual(files.map((f) => f.slice(0, -".jsonl".length)).sort());
    for (const f of files) {
      const n = countLines(join(demo.dir, "fluentd", f));
      expect(n).toBeGreaterThan(0);
      expect(printed.get(f.slice(0, -".jsonl".length))).toBe(n);
    }
    // The simulated log plus the failed-login burst, each event once, and the handler agrees.
    expect(printed.get("events.log")).toBe(600 + 5);
    expect(stdout).toMatch(new RegExp(`summary: ${printed.get("events.log")} events delivered`));
    expect([...printed.keys()].some((t) => t.startsWith("session."))).toBe(true);

    const sample = stdout.split("\n").find((l) => l.trim().startsWith('{"time"'));
    expect(JSON.parse(sample!)).toMatchObject({ event: "user.login", success: false, cluster_name: "demo.example.com" });
    expect(stdout).toContain("0 print events");
    expect(processesUsing(demo.dir)).toEqual([]);
  });

  test("Ctrl-C mid-export stops every process it started and exits cleanly", async () => {
    // A slow receiver keeps the export running long enough to interrupt it.
    const demo = await startDemo(["--receiver-latency-ms", "300"]);
    const started = () => demo.output().includes("connected to Teleport cluster");
    await waitUntil("the handler connected, or the demo ended", () => started() || demo.proc.exitCode !== null, 30_000);
    if (!started()) throw new Error(`the handler never started:\n${demo.output()}`);
    expect(processesUsing(demo.dir).length).toBeGreaterThanOrEqual(3);
    demo.proc.kill("SIGINT");
    const { code, stdout, stderr } = await demo.done();
    expect(code).toBe(130);
    expect(stderr).toBe("");
    expect(stdout).toContain("stopped 3 process(es), none left running");
    // The handler was stopped gracefully: it logged its summary on the way out.
    expect(stdout).toContain("summary:");
    expect(processesUsing(demo.dir)).toEqual([]);
  });
});
