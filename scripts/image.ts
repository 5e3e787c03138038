// `make image`: the OCI image of each glibc Linux target, built from the release binary of that
// architecture (cross-compiled like `make release` does), into IMAGE_DIR (default dist/image) with
// its own SHA256SUMS. `make release` builds the same images into the release directory. Settings:
//   VERSION (required; the Makefile passes package.json's)  COMMIT  SOURCE_DATE_EPOCH  ENTRY
//   IMAGE_TARGETS (default linux-x64,linux-arm64)  IMAGE_DIR  DEB_CACHE (default dist/.cache/debs)

import { mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { writeChecksums } from "./release/checksums.ts";
import { compile } from "./release/compile.ts";
import { buildImage, imageArch, imageInfoFromEnv } from "./release/image.ts";
import { checkVersion } from "./release/meta.ts";
import { selectTargets } from "./release/targets.ts";
import { REPO_ROOT } from "./release/templates.ts";

async function main(): Promise<void> {
  const version = checkVersion(process.env.VERSION);
  const commit = process.env.COMMIT || "unknown";
  const entry = resolve(REPO_ROOT, process.env.ENTRY || "src/main.ts");
  const targets = selectTargets(process.env.IMAGE_TARGETS || "linux-x64,linux-arm64");
  for (const target of targets) imageArch(target); // refuses a non-glibc target before any compile
  const outDir = resolve(REPO_ROOT, process.env.IMAGE_DIR || "dist/image");
  const workDir = join(outDir, ".work");
  const info = imageInfoFromEnv(version, commit, REPO_ROOT);
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });
  const images: string[] = [];
  for (const target of targets) {
    const binary = await compile(target, { version, commit, entry }, join(workDir, "bin", target.name));
    images.push(await buildImage(target, binary, info, outDir, workDir));
    console.log(`wrote ${join(outDir, images.at(-1)!)}`);
  }
  await writeChecksums(outDir, images);
  rmSync(workDir, { recursive: true, force: true });
}

main().catch((error: unknown) => {
  console.error(`image: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
