import { isAbsolute, relative } from "node:path";
import { APP_NAME, COMMIT, VERSION } from "../version.ts";

const GUIDE_URL = "https://goteleport.com/docs/management/export-audit-events/fluentd/";

/** As the Go tool shows paths: relative to the working directory, absolute when that needs "..". */
function displayPath(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel === "" || rel.startsWith("..") || isAbsolute(rel) ? path : rel;
}

export interface WrittenGroups {
  certificates: string[];
  role: string;
  fluentConf: string;
  toml: string;
  helmValues: string;
}

export function reportLines(groups: WrittenGroups, cwd: string, passphraseSource: "stdin" | "generated"): string[] {
  const show = (p: string) => displayPath(p, cwd);
  return [
    `${APP_NAME} ${VERSION} ${COMMIT}`,
    "",
    `[1] Generated mTLS Fluentd certificates ${groups.certificates.map(show).join(", ")}`,
    `[2] Generated sample teleport-event-handler role and user file ${show(groups.role)}`,
    `[3] Generated sample fluentd configuration file ${show(groups.fluentConf)}`,
    `[4] Generated plugin configuration file ${show(groups.toml)}`,
    `[5] Generated plugin helm configuration file ${show(groups.helmValues)}`,
    "",
    passphraseSource === "generated"
      ? "The server key's passphrase was generated; it is in fluent.conf (private_key_passphrase)."
      : "The server key is encrypted with the passphrase read from stdin; it is also in fluent.conf.",
    "",
    "Follow-along with our getting started guide:",
    "",
    GUIDE_URL,
  ];
}
