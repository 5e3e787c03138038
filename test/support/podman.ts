import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildImage, imageInfoFromEnv, imageRef } from "../../scripts/release/image.ts";
import { TARGETS, type Target } from "../../scripts/release/targets.ts";
import { tempDir } from "../../scripts/fakes/pki.ts";
import { compiledBinary, ROOT } from "./world.ts";

/**
 * Podman for the container tests. On these machines podman runs containers only with runc and the
 * cgroupfs manager (crun refuses the hybrid cgroup layout), and only with ulimits inside the hard
 * limits (its defaults exceed them). Those settings go into a containers.conf of the tests' own
 * (CONTAINERS_CONF) rather than onto each command line, because `podman kube play` has no
 * --ulimit flag: every podman command the tests run goes through `podman()`.
 */

export interface PodmanResult {
  code: number;
  stdout: string;
  stderr: string;
}

let containersConf: string | undefined;

/** A hard limit of this process from /proc/self/limits ("Max open files", "Max processes"), capped. */
function hardLimit(name: string, cap: number): number {
  const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith(name));
  const hard = line?.slice(name.length).trim().split(/\s+/)[1];
  if (!hard) throw new Error(`no "${name}" in /proc/self/limits`);
  return hard === "unlimited" ? cap : Math.min(cap, Number(hard));
}

function podmanEnv(): Record<string, string | undefined> {
  if (!containersConf) {
    const nofile = hardLimit("Max open files", 65_536);
    const nproc = hardLimit("Max processes", 4_096);
    containersConf = join(tempDir("teh-podman-"), "containers.conf");
    writeFileSync(
      containersConf,
      `[containers]\ndefault_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\n`,
    );
  }
  return { ...process.env, CONTAINERS_CONF: containersConf };
}

export async function podman(args: string[], opts: { allowFailure?: boolean } = {}): Promise<PodmanResult> {
  const proc = Bun.spawn(["podman", ...args], { env: podmanEnv(), stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0 && !opts.allowFailure) throw new Error(`podman ${args.join(" ")} exited with ${code}: ${stderr.trim()}`);
  return { code, stdout, stderr };
}

/** Why podman cannot run here, or undefined when it can. */
export function podmanUnavailable(): string | undefined {
  if (!Bun.which("podman")) return "podman is not installed (scripts/ci-deps.sh installs it)";
  const info = Bun.spawnSync(["podman", "info", "--format", "{{.Host.OCIRuntime.Name}}"], { env: podmanEnv(), stdout: "pipe", stderr: "pipe" });
  if (info.exitCode !== 0) return `podman info failed: ${info.stderr.toString().trim().split("\n").at(-1)}`;
  return undefined;
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
}

let image: Promise<TestImage> | undefined;

const TEST_TAG = /^localhost\/teleport-event-handler:0\.0\.0-test\.(\d+)$/;
const TEST_DIR = /^teh-image-(\d+)-/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Removes the images and archives of earlier test processes that are gone. A test process cannot
 * clean up after itself (bun test runs no exit handlers, and several files share the image), so
 * each run clears what the previous ones left: at most one image per test run in progress remains.
 */
async function removeStaleImages(): Promise<void> {
  const refs = (await podman(["images", "--format", "{{.Repository}}:{{.Tag}}"])).stdout.split("\n");
  const stale = refs.filter((ref) => {
    const pid = TEST_TAG.exec(ref.trim())?.[1];
    return pid !== undefined && !alive(Number(pid));
  });
  if (stale.length > 0) await podman(["rmi", "-f", ...stale], { allowFailure: true });
  for (const name of readdirSync(tmpdir())) {
    const pid = TEST_DIR.exec(name)?.[1];
    if (pid !== undefined && !alive(Number(pid))) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}

/**
 * Builds the host architecture's image once per test process from the test binary, with a version
 * of its own so that parallel runs on one machine never share a tag, and loads it into podman.
 */
export function testImage(): Promise<TestImage> {
  image ??= (async () => {
    await removeStaleImages();
    const version = `0.0.0-test.${process.pid}`;
    const dir = tempDir(`teh-image-${process.pid}-`);
    const out = join(dir, "out");
    mkdirSync(out);
    const info = { ...imageInfoFromEnv(version, "test", ROOT), epoch: 0 };
    const name = await buildImage(hostTarget(), await compiledBinary(), info, out, join(dir, "work"));
    const archive = join(out, name);
    await podman(["load", "-q", "-i", archive]);
    rmSync(join(dir, "work"), { recursive: true, force: true });
    return { archive, ref: `localhost/${imageRef(version)}` };
  })();
  return image;
}

/**
 * A directory holding copies of `files` (name in the directory → file on the host), readable by the
 * image's non-root user as a Kubernetes Secret volume makes them (files 0444), to mount read-only.
 */
export function secretDir(files: Record<string, string>): string {
  const dir = join(tempDir("teh-secret-"), "secret");
  mkdirSync(dir);
  chmodSync(dir, 0o755);
  for (const [name, source] of Object.entries(files)) {
    copyFileSync(source, join(dir, name));
    chmodSync(join(dir, name), 0o444);
  }
  return dir;
}

/** A member of a tar file, as bytes. */
function tarMember(archive: string, member: string): Buffer {
  const out = Bun.spawnSync(["tar", "-xOf", archive, member], { stdout: "pipe", stderr: "pipe" });
  if (out.exitCode !== 0) throw new Error(`tar ${archive} ${member}: ${out.stderr.toString()}`);
  return out.stdout;
}

/** The parts of a single-image oci-archive, read as a registry client would: index → manifest → blobs. */
export function readOciArchive(archive: string) {
  const blob = (digest: string) => tarMember(archive, `blobs/sha256/${digest.slice("sha256:".length)}`);
  const index = JSON.parse(tarMember(archive, "index.json").toString());
  const manifest = JSON.parse(blob(index.manifests[0].digest).toString());
  const config = JSON.parse(blob(manifest.config.digest).toString());
  return { index, manifest, config, layers: (manifest.layers as Array<{ digest: string }>).map((l) => () => blob(l.digest)) };
}
