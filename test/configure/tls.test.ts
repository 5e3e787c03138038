import { beforeAll, describe, expect, test } from "bun:test";
import { createSecureContext } from "node:tls";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { configureInto } from "../support/configure.ts";
import { tempDir } from "../../scripts/fakes/pki.ts";

/**
 * The encrypted server key opens only with its passphrase. That the generated material works for
 * mutual TLS on the project's Fluentd-compatible receiver (generated client accepted, others
 * refused) is proven end to end in test/e2e/configure-start.test.ts.
 */
let out: string;

beforeAll(async () => {
  out = tempDir("teh-configure-tls-");
  await configureInto(out, "tls passphrase\n");
});

describe("generated server key", () => {
  test("loads with the piped passphrase", () => {
    const key = readFileSync(join(out, "server.key"));
    const cert = readFileSync(join(out, "server.crt"));
    expect(() => createSecureContext({ key, cert, passphrase: "tls passphrase" })).not.toThrow();
  });

  test("does not load with a wrong passphrase, or none", () => {
    const key = readFileSync(join(out, "server.key"));
    const cert = readFileSync(join(out, "server.crt"));
    expect(() => createSecureContext({ key, cert, passphrase: "wrong" })).toThrow();
    expect(() => createSecureContext({ key, cert })).toThrow();
  });
});
