// The release pieces that need no compiler: the Windows zip (packed around a stand-in binary), the
// full Homebrew matrix, version mapping and the knobs' error messages. Cheap, so they cover the targets
// the slow end-to-end test leaves out by default.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { packArchive } from "../../scripts/release/archive.ts";
import { formula } from "../../scripts/release/homebrew.ts";
import { checkVersion, debianVersion } from "../../scripts/release/meta.ts";
import { run } from "../../scripts/release/run.ts";
import { archiveName, selectTargets, TARGETS } from "../../scripts/release/targets.ts";

const dir = mkdtempSync(join(tmpdir(), "formats-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("Windows archive", () => {
  test("is a zip with the .exe, README, LICENSE and example config under one top-level folder", async () => {
    const [windows] = selectTargets("windows-x64");
    const fakeExe = join(dir, "stand-in.exe");
    writeFileSync(fakeExe, "MZ stand-in");
    const name = await packArchive(windows!, fakeExe, "1.2.3", dir, join(dir, "work"));
    expect(name).toBe("teleport-event-handler-v1.2.3-windows-x64.zip");
    const listing = await run(["unzip", "-Z1", join(dir, name)]);
    const top = "teleport-event-handler-v1.2.3-windows-x64/";
    expect(listing.trim().split("\n").sort()).toEqual(
      [top, `${top}LICENSE`, `${top}README.md`, `${top}teleport-event-handler.exe`, `${top}teleport-event-handler.toml`].sort(),
    );
    expect(await run(["unzip", "-p", join(dir, name), `${top}teleport-event-handler.exe`])).toBe("MZ stand-in");
  });
});

describe("Homebrew formula for a full release", () => {
  const sums = new Map(TARGETS.map((t, i) => [archiveName("2.0.0", t), String(i).repeat(64)]));
  const rb = formula("2.0.0", sums);

  test("maps darwin and linux archives to on_macos/on_linux and on_arm/on_intel", () => {
    const block = (os: string, arch: string) =>
      new RegExp(`${os} do[\\s\\S]*?${arch} do\\s+url "[^"]+/teleport-event-handler-v2\\.0\\.0-(\\w+-\\w+)\\.tar\\.gz"\\s+sha256 "([0-9a-f]{64})"`);
    const cases = [
      ["on_macos", "on_arm", "darwin-arm64"],
      ["on_macos", "on_intel", "darwin-x64"],
      ["on_linux", "on_arm", "linux-arm64"],
      ["on_linux", "on_intel", "linux-x64"],
    ] as const;
    for (const [os, arch, target] of cases) {
      const match = rb.match(block(os, arch));
      expect(match?.[1]).toBe(target);
      expect(match?.[2]).toBe(sums.get(`teleport-event-handler-v2.0.0-${target}.tar.gz`)!);
    }
    expect(rb).not.toContain("musl");
    expect(rb).not.toContain(".zip");
  });

  test("installs the binary and the sample config", () => {
    expect(rb).toContain('bin.install "teleport-event-handler"');
    expect(rb).toContain('(etc/"teleport-event-handler").install "teleport-event-handler.toml"');
  });

  test("refuses to generate a formula without any darwin or linux archive", () => {
    expect(() => formula("2.0.0", new Map())).toThrow("homebrew: no darwin or linux archive");
  });
});

describe("release settings", () => {
  test("pre-release versions sort before the release in Debian", async () => {
    expect(debianVersion("1.2.3-rc.1")).toBe("1.2.3~rc.1");
    expect(debianVersion("1.2.3")).toBe("1.2.3");
    // dpkg itself is the judge of ordering.
    await run(["dpkg", "--compare-versions", debianVersion("1.2.3-rc.1"), "lt", debianVersion("1.2.3")]);
  });

  test("a bad VERSION or TARGETS names the setting and the fix", () => {
    expect(() => checkVersion("v1.2")).toThrow('VERSION: "v1.2" is not a release version; pass e.g. make release VERSION=1.2.3');
    expect(() => checkVersion(undefined)).toThrow("VERSION:");
    expect(() => selectTargets("linux-x64,plan9-mips")).toThrow('TARGETS: unknown target "plan9-mips"');
    expect(selectTargets("").map((t) => t.name)).toEqual(TARGETS.map((t) => t.name));
  });
});
