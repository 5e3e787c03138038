// Packs one target's binary with README.md, LICENSE and an example config. Archives have a single
// top-level directory (Homebrew and most users expect that); tarballs get fixed owners, order and
// mtimes (SOURCE_DATE_EPOCH) so two builds of the same commit produce the same bytes.

import { chmodSync, copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { run } from "./run.ts";
import { archiveName, binaryName, type Target } from "./targets.ts";
import { archiveConfig, REPO_ROOT } from "./templates.ts";

export async function packArchive(target: Target, binary: string, version: string, outDir: string, workDir: string): Promise<string> {
  const archive = archiveName(version, target);
  const top = archive.replace(/\.(tar\.gz|zip)$/, "");
  const stage = join(workDir, top);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });

  copyFileSync(binary, join(stage, binaryName(target)));
  chmodSync(join(stage, binaryName(target)), 0o755);
  for (const doc of ["README.md", "LICENSE"]) {
    const source = join(REPO_ROOT, doc);
    if (!existsSync(source)) throw new Error(`${doc} is missing at the repository root; every archive must ship it`);
    copyFileSync(source, join(stage, doc));
  }
  writeFileSync(join(stage, "teleport-event-handler.toml"), archiveConfig());

  const out = join(outDir, archive);
  rmSync(out, { force: true });
  const epoch = process.env.SOURCE_DATE_EPOCH || "0";
  if (target.os === "windows") {
    // -X drops extra attributes (uid/gid, atime) so the zip depends only on content.
    await run(["zip", "-q", "-X", "-r", out, top], { cwd: workDir, env: { TZ: "UTC" } });
  } else {
    await run(
      // gzip -n leaves the timestamp out of the gzip header.
      ["tar", "--sort=name", "--owner=0", "--group=0", "--numeric-owner", `--mtime=@${epoch}`, "-I", "gzip -n", "-cf", out, top],
      { cwd: workDir },
    );
  }
  rmSync(stage, { recursive: true, force: true });
  return basename(out);
}
