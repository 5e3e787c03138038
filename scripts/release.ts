// `make release VERSION=x.y.z`: compiles every target, packs the archives, the .debs, SHA256SUMS and
// the Homebrew formula into RELEASE_DIR (default dist/release). Settings come from the environment
// so make variables pass straight through:
//   VERSION (required)  COMMIT (default: git short hash)  ENTRY (default: src/main.ts)
//   TARGETS (comma-separated subset, default all; e.g. TARGETS=linux-x64,linux-arm64)
//   RELEASE_DIR  RELEASE_BASE_URL  RELEASE_HOMEPAGE  DEB_MAINTAINER  SOURCE_DATE_EPOCH
//   DEB_CACHE (where the container images' Debian packages are kept; default dist/.cache/debs)

import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join, resolve } from "node:path";
import { packArchive } from "./release/archive.ts";
import { writeChecksums } from "./release/checksums.ts";
import { compile } from "./release/compile.ts";
import { buildDeb } from "./release/deb.ts";
import { formula } from "./release/homebrew.ts";
import { buildImage, imageInfoFromEnv } from "./release/image.ts";
import { checkVersion } from "./release/meta.ts";
import { inParallel, run } from "./release/run.ts";
import { selectTargets, type Target } from "./release/targets.ts";
import { REPO_ROOT } from "./release/templates.ts";

async function gitCommit(): Promise<string> {
  try {
    return (await run(["git", "rev-parse", "--short", "HEAD"], { cwd: REPO_ROOT })).trim();
  } catch {
    return "unknown";
  }
}

function step(message: string, started: number): void {
  console.log(`[${((performance.now() - started) / 1000).toFixed(1)}s] ${message}`);
}

async function main(): Promise<void> {
  const started = performance.now();
  const version = checkVersion(process.env.VERSION);
  const commit = process.env.COMMIT || (await gitCommit());
  const entry = resolve(REPO_ROOT, process.env.ENTRY || "src/main.ts");
  if (!existsSync(entry)) throw new Error(`ENTRY: ${entry} does not exist; point ENTRY at the CLI entry file`);
  const targets = selectTargets(process.env.TARGETS);
  const outDir = resolve(REPO_ROOT, process.env.RELEASE_DIR || "dist/release");
  const workDir = join(outDir, ".work");

  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });

  // Compiles run one at a time (bun build is multi-threaded already); packing runs beside them.
  const binaries = new Map<Target, string>();
  for (const target of targets) {
    binaries.set(target, await compile(target, { version, commit, entry }, join(workDir, "bin", target.name)));
    step(`compiled ${target.name}`, started);
  }

  const imageInfo = imageInfoFromEnv(version, commit, REPO_ROOT);
  const assets: string[] = [];
  const jobs: Array<() => Promise<string>> = [];
  for (const [target, binary] of binaries) {
    jobs.push(() => packArchive(target, binary, version, outDir, workDir));
    if (target.debArch) jobs.push(() => buildDeb(target, binary, version, outDir, workDir));
    // The container image of every glibc Linux target, from the same binary as its archive.
    if (target.debArch) jobs.push(() => buildImage(target, binary, imageInfo, outDir, workDir));
  }
  await inParallel(jobs, Math.max(1, cpus().length), async (job) => {
    const asset = await job();
    assets.push(asset);
    step(`packed ${asset}`, started);
  });

  const sums = await writeChecksums(outDir, assets);
  step("wrote SHA256SUMS", started);
  if (targets.some((t) => t.os === "darwin" || t.os === "linux")) {
    writeFileSync(join(outDir, "teleport-event-handler.rb"), formula(version, sums));
    step("wrote teleport-event-handler.rb", started);
  }
  rmSync(workDir, { recursive: true, force: true });
  step(`release v${version} (git:${commit}) is in ${outDir}`, started);
}

main().catch((error: unknown) => {
  console.error(`release: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
