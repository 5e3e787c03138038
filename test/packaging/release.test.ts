// End-to-end check of `make release`: builds once (into a temp dir) and inspects every artifact the
// way a user or a package manager would. Compiling and compressing ~100 MB binaries is the slow part,
// so only PACKAGING_TEST_TARGETS are built (default linux-x64,linux-arm64, which covers the host run,
// the arm64 run under qemu, both .debs and the Homebrew linux block). Needs scripts/ci-deps.sh.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseToml } from "smol-toml";
import { imageName } from "../../scripts/release/image.ts";
import { readOciArchive } from "../support/podman.ts";
import { run } from "../../scripts/release/run.ts";
import { archiveName, selectTargets, type Target } from "../../scripts/release/targets.ts";
import { REPO_ROOT } from "../../scripts/release/templates.ts";

const VERSION = "9.8.7-rc.1";
const DEB_VERSION = "9.8.7~rc.1";
const COMMIT = "0a1b2c3";
const targets = selectTargets(process.env.PACKAGING_TEST_TARGETS || "linux-x64,linux-arm64");
const debTargets = targets.filter((t) => t.debArch);

let dir = "";
let releaseDir = "";
let sums = new Map<string, string>();

function has(command: string): boolean {
  return Bun.which(command) !== null;
}

/** Unpacks `target`'s archive into a fresh directory and returns that directory. */
async function unpack(target: Target): Promise<string> {
  const into = mkdtempSync(join(dir, `unpacked-${target.name}-`));
  const archive = join(releaseDir, archiveName(VERSION, target));
  if (target.os === "windows") await run(["unzip", "-q", archive, "-d", into]);
  else await run(["tar", "-xzf", archive, "-C", into]);
  return join(into, `teleport-event-handler-v${VERSION}-${target.name}`);
}

function expectVersionLine(stdout: string): void {
  expect(stdout.trim()).toMatch(new RegExp(`^teleport-event-handler v${VERSION.replaceAll(".", "\\.")} git:${COMMIT} bun \\d+\\.\\d+`));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "release-test-"));
  releaseDir = join(dir, "release");
  await run(["make", "--no-print-directory", "-f", "scripts/mk/release.mk", "release"], {
    cwd: REPO_ROOT,
    env: {
      VERSION,
      COMMIT,
      TARGETS: targets.map((t) => t.name).join(","),
      RELEASE_DIR: releaseDir,
      BUN: process.execPath,
    },
  });
  for (const line of readFileSync(join(releaseDir, "SHA256SUMS"), "utf8").trim().split("\n")) {
    const [hash, name] = line.split(/ {2}/);
    if (hash && name) sums.set(name, hash);
  }
}, 300_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("release archives", () => {
  test("SHA256SUMS lists every archive and .deb and verifies with sha256sum -c", async () => {
    const assets = readdirSync(releaseDir).filter((f) => f !== "SHA256SUMS" && !f.endsWith(".rb"));
    expect([...sums.keys()].sort()).toEqual(assets.sort());
    // An archive per target, and a .deb and a container image per glibc Linux target.
    expect(assets.length).toBe(targets.length + 2 * debTargets.length);
    for (const t of debTargets) expect(sums.has(imageName(VERSION, t.debArch!))).toBe(true);
    const out = await run(["sha256sum", "-c", "SHA256SUMS"], { cwd: releaseDir });
    expect(out.trim().split("\n")).toEqual([...sums.keys()].map((name) => `${name}: OK`));
  });

  test.each(targets.map((t) => [t.name, t] as const))("%s archive holds the binary, README, LICENSE and a valid example config", async (_name, target) => {
    const top = await unpack(target);
    const binary = target.os === "windows" ? "teleport-event-handler.exe" : "teleport-event-handler";
    expect(readdirSync(top).sort()).toEqual(["LICENSE", "README.md", "teleport-event-handler.toml", binary].sort());
    expect(readFileSync(join(top, "LICENSE"), "utf8")).toContain("Apache License");
    const config = parseToml(readFileSync(join(top, "teleport-event-handler.toml"), "utf8")) as Record<string, any>;
    expect(config.storage).toBe("./storage");
    expect(config.forward.fluentd.url).toStartWith("https://");
    expect(config.teleport.refresh.enabled).toBe(true);
  });

  test("the host binary prints its baked-in version and commit", async () => {
    const host = targets.find((t) => t.name === `linux-${process.arch}`);
    expect(host).toBeDefined();
    const top = await unpack(host!);
    expectVersionLine(await run([join(top, "teleport-event-handler"), "version"]));
  });

  test("the linux-arm64 binary runs under qemu-user-static", async () => {
    const arm = targets.find((t) => t.name === "linux-arm64");
    if (!arm) return; // not in PACKAGING_TEST_TARGETS
    expect(has("qemu-aarch64-static")).toBe(true); // scripts/ci-deps.sh installs it
    const top = await unpack(arm);
    // The binary is linked against glibc; libc6-arm64-cross provides the arm64 loader and libc.
    expectVersionLine(await run(["qemu-aarch64-static", "-L", "/usr/aarch64-linux-gnu", join(top, "teleport-event-handler"), "version"]));
  });
});

describe("container images", () => {
  test.each(debTargets.map((t) => [t.debArch!, t] as const))("the %s image is for that architecture and version", (debArch) => {
    const { index, config } = readOciArchive(join(releaseDir, imageName(VERSION, debArch)));
    expect(index.manifests[0].platform).toEqual({ architecture: debArch, os: "linux" });
    expect(index.manifests[0].annotations["org.opencontainers.image.ref.name"]).toBe(`teleport-event-handler:${VERSION}`);
    expect(config.architecture).toBe(debArch);
    expect(config.config.Labels["org.opencontainers.image.version"]).toBe(VERSION);
    expect(config.config.Labels["org.opencontainers.image.revision"]).toBe(COMMIT);
  });

  test("the arm64 image's own glibc runs its binary (under qemu, with the image as the only root)", async () => {
    if (!debTargets.some((t) => t.debArch === "arm64")) return; // not in PACKAGING_TEST_TARGETS
    const { layers } = readOciArchive(join(releaseDir, imageName(VERSION, "arm64")));
    expect(layers).toHaveLength(1);
    const root = mkdtempSync(join(dir, "arm64-root-"));
    const untar = Bun.spawnSync(["tar", "-xz", "-C", root], { stdin: layers[0]!(), stderr: "pipe" });
    expect(untar.stderr.toString()).toBe("");
    expectVersionLine(await run(["qemu-aarch64-static", "-L", root, join(root, "usr/local/bin/teleport-event-handler"), "version"]));
  });
});

describe("Homebrew formula", () => {
  test("every url points at a built archive and carries that archive's sha256", () => {
    const rb = readFileSync(join(releaseDir, "teleport-event-handler.rb"), "utf8");
    const pairs = [...rb.matchAll(/url "([^"]+)"\s+sha256 "([0-9a-f]{64})"/g)].map((m) => [m[1]!.split("/").pop()!, m[2]!]);
    const brewable = targets.filter((t) => t.os !== "windows" && !t.name.endsWith("-musl"));
    expect(pairs.map(([name]) => name).sort()).toEqual(brewable.map((t) => archiveName(VERSION, t)).sort());
    for (const [name, sha] of pairs) expect(sha).toBe(sums.get(name!)!);
    expect(rb).toContain(`version "${VERSION}"`);
    expect(rb).toMatch(/test do[\s\S]*teleport-event-handler version/);
  });

  test("is valid Ruby (when ruby is installed)", async () => {
    if (!has("ruby")) return;
    expect((await run(["ruby", "-c", join(releaseDir, "teleport-event-handler.rb")])).trim()).toBe("Syntax OK");
  });
});

describe.each(debTargets.map((t) => [t.debArch!, t] as const))("Debian package (%s)", (debArch, target) => {
  const deb = () => join(releaseDir, `teleport-event-handler_${DEB_VERSION}_${debArch}.deb`);

  test("control fields", async () => {
    const field = async (name: string) => (await run(["dpkg-deb", "-f", deb(), name])).trim();
    expect(await field("Package")).toBe("teleport-event-handler");
    expect(await field("Version")).toBe(DEB_VERSION);
    expect(await field("Architecture")).toBe(debArch);
    expect(await field("Depends")).toBe("libc6 (>= 2.17)");
    expect(await field("Maintainer")).toMatch(/^.+ <[^@\s]+@[^@\s]+>$/);
    expect(await field("Section")).toBe("admin");
    expect(await field("Priority")).toBe("optional");
    expect(await field("Homepage")).toStartWith("https://");
    expect(Number(await field("Installed-Size"))).toBeGreaterThan(1000);
    const description = await field("Description");
    expect(description.split("\n").length).toBeGreaterThan(1);
  });

  test("file list, modes, owners and conffiles", async () => {
    const listing = (await run(["dpkg-deb", "-c", deb()])).trim().split("\n");
    const files = new Map(listing.filter((l) => !l.startsWith("d")).map((l) => {
      const cols = l.split(/\s+/);
      return [cols.slice(5).join(" ").replace(/^\.\//, "/"), { mode: cols[0], owner: cols[1] }];
    }));
    expect([...files.keys()].sort()).toEqual([
      "/etc/teleport-event-handler/teleport-event-handler.toml",
      "/usr/bin/teleport-event-handler",
      "/usr/lib/systemd/system/teleport-event-handler-oneshot.service",
      "/usr/lib/systemd/system/teleport-event-handler-oneshot.timer",
      "/usr/lib/systemd/system/teleport-event-handler.service",
      "/usr/share/doc/teleport-event-handler/README.md",
      "/usr/share/doc/teleport-event-handler/copyright",
    ]);
    for (const [, meta] of files) expect(meta.owner).toBe("root/root");
    expect(files.get("/usr/bin/teleport-event-handler")!.mode).toBe("-rwxr-xr-x");

    const control = join(dir, `control-${debArch}`);
    await run(["dpkg-deb", "-e", deb(), control]);
    expect(readFileSync(join(control, "conffiles"), "utf8").trim()).toBe("/etc/teleport-event-handler/teleport-event-handler.toml");
    for (const script of ["postinst", "prerm", "postrm"]) {
      expect(existsSync(join(control, script))).toBe(true);
      await run(["sh", "-n", join(control, script)]);
    }
  });

  test("installs into a throwaway root; the installed binary runs and the units verify", async () => {
    const root = join(dir, `root-${debArch}`);
    await run(["dpkg", "-x", deb(), root]);
    const binary = join(root, "usr/bin/teleport-event-handler");
    const runner = target.arch === "arm64" ? ["qemu-aarch64-static", "-L", "/usr/aarch64-linux-gnu"] : [];
    expectVersionLine(await run([...runner, binary, "version"]));

    const config = parseToml(readFileSync(join(root, "etc/teleport-event-handler/teleport-event-handler.toml"), "utf8")) as Record<string, any>;
    expect(config.storage).toBe("/var/lib/teleport-event-handler");
    expect(config.forward.fluentd.cert).toStartWith("/etc/teleport-event-handler/");

    const unitDir = join(root, "usr/lib/systemd/system");
    const service = readFileSync(join(unitDir, "teleport-event-handler.service"), "utf8");
    for (const line of ["User=teleport-event-handler", "Restart=on-failure", "NoNewPrivileges=yes", "ProtectSystem=strict",
      "ReadWritePaths=/var/lib/teleport-event-handler", "PrivateTmp=yes", "ProtectHome=yes"]) {
      expect(service.split("\n")).toContain(line);
    }
    expect(readFileSync(join(unitDir, "teleport-event-handler-oneshot.service"), "utf8")).toContain("--exit-on-last-event");

    if (!has("systemd-analyze") || target.arch !== (process.arch === "arm64" ? "arm64" : "x64")) return;
    // verify insists that ExecStart exists on this machine, so point it at the unpacked binary.
    const checkDir = join(dir, `units-${debArch}`);
    await run(["mkdir", "-p", checkDir]);
    const units = readdirSync(unitDir);
    for (const unit of units) {
      await Bun.write(join(checkDir, unit), readFileSync(join(unitDir, unit), "utf8").replaceAll("/usr/bin/teleport-event-handler", binary));
    }
    const verify = Bun.spawnSync(["systemd-analyze", "verify", ...units.map((u) => join(checkDir, u))], { stderr: "pipe" });
    // verify exits 0 even on ignored settings, so any complaint naming our units is a failure.
    const complaints = verify.stderr.toString().split("\n").filter((l) => l.includes("teleport-event-handler"));
    expect(complaints).toEqual([]);
    expect(verify.exitCode).toBe(0);
  });
});
