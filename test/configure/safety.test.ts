import { describe, expect, test } from "bun:test";
import { createPrivateKey } from "node:crypto";
import { chmodSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigureError } from "../../src/configure/index.ts";
import { configureInto, parseFluentConf, unquoteFluentd } from "../support/configure.ts";
import { tempDir } from "../../scripts/fakes/pki.ts";

function passphraseIn(out: string): string {
  const source = parseFluentConf(readFileSync(join(out, "fluent.conf"), "utf8")).children.find((c) => c.name === "source")!;
  const tls = source.children.find((c) => c.name === "transport")!;
  return unquoteFluentd(tls.directives.get("private_key_passphrase")!);
}

describe("configure never clobbers and never prompts", () => {
  test("an existing file is refused without --force, named in the error, and nothing is written", async () => {
    const out = tempDir("teh-configure-");
    writeFileSync(join(out, "fluent.conf"), "mine\n");
    const err = await configureInto(out, "pw\n").catch((e) => e);
    expect(err).toBeInstanceOf(ConfigureError);
    expect(err.message).toContain(join(out, "fluent.conf"));
    expect(err.message).toContain("--force");
    expect(err.message.split("\n")).toHaveLength(1);
    expect(readdirSync(out)).toEqual(["fluent.conf"]);
    expect(readFileSync(join(out, "fluent.conf"), "utf8")).toBe("mine\n");
  });

  test("a second run is refused; with --force it replaces every file and restores mode 0600", async () => {
    const out = tempDir("teh-configure-");
    await configureInto(out, "first\n");
    const firstCa = readFileSync(join(out, "ca.crt"), "utf8");
    await expect(configureInto(out, "second\n")).rejects.toThrow(/refusing to overwrite .*ca\.crt.*--force/);
    expect(readFileSync(join(out, "ca.crt"), "utf8")).toBe(firstCa);

    chmodSync(join(out, "server.key"), 0o644);
    await configureInto(out, "second\n", { force: true });
    expect(readFileSync(join(out, "ca.crt"), "utf8")).not.toBe(firstCa);
    expect(statSync(join(out, "server.key")).mode & 0o777).toBe(0o600);
    expect(passphraseIn(out)).toBe("second");
    createPrivateKey({ key: readFileSync(join(out, "server.key")), passphrase: "second" });
    expect(readdirSync(out).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });

  test("at a terminal the passphrase is 32 random bytes in hex, and it opens the server key", async () => {
    const out = tempDir("teh-configure-");
    const run = await configureInto(out, undefined);
    expect(run.passphraseSource).toBe("generated");
    const passphrase = passphraseIn(out);
    expect(passphrase).toMatch(/^[0-9a-f]{64}$/);
    createPrivateKey({ key: readFileSync(join(out, "server.key")), passphrase });
    expect(run.printed.join("\n")).not.toContain(passphrase);
  });

  test("only one trailing newline is trimmed from piped stdin (CRLF too)", async () => {
    const out = tempDir("teh-configure-");
    await configureInto(out, "  spaced pass  \r\n");
    expect(passphraseIn(out)).toBe("  spaced pass  ");
  });

  test("empty piped stdin is an error, not an empty passphrase", async () => {
    const out = join(tempDir("teh-configure-"), "out");
    for (const stdin of ["", "\n"]) {
      const err = await configureInto(out, stdin).catch((e) => e);
      expect(err).toBeInstanceOf(ConfigureError);
      expect(err.message).toContain("empty passphrase");
    }
    expect(existsSync(out)).toBe(false);
  });

  test("a multi-line passphrase is refused (it would break fluent.conf)", async () => {
    const err = await configureInto(tempDir("teh-configure-"), "one\ntwo\n").catch((e) => e);
    expect(err).toBeInstanceOf(ConfigureError);
    expect(err.message).toContain("one line");
    expect(err.message).not.toContain("two");
  });

  test("custom file names and a 1024-bit warning", async () => {
    const out = tempDir("teh-configure-");
    const run = await configureInto(out, "pw", { caName: "root", serverName: "fluentd", clientName: "handler", length: "1024" });
    for (const name of ["root", "fluentd", "handler"]) {
      expect(existsSync(join(out, `${name}.crt`))).toBe(true);
      expect(existsSync(join(out, `${name}.key`))).toBe(true);
    }
    expect(run.warnings.join("\n")).toContain("1024");
    expect(readFileSync(join(out, "teleport-plugin-event-handler-values.yaml"), "utf8")).toContain('caPath: "root.crt"');
  });
});
