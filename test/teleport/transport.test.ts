import { parseHostPort } from "../../src/config/values.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { writeFileSync } from "node:fs";
import tls from "node:tls";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { ConfigError } from "../../src/errors.ts";
import { identityExpiry } from "../../src/observability/metrics.ts";
import { AuthService } from "../../src/gen/teleport/legacy/client/proto/authservice_pb.ts";
import { RECEIVE_WINDOW_BYTES } from "../../src/teleport/transport.ts";
import { LARGE_PRINT_CHUNK } from "../../scripts/fakes/fake-events.ts";
import { alpnProtocols, createTeleportSource, TeleportError, type TeleportSourceHandle } from "../../src/teleport/index.ts";
import { startFakeTeleport, type FakeTeleport } from "../../scripts/fakes/fake-teleport.ts";
import { identityFileText } from "../../scripts/fakes/identity.ts";
import { waitUntil } from "../support/world.ts";
import { createTestPki, tempDir, type TestPki } from "../../scripts/fakes/pki.ts";

let pki: TestPki;
let fake: FakeTeleport;

beforeAll(async () => {
  pki = await createTestPki({ clusterName: "spike-cluster" });
  fake = await startFakeTeleport({ pki, events: 20, sessions: 2, largeRecordingBytes: 4 * 1024 * 1024 });
});

afterAll(() => fake.stop());

const source = (identityFile: string, extra: Partial<Parameters<typeof createTeleportSource>[0]> = {}) =>
  createTeleportSource({ addr: parseHostPort(fake.addr), identity: identityFile, refreshEnabled: false, refreshInterval: 60_000, tlsRouting: "off", ...extra });

function writeIdentityWith(parts: { keyPem: string; certPem: string; caPems: string[] }): string {
  const file = join(tempDir(), "identity");
  writeFileSync(file, identityFileText(parts), { mode: 0o600 });
  return file;
}

async function pingFails(src: TeleportSourceHandle): Promise<TeleportError> {
  try {
    await src.ping();
  } catch (err) {
    expect(err).toBeInstanceOf(TeleportError);
    return err as TeleportError;
  } finally {
    await src.close();
  }
  throw new Error("expected ping to fail");
}

describe("server verification", () => {
  test("a server certificate from a CA the identity does not trust is refused", async () => {
    const file = writeIdentityWith({ keyPem: pki.teleportClient.keyPem, certPem: pki.teleportClient.certPem, caPems: [pki.rogueCA.ca.certPem] });
    const err = await pingFails(await source(file));
    expect(err.message).toMatch(/self.signed|certificate|verify/i);
  });

  test("a server certificate without the teleport.cluster.local name is refused", async () => {
    const noSan = await pki.hostCA.issue("auth-without-san", { usage: "server", dnsNames: ["localhost"] });
    const other = await startFakeTeleport({ pki: { ...pki, authServer: noSan }, events: 1, outDir: tempDir() });
    try {
      const src = await createTeleportSource({ addr: parseHostPort(other.addr), identity: other.identity.identityFile, refreshEnabled: false, refreshInterval: 60_000, tlsRouting: "off" });
      const err = await pingFails(src);
      expect(err.message).toMatch(/altname|teleport\.cluster\.local|Hostname/i);
    } finally {
      await other.stop();
    }
  });
});

describe("client verification by the fake", () => {
  const tryPing = (nodeOptions: Record<string, unknown>) =>
    createClient(AuthService, createGrpcTransport({ baseUrl: fake.url, nodeOptions: { ca: pki.hostCA.ca.certPem, servername: "teleport.cluster.local", ...nodeOptions } })).ping(
      {},
      { headers: { version: "17.0.0" } },
    );

  test("no client certificate: refused", async () => {
    const before = fake.calls.Ping ?? 0;
    await expect(tryPing({})).rejects.toThrow();
    expect(fake.calls.Ping ?? 0).toBe(before);
  });

  test("a client certificate from the rogue CA: refused", async () => {
    const before = fake.calls.Ping ?? 0;
    await expect(tryPing({ key: pki.rogueClient.keyPem, cert: pki.rogueClient.certPem })).rejects.toThrow();
    expect(fake.calls.Ping ?? 0).toBe(before);
  });

  test("a user-CA client certificate: accepted", async () => {
    const res = await tryPing({ key: pki.teleportClient.keyPem, cert: pki.teleportClient.certPem });
    expect(res.ClusterName).toBe("spike-cluster");
  });
});

describe("identity refresh", () => {
  test("a rotated identity is used for new calls while a running stream finishes on the old one", async () => {
    const file = writeIdentityWith({ keyPem: pki.teleportClient.keyPem, certPem: pki.teleportClient.certPem, caPems: [pki.hostCA.ca.certPem] });
    const src = await source(file, { refreshEnabled: true, refreshInterval: 50 });
    try {
      const sid = fake.log.sessionId(0); // the 4 MiB recording: HTTP/2 flow control keeps it in flight
      const stream = src.sessionEvents(sid, 0)[Symbol.asyncIterator]();
      const first = await stream.next();
      expect(first.value?.type).toBe("session.start");

      const expirySeconds = async () => (await identityExpiry.get()).values[0]?.value;
      expect(await expirySeconds()).toBe(src.credentials.notAfter.getTime() / 1000);
      const rotatedExpiry = new Date(Math.floor(Date.now() / 1000) * 1000 + 2 * 86_400_000);
      const rotated = await pki.userCA.issue("rotated-bot", { usage: "client", notAfter: rotatedExpiry });
      writeFileSync(file, identityFileText({ keyPem: rotated.keyPem, certPem: rotated.certPem, caPems: [pki.hostCA.ca.certPem] }));
      await waitUntil("the rotated identity is in use", () => src.credentials.certPem.trim() === rotated.certPem.trim());
      // The gauge follows the identity in use, not the one read at start-up.
      expect(await expirySeconds()).toBe(rotatedExpiry.getTime() / 1000);

      await src.ping();
      expect(fake.peers.at(-1)).toBe("rotated-bot");

      let count = 1;
      let last = first.value!;
      for (let r = await stream.next(); !r.done; r = await stream.next()) {
        last = r.value;
        count++;
      }
      expect(last.type).toBe("session.end");
      expect(count).toBe(last.index + 1);

      // A broken file on reload is a warning; the current credentials stay.
      writeFileSync(file, "garbage");
      expect(src.reloadCredentials()).toBe(false);
      expect(src.credentials.certPem.trim()).toBe(rotated.certPem.trim());
      expect((await src.ping()).clusterName).toBe("spike-cluster");
    } finally {
      await src.close();
    }
  });
});

describe("HTTP/2 receive windows", () => {
  test("the client announces the wide stream window and a 20 MiB recording streams whole", async () => {
    const big = await startFakeTeleport({ pki, events: 4, sessions: 1, largeRecordingBytes: 20 * 1024 * 1024 });
    const src = await source(big.identity.identityFile, { addr: parseHostPort(big.addr) });
    try {
      let prints = 0;
      let last: string | undefined;
      for await (const e of src.sessionEvents(big.log.sessionId(0), 0)) {
        if (e.type === "print") prints++;
        last = e.type;
      }
      expect(prints).toBe(Math.ceil((20 * 1024 * 1024) / LARGE_PRINT_CHUNK));
      expect(last).toBe("session.end");
      // A 64 KiB window (the default) caps every recording over a WAN at 64 KiB per round trip.
      expect(big.clientStreamWindows.at(-1)).toBe(RECEIVE_WINDOW_BYTES);
    } finally {
      await src.close();
      await big.stop();
    }
  });
});

describe("TLS routing through the Proxy", () => {
  test("the ALPN list depends on tlsRouting and the port", () => {
    const routed = ["teleport-auth@7370696b652d636c7573746572.teleport.cluster.local", "h2"];
    expect(alpnProtocols({ addr: parseHostPort("proxy.example.com:443"), tlsRouting: "auto", clusterName: "spike-cluster" })).toEqual(routed);
    expect(alpnProtocols({ addr: parseHostPort("proxy.example.com:3080"), tlsRouting: "auto", clusterName: "spike-cluster" })).toEqual(routed);
    expect(alpnProtocols({ addr: parseHostPort("auth.example.com:3025"), tlsRouting: "auto", clusterName: "spike-cluster" })).toEqual(["h2"]);
    expect(alpnProtocols({ addr: parseHostPort("proxy.example.com:443"), tlsRouting: "off", clusterName: "x" })).toEqual(["h2"]);
    // A setting to fix: the CLI reports it in one line with exit 2 (test/cli/user-errors.test.ts).
    expect(() => alpnProtocols({ addr: parseHostPort("proxy.example.com:443"), tlsRouting: "on" })).toThrow(ConfigError);
    expect(() => alpnProtocols({ addr: parseHostPort("proxy.example.com:443"), tlsRouting: "on" })).toThrow(/^teleport-cluster: .*set teleport-cluster/);
  });

  test("a plain TLS server sees the routing ALPN and SNI; the cluster name comes from the identity's CA", async () => {
    const seen: { servername?: string; protocols?: string[] }[] = [];
    const server = tls.createServer({
      key: pki.authServer.keyPem,
      cert: pki.authServer.certPem,
      ALPNCallback: ({ servername, protocols }: { servername: string; protocols: string[] }) => {
        seen.push({ servername, protocols });
        return "h2";
      },
    } as tls.TlsOptions);
    server.on("secureConnection", (s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const port = (server.address() as AddressInfo).port;
      const src = await createTeleportSource({ addr: parseHostPort(`127.0.0.1:${port}`), identity: fake.identity.identityFile, refreshEnabled: false, refreshInterval: 60_000, tlsRouting: "on" });
      await pingFails(src);
      expect(seen[0]).toEqual({ servername: "teleport.cluster.local", protocols: ["teleport-auth@7370696b652d636c7573746572.teleport.cluster.local", "h2"] });
    } finally {
      server.close();
    }
  });
});
