// Facts about the project that every package format repeats, kept in one place so the .deb, the
// Homebrew formula and the archives never disagree. HOMEPAGE and MAINTAINER can be overridden from
// the environment until the project has its final public home.

export const NAME = "teleport-event-handler";
export const SUMMARY = "Exports a Teleport cluster's audit log and session recordings to Fluentd";
export const DESCRIPTION_LINES = [
  "A drop-in replacement for Teleport's teleport-event-handler. It reads the",
  "audit log and session recordings from the Teleport Auth Service and",
  "forwards every event to Fluentd over mutual TLS, at least once, keeping",
  "its progress on disk so a restart resumes where it stopped.",
];
export const LICENSE_ID = "Apache-2.0";

export const HOMEPAGE = process.env.RELEASE_HOMEPAGE || "https://github.com/teleport-event-handler/teleport-event-handler";
export const MAINTAINER =
  process.env.DEB_MAINTAINER || "teleport-event-handler maintainers <teleport-event-handler@users.noreply.github.com>";

/** Where the release assets are downloaded from (the Homebrew formula's URLs). */
export function downloadBase(version: string): string {
  return process.env.RELEASE_BASE_URL || `${HOMEPAGE}/releases/download/v${version}`;
}

const SEMVER = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

export function checkVersion(version: string | undefined): string {
  if (!version || !SEMVER.test(version)) {
    throw new Error(`VERSION: "${version ?? ""}" is not a release version; pass e.g. make release VERSION=1.2.3`);
  }
  return version;
}

/**
 * Debian sorts `~` before anything, so `1.2.3-rc.1` must become `1.2.3~rc.1` to sort below `1.2.3`;
 * a bare `-` would also be read as a Debian revision separator.
 */
export function debianVersion(version: string): string {
  return version.replaceAll("-", "~");
}
