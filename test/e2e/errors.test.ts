import { describe, expect, test } from "bun:test";
import { chmodSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { startFakeFluentd } from "../../scripts/fakes/fake-fluentd.ts";
import { identityFileText } from "../../scripts/fakes/identity.ts";
import { compiledBinary, runToEnd, statusJson, sharedWorld } from "../support/world.ts";

/**
 * Failures that used to surface as a library's text (ECONNRESET, WRONG_VERSION_NUMBER, NO_START_LINE,
 * EEXIST) or with the wrong exit code name the setting to check, in one line.
 */
describe("errors that name the cause", () => {
  const world = sharedWorld({ teleport: { events: 30, days: 1, sessions: 0 } });

  /** The `start` flags of the world with `flag` set to `value` (or removed when value is undefined). */
  const withSetting = (args: string[], flag: string, value?: string) => {
    const i = args.indexOf(flag);
    if (value === undefined) args.splice(i, 2);
    else args[i + 1] = value;
    return args;
  };
  const scheduled = () => world.startArgs(["--exit-on-last-event", "--exit-timeout", "2s"]);
  const errorLine = (stderr: string) => stderr.split("\n").filter((l) => /\bERROR\b/.test(l));

  test("an expired Fluentd client certificate: exit 2 naming fluentd-cert", async () => {
    const day = 86_400_000;
    const expired = await world.pki.fluentdCA.issue("expired-client", { usage: "client", notBefore: new Date(Date.now() - 10 * day), notAfter: new Date(Date.now() - day) });
    const args = withSetting(withSetting(scheduled(), "--fluentd-cert", expired.certFile), "--fluentd-key", expired.keyFile);
    const result = await runToEnd(args);
    expect(result.code).toBe(2);
    expect(errorLine(result.stderr)).toEqual([expect.stringMatching(/fluentd-cert: "\S+expired-client\.crt" expired on \S+Z; issue a new client certificate/)]);
  });

  test("a client certificate Fluentd refuses: the reset after the handshake is explained", async () => {
    const args = withSetting(withSetting(scheduled(), "--fluentd-cert", world.pki.rogueClient.certFile), "--fluentd-key", world.pki.rogueClient.keyFile);
    const result = await runToEnd(args);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      "Fluentd closed the connection after the TLS handshake: it probably refused the client certificate (fluentd-cert); check that its CA is in Fluentd's ca_path",
    );
  });

  test("a Fluentd server certificate for another name: both names, not 'check fluentd-ca'", async () => {
    const other = await world.pki.fluentdCA.issue("other-fluentd", { usage: "server", dnsNames: ["fluentd.other.example"] });
    const receiver = await startFakeFluentd({ ca: world.pki.fluentdCA.ca.certPem, cert: other.certPem, key: other.keyPem });
    try {
      const result = await runToEnd(withSetting(scheduled(), "--fluentd-url", `https://localhost:${receiver.port}/events.log`));
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(
        "the Fluentd server certificate is for fluentd.other.example, not localhost: use one of those names in the URL, or issue a server certificate that names localhost",
      );
    } finally {
      await receiver.stop();
    }
  });

  test("a Teleport port that does not speak TLS", async () => {
    const plain = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data: (s) => void s.end("HTTP/1.1 400 Bad Request\r\n\r\n") } });
    try {
      const result = await runToEnd(withSetting(scheduled(), "--teleport-addr", `127.0.0.1:${plain.port}`));
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`teleport-addr 127.0.0.1:${plain.port} does not speak TLS: is it the Auth (3025) or Proxy (443, 3080) port?`);
      expect(result.stderr).not.toContain("WRONG_VERSION_NUMBER");
    } finally {
      plain.stop(true);
    }
  });

  test("a Teleport CA that does not match the server names teleport-ca and the cluster", async () => {
    const args = withSetting(scheduled(), "--teleport-identity");
    args.push("--teleport-cert", world.pki.teleportClient.certFile, "--teleport-key", world.pki.teleportClient.keyFile, "--teleport-ca", world.pki.rogueCA.caFile);
    const result = await runToEnd(args);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/presented a certificate that the CA in teleport-ca does not trust: is it the address of cluster \S+, and does teleport-ca come from that cluster\?/);
  });

  test("an identity file without its TLS certificate says what is missing", async () => {
    const file = join(world.dir, "identity-without-tls");
    writeFileSync(file, identityFileText({ keyPem: world.pki.teleportClient.keyPem, certPem: world.pki.hostCA.ca.certPem, caPems: [] }));
    const result = await runToEnd(withSetting(scheduled(), "--teleport-identity", file));
    expect(result.code).toBe(2);
    expect(errorLine(result.stderr)).toEqual([expect.stringContaining("holds a CA certificate but no TLS client certificate")]);
  });

  test("a file that is not PEM: a sentence, not OpenSSL's NO_START_LINE", async () => {
    const file = join(world.dir, "not-pem.crt");
    writeFileSync(file, "this is not a certificate\n");
    const args = withSetting(scheduled(), "--teleport-identity");
    args.push("--teleport-cert", file, "--teleport-key", world.pki.teleportClient.keyFile, "--teleport-ca", world.pki.hostCA.caFile);
    const result = await runToEnd(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('the TLS certificate is not a readable PEM certificate: there is no "-----BEGIN CERTIFICATE-----" block');
    expect(result.stderr).not.toMatch(/NO_START_LINE|no start line/i);
  });

  test("storage that is a file names storage and the path, exit 2", async () => {
    const file = join(world.dir, "storage-is-a-file");
    writeFileSync(file, "");
    const result = await runToEnd(withSetting(scheduled(), "--storage", file));
    expect(result.code).toBe(2);
    expect(errorLine(result.stderr)).toEqual([expect.stringContaining(`storage ${file}: a file is in the way where a directory is needed`)]);
  });

  test("status on a healthy state this user may only read: figures, not 'restore it from a backup'", async () => {
    const storage = join(world.dir, "readonly-storage");
    const run = await runToEnd(withSetting(scheduled(), "--storage", storage));
    expect(run.code).toBe(0);
    const expected = await statusJson(storage);
    expect(expected.delivered.events).toBe(world.teleport.log.count);

    const bin = await compiledBinary();
    let command: string[];
    if (process.getuid?.() === 0) {
      // Root reads anything: run status as nobody, who may read but not write.
      for (const dir of [dirname(bin), world.dir, storage]) chmodSync(dir, 0o755);
      for (const f of readdirSync(storage)) chmodSync(join(storage, f), 0o644);
      command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", bin];
    } else {
      for (const f of readdirSync(storage)) chmodSync(join(storage, f), 0o444);
      chmodSync(storage, 0o555);
      command = [bin];
    }
    for (const sub of [["status", "--json"], ["dead-letters", "list"]]) {
      const proc = Bun.spawn([...command, ...sub, "--storage", storage], { stdout: "pipe", stderr: "pipe" });
      const [out, err, code] = [await new Response(proc.stdout).text(), await new Response(proc.stderr).text(), await proc.exited];
      expect({ code, err }).toEqual({ code: 0, err: "" });
      if (sub[0] === "status") expect(JSON.parse(out).delivered).toEqual(expected.delivered);
      else expect(out).toBe("no dead letters\n");
    }
    chmodSync(storage, 0o700);
  });
});
