// The release matrix. Names follow the archive naming (`<os>-<arch>`), which is what users and the
// Homebrew formula see; `bunTarget` is what `bun build --compile --target` expects.

export type Os = "linux" | "darwin" | "windows";
export type Arch = "x64" | "arm64";

export interface Target {
  /** `<os>-<arch>[-musl]`, as used in archive names and in the TARGETS knob. */
  name: string;
  os: Os;
  arch: Arch;
  bunTarget: string;
  /** Debian architecture when a .deb is built for this target (glibc Linux only). */
  debArch?: "amd64" | "arm64";
}

export const TARGETS: readonly Target[] = [
  { name: "linux-x64", os: "linux", arch: "x64", bunTarget: "bun-linux-x64", debArch: "amd64" },
  { name: "linux-arm64", os: "linux", arch: "arm64", bunTarget: "bun-linux-arm64", debArch: "arm64" },
  { name: "linux-x64-musl", os: "linux", arch: "x64", bunTarget: "bun-linux-x64-musl" },
  { name: "darwin-x64", os: "darwin", arch: "x64", bunTarget: "bun-darwin-x64" },
  { name: "darwin-arm64", os: "darwin", arch: "arm64", bunTarget: "bun-darwin-arm64" },
  { name: "windows-x64", os: "windows", arch: "x64", bunTarget: "bun-windows-x64" },
];

/** Resolves the TARGETS knob (comma-separated names; empty means every target). */
export function selectTargets(spec: string | undefined): Target[] {
  const wanted = (spec ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  if (wanted.length === 0) return [...TARGETS];
  return wanted.map((name) => {
    const target = TARGETS.find((t) => t.name === name);
    if (!target) {
      const known = TARGETS.map((t) => t.name).join(",");
      throw new Error(`TARGETS: unknown target "${name}"; use a comma-separated subset of ${known}`);
    }
    return target;
  });
}

export function binaryName(target: Target): string {
  return target.os === "windows" ? "teleport-event-handler.exe" : "teleport-event-handler";
}

export function archiveName(version: string, target: Target): string {
  const ext = target.os === "windows" ? "zip" : "tar.gz";
  return `teleport-event-handler-v${version}-${target.name}.${ext}`;
}
