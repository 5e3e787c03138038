import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A temp directory with placeholder credential files (the config layer only checks that they
 * exist and are readable) and a minimal environment that passes validation.
 */
export interface ConfigFixture {
  dir: string;
  file(name: string): string;
  /** Writes `name` in the fixture directory and returns its path. */
  write(name: string, text: string): string;
  /** The smallest valid configuration, as environment variables. */
  env: Record<string, string>;
  cleanup(): void;
}

const FILES = ["identity", "tp-ca", "tp-cert", "tp-key", "fd-ca", "fd-cert", "fd-key", "passphrase"];

export function makeConfigFixture(): ConfigFixture {
  const dir = mkdtempSync(join(tmpdir(), "teh-config-"));
  for (const f of FILES) writeFileSync(join(dir, f), `placeholder ${f}\n`);
  const file = (name: string) => join(dir, name);
  return {
    dir,
    file,
    write(name, text) {
      writeFileSync(file(name), text);
      return file(name);
    },
    env: {
      FDFWD_STORAGE: join(dir, "storage"),
      FDFWD_FLUENTD_URL: "https://localhost:8888/test.log",
      FDFWD_FLUENTD_SESSION_URL: "https://localhost:8888/session",
      FDFWD_TELEPORT_IDENTITY: file("identity"),
      FDFWD_FLUENTD_CERT: file("fd-cert"),
      FDFWD_FLUENTD_KEY: file("fd-key"),
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
