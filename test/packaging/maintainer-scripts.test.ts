// Runs the .deb maintainer scripts for real, but with PATH holding only recording stubs: every tool the
// scripts call (useradd, rm, systemctl, ...) is logged instead of touching this machine, and a tool the
// stubs do not provide makes the script fail, so nothing can slip through to the host.

import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PACKAGING_DIR } from "../../scripts/release/templates.ts";

const SCRIPTS = ["postinst", "prerm", "postrm"] as const;
const TOOLS = ["groupadd", "useradd", "userdel", "groupdel", "install", "chgrp", "chmod", "rm", "systemctl"];

let dir = "";

// getent answers from files the stubbed useradd/groupadd create, so idempotence can be observed.
const GETENT = `#!/bin/sh
[ -e "$STATE/$1-$2" ]`;
const RECORDER = (tool: string, effect = "") => `#!/bin/sh
echo "${tool} $*" >> "$LOG"
${effect}`;

function callStubbed(script: string, ...args: string[]): { code: number; calls: string[]; stderr: string } {
  const log = join(dir, "calls.log");
  writeFileSync(log, "");
  const result = Bun.spawnSync(["/bin/sh", join(PACKAGING_DIR, "debian", script), ...args], {
    env: { PATH: join(dir, "bin"), LOG: log, STATE: join(dir, "state") },
    stderr: "pipe",
  });
  const calls = readFileSync(log, "utf8").split("\n").filter(Boolean);
  return { code: result.exitCode, calls, stderr: result.stderr.toString() };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "maint-"));
  mkdirSync(join(dir, "bin"));
  mkdirSync(join(dir, "state"));
  const effects: Record<string, string> = {
    groupadd: `: > "$STATE/group-$2"`, // groupadd --system NAME
    useradd: `for last; do :; done; : > "$STATE/passwd-$last"`,
    userdel: `/bin/rm -f "$STATE/passwd-$1"`,
    groupdel: `/bin/rm -f "$STATE/group-$1"`,
  };
  for (const tool of TOOLS) writeFileSync(join(dir, "bin", tool), RECORDER(tool, effects[tool]));
  writeFileSync(join(dir, "bin", "getent"), GETENT);
  for (const tool of [...TOOLS, "getent"]) chmodSync(join(dir, "bin", tool), 0o755);
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("maintainer scripts", () => {
  test.each(SCRIPTS.map((s) => [s]))("%s is POSIX sh with set -e", (script) => {
    const path = join(PACKAGING_DIR, "debian", script);
    const text = readFileSync(path, "utf8");
    expect(text.startsWith("#!/bin/sh\n")).toBe(true);
    expect(text).toMatch(/^set -e$/m);
    const check = Bun.spawnSync(["sh", "-n", path], { stderr: "pipe" });
    expect(check.stderr.toString()).toBe("");
    expect(check.exitCode).toBe(0);
  });

  test("postinst configure creates the system user once and a private state directory", () => {
    const first = callStubbed("postinst", "configure", "");
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.calls).toContain("groupadd --system teleport-event-handler");
    const useradd = first.calls.find((c) => c.startsWith("useradd "));
    expect(useradd).toContain("--system");
    expect(useradd).toContain("--shell /usr/sbin/nologin");
    expect(useradd).toEndWith(" teleport-event-handler");
    expect(first.calls).toContain("install -d -o teleport-event-handler -g teleport-event-handler -m 0750 /var/lib/teleport-event-handler");

    const again = callStubbed("postinst", "configure", "1.0.0");
    expect(again.code).toBe(0);
    expect(again.calls.filter((c) => c.startsWith("useradd") || c.startsWith("groupadd"))).toEqual([]);
  });

  test("postrm purge removes the state, the config directory, the user and the group", () => {
    callStubbed("postinst", "configure", "");
    const purge = callStubbed("postrm", "purge");
    expect(purge.code).toBe(0);
    expect(purge.calls).toContain("rm -rf /var/lib/teleport-event-handler");
    expect(purge.calls).toContain("rm -rf /etc/teleport-event-handler");
    expect(purge.calls).toContain("userdel teleport-event-handler");
    expect(purge.calls).toContain("groupdel teleport-event-handler");
    expect(existsSync(join(dir, "state", "passwd-teleport-event-handler"))).toBe(false);
  });

  test("postrm remove keeps the state so a reinstall resumes the export", () => {
    callStubbed("postinst", "configure", "");
    const remove = callStubbed("postrm", "remove");
    expect(remove.code).toBe(0);
    expect(remove.calls.filter((c) => c.startsWith("rm") || c.startsWith("userdel"))).toEqual([]);
  });

  test("unknown actions fail instead of being ignored", () => {
    for (const script of SCRIPTS) {
      const result = callStubbed(script, "no-such-action");
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain("unknown argument");
    }
  });
});
