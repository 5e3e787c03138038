// Files under scripts/packaging/ are templates with @NAME@ placeholders. Rendering refuses to leave a
// placeholder behind, so a renamed variable cannot ship a literal "@STORAGE@" to users.

import { readFileSync } from "node:fs";
import { join } from "node:path";

export const PACKAGING_DIR = join(import.meta.dir, "..", "packaging");
export const REPO_ROOT = join(import.meta.dir, "..", "..");

export function render(template: string, vars: Record<string, string>): string {
  const text = readFileSync(join(PACKAGING_DIR, template), "utf8");
  const out = text.replace(/@([A-Z_]+)@/g, (match, key: string) => vars[key] ?? match);
  const left = out.match(/@[A-Z_]+@/);
  if (left) throw new Error(`${template}: no value for placeholder ${left[0]}`);
  return out;
}

/** The example config shipped in archives: relative paths, next to the binary. */
export function archiveConfig(): string {
  return render("teleport-event-handler.toml", { STORAGE: "./storage", KEYS: "./keys" });
}

/** The config installed by the .deb: absolute paths matching the systemd unit. */
export function systemConfig(): string {
  return render("teleport-event-handler.toml", {
    STORAGE: "/var/lib/teleport-event-handler",
    KEYS: "/etc/teleport-event-handler",
  });
}
