import { existsSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Measured {
  code: number;
  wallSeconds: number;
  cpuSeconds: number;
  peakRssMB: number;
  stderr: string;
  /** How the numbers were taken, for the report. */
  method: string;
}

const GNU_TIME = "/usr/bin/time";

/**
 * Runs `cmd` to completion and reads its cost from the operating system: GNU time (wait4's rusage
 * of the measured process alone) when installed; otherwise Bun's rusage of the child for CPU and
 * /proc/<pid>/status VmHWM, polled, for the peak RSS (rusage's maxrss can carry the forking
 * parent's footprint).
 */
export async function measure(cmd: string[], extraEnv?: Record<string, string>): Promise<Measured> {
  const env = extraEnv ? { ...process.env, ...extraEnv } : undefined;
  const started = performance.now();
  if (existsSync(GNU_TIME)) {
    const out = join(tmpdir(), `bench-time-${process.pid}-${Math.random().toString(36).slice(2)}`);
    const proc = Bun.spawn([GNU_TIME, "-o", out, "-f", "%M %U %S", ...cmd], { stdin: "ignore", stdout: "ignore", stderr: "pipe", env });
    const stderr = await new Response(proc.stderr).text();
    const code = await proc.exited;
    const wallSeconds = (performance.now() - started) / 1000;
    const last = readFileSync(out, "utf8").trim().split("\n").at(-1)!;
    rmSync(out, { force: true });
    const [kb, user, sys] = last.split(" ").map(Number) as [number, number, number];
    return { code, wallSeconds, cpuSeconds: user + sys, peakRssMB: kb / 1024, stderr, method: "GNU time (wait4 rusage)" };
  }
  const proc = Bun.spawn(cmd, { stdin: "ignore", stdout: "ignore", stderr: "pipe", env });
  const stderr = new Response(proc.stderr).text();
  let hwmKB = 0;
  const poll = setInterval(() => (hwmKB = Math.max(hwmKB, vmHwmKB(proc.pid))), 20);
  const code = await proc.exited;
  clearInterval(poll);
  const wallSeconds = (performance.now() - started) / 1000;
  const usage = proc.resourceUsage();
  const cpuSeconds = usage ? Number(usage.cpuTime.total) / 1e6 : Number.NaN;
  return { code, wallSeconds, cpuSeconds, peakRssMB: hwmKB / 1024, stderr: await stderr, method: "Bun rusage + /proc VmHWM polling" };
}

/** The peak resident set of a live process (VmHWM), in KiB; 0 once it has gone. */
export function vmHwmKB(pid: number): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** Median wall time of `runs` runs of `cmd`, in milliseconds. */
export async function medianWallMs(cmd: string[], runs: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const proc = Bun.spawn(cmd, { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    await proc.exited;
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  const mid = Math.floor(times.length / 2);
  return times.length % 2 ? times[mid]! : (times[mid - 1]! + times[mid]!) / 2;
}
