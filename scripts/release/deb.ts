// Builds the .deb from a compiled Linux binary with plain dpkg-deb: no debhelper, so it works on any
// machine that has dpkg. --root-owner-group makes every file root:root without needing fakeroot.

import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { debianVersion, DESCRIPTION_LINES, HOMEPAGE, MAINTAINER, NAME, SUMMARY } from "./meta.ts";
import { run } from "./run.ts";
import type { Target } from "./targets.ts";
import { PACKAGING_DIR, render, REPO_ROOT, systemConfig } from "./templates.ts";

export const MAINTAINER_SCRIPTS = ["postinst", "prerm", "postrm"] as const;
export const SYSTEMD_UNITS = [
  `${NAME}.service`,
  `${NAME}-oneshot.service`,
  `${NAME}-oneshot.timer`,
] as const;

export function debName(version: string, target: Target): string {
  return `${NAME}_${debianVersion(version)}_${target.debArch}.deb`;
}

/** Renders a systemd unit template with the shared hardening block. */
export function renderUnit(unit: string): string {
  const hardening = readFileSync(join(PACKAGING_DIR, "systemd", "hardening.inc"), "utf8").trimEnd();
  return render(join("systemd", unit), { HOMEPAGE, HARDENING: hardening });
}

function place(root: string, path: string, content: string | { copyFrom: string }, mode: number): number {
  const dest = join(root, path);
  mkdirSync(dirname(dest), { recursive: true });
  if (typeof content === "string") writeFileSync(dest, content);
  else copyFileSync(content.copyFrom, dest);
  chmodSync(dest, mode);
  return statSync(dest).size;
}

export async function buildDeb(target: Target, binary: string, version: string, outDir: string, workDir: string): Promise<string> {
  if (!target.debArch) throw new Error(`no Debian architecture for ${target.name}`);
  const root = join(workDir, `deb-${target.debArch}`);
  rmSync(root, { recursive: true, force: true });

  let bytes = 0;
  bytes += place(root, `usr/bin/${NAME}`, { copyFrom: binary }, 0o755);
  bytes += place(root, `etc/${NAME}/${NAME}.toml`, systemConfig(), 0o644);
  for (const unit of SYSTEMD_UNITS) bytes += place(root, `usr/lib/systemd/system/${unit}`, renderUnit(unit), 0o644);
  const docDir = `usr/share/doc/${NAME}`;
  bytes += place(root, `${docDir}/copyright`, { copyFrom: join(REPO_ROOT, "LICENSE") }, 0o644);
  bytes += place(root, `${docDir}/README.md`, { copyFrom: join(REPO_ROOT, "README.md") }, 0o644);

  const control = render("debian/control", {
    VERSION: debianVersion(version),
    ARCH: target.debArch,
    MAINTAINER,
    INSTALLED_SIZE: String(Math.ceil(bytes / 1024)),
    HOMEPAGE,
    SUMMARY,
    // Extended description lines start with a space, as deb-control(5) requires.
    DESCRIPTION: DESCRIPTION_LINES.map((line) => ` ${line}`).join("\n"),
  });
  place(root, "DEBIAN/control", control, 0o644);
  place(root, "DEBIAN/conffiles", { copyFrom: join(PACKAGING_DIR, "debian", "conffiles") }, 0o644);
  for (const script of MAINTAINER_SCRIPTS) {
    place(root, `DEBIAN/${script}`, { copyFrom: join(PACKAGING_DIR, "debian", script) }, 0o755);
  }

  const out = join(outDir, debName(version, target));
  // gzip keeps the build quick on 2 cores and is readable by every dpkg still in use.
  await run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", root, out]);
  rmSync(root, { recursive: true, force: true });
  return debName(version, target);
}
