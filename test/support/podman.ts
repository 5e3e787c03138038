import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { buildImage, imageInfoFromEnv, imageRef } from "../../scripts/release/image.ts";
import { TARGETS, type Target } from "../../scripts/release/targets.ts";
import { tempDir } from "../../scripts/fakes/pki.ts";
import { compiledBinary, ROOT } from "./world.ts";

/**
 * Podman for the container tests. On these machines podman runs containers only with runc and the
 * cgroupfs manager (crun refuses the hybrid cgroup layout), and only with ulimits inside the hard
 * limits (its defaults exceed them), so every `podman run` goes through `runArgs`.
 */

const GLOBAL = ["--runtime", "runc", "--cgroup-manager", "cgroupfs"];

export interface PodmanResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function podman(args: string[], opts: { allowFailure?: boolean } = {}): Promise<PodmanResult> {
  const proc = Bun.spawn(["podman", ...GLOBAL, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0 && !opts.allowFailure) throw new Error(`podman ${args.join(" ")} exited with ${code}: ${stderr.trim()}`);
  return { code, stdout, stderr };
}

/** Why podman cannot run here, or undefined when it can. */
export function podmanUnavailable(): string | undefined {
  if (!Bun.which("podman")) return "podman is not installed (scripts/ci-deps.sh installs it)";
  const info = Bun.spawnSync(["podman", ...GLOBAL, "info", "--format", "{{.Host.OCIRuntime.Name}}"], { stdout: "pipe", stderr: "pipe" });
  if (info.exitCode !== 0) return `podman info failed: ${info.stderr.toString().trim().split("\n").at(-1)}`;
  return undefined;
}

/** A hard limit of this process from /proc/self/limits ("Max open files", "Max processes"), capped. */
function hardLimit(name: string, cap: number): number {
  const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith(name));
  const hard = line?.slice(name.length).trim().split(/\s+/)[1];
  if (!hard) throw new Error(`no "${name}" in /proc/self/limits`);
  return hard === "unlimited" ? cap : Math.min(cap, Number(hard));
}

/** `podman run` flags every test container needs: the ulimits, within this machine's hard limits. */
export function ulimitArgs(): string[] {
  const nofile = hardLimit("Max open files", 65_536);
  const nproc = hardLimit("Max processes", 4_096);
  return ["--ulimit", `nofile=${nofile}:${nofile}`, "--ulimit", `nproc=${nproc}:${nproc}`];
}

export function hostTarget(): Target {
  const name = process.arch === "arm64" ? "linux-arm64" : "linux-x64";
  return TARGETS.find((t) => t.name === name)!;
}

export interface TestImage {
  /** The oci-archive, as `make image` writes it. */
  archive: string;
  /** The reference podman loaded it under; unique to this test process. */
  ref: string;
  remove(): Promise<void>;
}

let image: Promise<TestImage> | undefined;

/**
 * Builds the host architecture's image once per test process from the test binary, with a version
 * of its own so that parallel runs on one machine never share a tag, and loads it into podman.
 */
export function testImage(): Promise<TestImage> {
  image ??= (async () => {
    const version = `0.0.0-test.${process.pid}`;
    const dir = tempDir("teh-image-");
    const out = join(dir, "out");
    mkdirSync(out);
    const info = { ...imageInfoFromEnv(version, "test", ROOT), epoch: 0 };
    const name = await buildImage(hostTarget(), await compiledBinary(), info, out, join(dir, "work"));
    const archive = join(out, name);
    await podman(["load", "-q", "-i", archive]);
    const ref = `localhost/${imageRef(version)}`;
    return { archive, ref, remove: async () => void (await podman(["rmi", "-f", ref], { allowFailure: true })) };
  })();
  return image;
}
