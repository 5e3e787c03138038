import { afterAll, describe, expect, test } from "bun:test";
import { readdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { tempDir } from "../../scripts/fakes/pki.ts";
import { renderChart } from "../support/helm.ts";
import { podman, podmanUnavailable, secretDir, testImage } from "../support/podman.ts";
import {
  expectAuditExactlyOnce,
  expectedRecordings,
  expectRecordingsExactlyOnce,
  sessionIndexes,
  startWorld,
  untilAuditRecords,
  waitUntil,
  type World,
} from "../support/world.ts";

/**
 * The chart's rendered pod, run by `podman kube play` against the fakes on the host: its
 * ConfigMap-mounted TOML, secret mounts, PVC, security context and metrics endpoint work together.
 * Three substitutions, each for a limit of podman 4.3 (Debian 12), not of the chart:
 * - the Deployment's pod template is played as a Pod: kube play rejects the pod annotation
 *   checksum/config (it applies a 63-character limit meant for label values to annotations);
 * - secret volumes become hostPath directories holding the same keys: kube play 4.3 crashes
 *   (nil dereference in VolumeFromSecret) on secret volumes;
 * - host network (the fakes listen on 127.0.0.1), so the container port is dropped: kube play
 *   refuses port mappings with host networking.
 * The probes are not run: kube play turns them into systemd-timer healthchecks, and there is no
 * systemd here; the test requests /healthz and /readyz itself instead.
 */

const unavailable = podmanUnavailable();
if (unavailable) console.warn(`SKIPPED podman kube play test: podman cannot run here: ${unavailable}`);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Whether every recording of the fake log arrived complete (in any order of sessions). */
function recordingsComplete(w: World): boolean {
  const got = sessionIndexes(w);
  const expected = expectedRecordings(w, { withPrints: false });
  return [...expected].every(([tag, indexes]) => JSON.stringify(got.get(tag)) === JSON.stringify(indexes));
}

/**
 * The chart rendered with `values`, as a file `podman kube play` runs (see the substitutions
 * above): ConfigMap, PVC, and the Deployment's pod template as a Pod, with each
 * secret volume served from the directory `secrets` names for it.
 */
function playable(values: string[], secrets: Record<string, string>): string {
  const objects = renderChart([], values);
  const deployment = objects.find((o) => o.kind === "Deployment")!;
  const spec = structuredClone(deployment.spec.template.spec);
  for (const volume of spec.volumes) {
    if (!volume.secret) continue;
    const dir = secrets[volume.secret.secretName];
    if (!dir) throw new Error(`no directory for secret ${volume.secret.secretName}`);
    volume.hostPath = { path: dir, type: "Directory" };
    delete volume.secret;
  }
  for (const container of spec.containers) delete container.ports;
  const name = deployment.metadata.name;
  const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: `${name}-pod`, labels: deployment.spec.template.metadata.labels }, spec };
  const played = [...objects.filter((o) => o.kind === "ConfigMap" || o.kind === "PersistentVolumeClaim"), pod];
  const file = join(tempDir("teh-kube-"), "play.yaml");
  writeFileSync(file, played.map((o) => JSON.stringify(o)).join("\n---\n"));
  return file;
}

describe.skipIf(unavailable !== undefined)("podman kube play of the chart", () => {
  const name = `teh-kube-${process.pid}`;
  let world: World | undefined;

  afterAll(async () => {
    await podman(["pod", "rm", "-f", `${name}-pod`], { allowFailure: true });
    await podman(["volume", "rm", "-f", name], { allowFailure: true });
    await world?.stop();
  });

  test("the rendered pod exports everything, serves /healthz and /readyz, and keeps its progress on the PVC", async () => {
    const image = await testImage();
    world = await startWorld({ teleport: { events: 300, days: 2, sessions: 3, printsPerSession: 2 } });
    const w = world;
    const args = w.startArgs();
    const metricsPort = await freePort();
    const [repository, tag] = image.ref.split(/:(?=[^:]+$)/);
    const values = [
      `fullnameOverride=${name}`,
      `image.repository=${repository}`,
      `image.tag=${tag}`,
      `teleport.address=${w.teleport.addr}`,
      "teleport.identitySecretName=eh-identity",
      "teleport.identitySecretPath=identity",
      `fluentd.url=https://localhost:${w.fluentd.port}/events.log`,
      `fluentd.sessionUrl=https://localhost:${w.fluentd.port}/session`,
      "fluentd.certificate.secretName=eh-fluentd",
      `eventHandler.startTime=${args[args.indexOf("--start-time") + 1]}`,
      `metrics.port=${metricsPort}`,
    ];
    const secrets: Record<string, string> = {
      "eh-identity": secretDir({ identity: w.teleport.identity.identityFile }),
      "eh-fluentd": secretDir({
        "ca.crt": w.pki.fluentdCA.caFile,
        "client.crt": w.pki.fluentdClient.certFile,
        "client.key": w.pki.fluentdClient.keyFile,
      }),
    };

    await podman(["kube", "play", "--network", "host", playable(values, secrets)]);
    await untilAuditRecords(w, w.teleport.log.count, 60_000);
    await waitUntil("every recording arrived", () => recordingsComplete(w), 60_000);
    // Up and caught up: both probes' endpoints answer 200 on the port the chart configured.
    for (const path of ["/healthz", "/readyz"]) {
      expect((await fetch(`http://127.0.0.1:${metricsPort}${path}`)).status).toBe(200);
    }
    expect(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()).toContain("teleport_event_handler_events_delivered_total");
    expectAuditExactlyOnce(w);
    expectRecordingsExactlyOnce(w, { withPrints: false });
    await podman(["pod", "rm", "-f", "-t", "10", `${name}-pod`]);

    // The progress outlives the pod, on the claim's volume (the container tests restart on a volume).
    const volume = JSON.parse((await podman(["volume", "inspect", name])).stdout)[0];
    expect(readdirSync(volume.Mountpoint).filter((f) => f.endsWith(".sqlite"))).toHaveLength(1);
  }, 240_000);
});
