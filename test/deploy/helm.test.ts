import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseToml } from "smol-toml";
import { tempDir } from "../../scripts/fakes/pki.ts";
import { OPTION_LIST, type OptionDef } from "../../src/config/options.ts";
import { helmValues } from "../../src/configure/templates/helm-values.ts";
import { CHART, helm, renderChart, type K8sObject } from "../support/helm.ts";
import { ROOT } from "../support/world.ts";

/**
 * The chart at deploy/helm/teleport-event-handler, rendered by `helm template` and read back as
 * objects: what reaches the container (its TOML, env and args), how secrets are mounted, and the
 * guarantees the chart makes by construction (one replica, probes, hardened security context).
 */

const VALUES = join(ROOT, "test/deploy/values");
const GO_TYPICAL = join(VALUES, "go-chart-typical.yaml");
const EVERY_OPTION = join(VALUES, "every-option.yaml");

interface Rendered {
  objects: K8sObject[];
  deployment: K8sObject;
  container: any;
  toml: Record<string, any>;
}

function render(valueFiles: string[], set: string[] = []): Rendered {
  const objects = renderChart(valueFiles, set);
  const deployment = objects.find((o) => o.kind === "Deployment")!;
  expect(deployment).toBeDefined();
  const container = deployment.spec.template.spec.containers[0];
  const configMap = objects.find((o) => o.kind === "ConfigMap")!;
  // The file must be valid TOML as the handler's loader (smol-toml) reads it.
  const toml = parseToml(configMap.data["teleport-event-handler.toml"]) as Record<string, any>;
  return { objects, deployment, container, toml };
}

/** The TOML value at a dotted path (`forward.fluentd.url`). */
function at(toml: Record<string, any>, path: string): unknown {
  return path.split(".").reduce<any>((node, key) => (node === undefined ? undefined : node[key]), toml);
}

/** Which secret and key a file path in the container comes from, through its volume mounts. */
function secretFile(r: Rendered, path: string): { secret: string; key: string; mode: number } | undefined {
  const mount = r.container.volumeMounts.find((m: any) => path.startsWith(`${m.mountPath}/`));
  if (!mount) return undefined;
  const volume = r.deployment.spec.template.spec.volumes.find((v: any) => v.name === mount.name);
  if (!volume?.secret) return undefined;
  expect(mount.readOnly).toBe(true);
  return { secret: volume.secret.secretName, key: path.slice(mount.mountPath.length + 1), mode: volume.secret.defaultMode };
}

function envNames(r: Rendered): string[] {
  return (r.container.env ?? []).map((e: any) => e.name);
}

describe("helm chart", () => {
  test("helm lint passes with the Go chart's typical values and with every value set", () => {
    for (const file of [GO_TYPICAL, EVERY_OPTION]) {
      const lint = helm(["lint", "--strict", CHART, "-f", file]);
      expect(`${lint.stdout}${lint.stderr}`).toContain("1 chart(s) linted, 0 chart(s) failed");
      expect(lint.code).toBe(0);
    }
  });

  test("the chart's version follows package.json", async () => {
    const chart = Bun.YAML.parse(await Bun.file(join(CHART, "Chart.yaml")).text()) as any;
    const pkg = await Bun.file(join(ROOT, "package.json")).json();
    expect(chart.version).toBe(pkg.version);
    expect(chart.appVersion).toBe(pkg.version);
  });

  describe("a values file written for the Go chart", () => {
    const r = render([GO_TYPICAL]);

    test("renders a single-replica Deployment that replaces its pod rather than running two", () => {
      expect(r.objects.map((o) => o.kind).sort()).toEqual(["ConfigMap", "Deployment", "PersistentVolumeClaim", "Service"]);
      expect(r.deployment.spec.replicas).toBe(1);
      expect(r.deployment.spec.strategy).toEqual({ type: "Recreate" });
      expect(r.container.image).toBe("teleport-event-handler:0.1.0");
      expect(r.container.args).toEqual(["start", "--config", "/etc/teleport-event-handler/config/teleport-event-handler.toml"]);
    });

    test("keeps the hardened security context and resources when the file has empty ones", () => {
      const pod = r.deployment.spec.template.spec.securityContext;
      expect(pod).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, fsGroup: 65532 });
      expect(r.container.securityContext).toMatchObject({
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
      });
      expect(r.container.resources.requests).toEqual({ cpu: "100m", memory: "160Mi" });
      expect(r.container.resources.limits.memory).toBe("512Mi");
      // A read-only root needs a writable /tmp.
      expect(r.container.volumeMounts.find((m: any) => m.mountPath === "/tmp")?.name).toBe("tmp");
    });

    test("probes /healthz and /readyz on the metrics port, which the Service exposes", () => {
      const port = r.container.ports.find((p: any) => p.name === "metrics");
      expect(port.containerPort).toBe(9464);
      expect(r.toml["metrics-addr"]).toBe("0.0.0.0:9464");
      expect(r.container.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "metrics" });
      expect(r.container.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "metrics" });
      const service = r.objects.find((o) => o.kind === "Service")!;
      expect(service.spec.ports).toEqual([{ name: "metrics", port: 9464, targetPort: "metrics", protocol: "TCP" }]);
      expect(service.spec.selector).toEqual(r.deployment.spec.selector.matchLabels);
    });

    test("passes the Go names through to the TOML, with each file read from its secret", () => {
      expect(r.toml.teleport.addr).toBe("teleport.example.com:443");
      expect(r.toml.teleport.refresh.enabled).toBe(true);
      expect(r.toml.forward.fluentd.url).toBe("https://fluentd.fluentd.svc.cluster.local/events.log");
      expect(r.toml.forward.fluentd["session-url"]).toBe("https://fluentd.fluentd.svc.cluster.local/session");
      expect(r.toml.timeout).toBe("10s");
      expect(r.toml.batch).toBe(20);
      expect(r.toml["window-size"]).toBe("24h");
      expect(r.toml.types).toBe("user.login,session.start");
      expect(r.toml["skip-session-types"]).toBe("print,desktop.recording");
      expect(secretFile(r, r.toml.teleport.identity)).toEqual({ secret: "teleport-plugin-event-handler-identity", key: "auth_id", mode: 0o440 });
      const fluentdSecret = "teleport-plugin-event-handler-client-tls";
      expect(secretFile(r, r.toml.forward.fluentd.ca)).toEqual({ secret: fluentdSecret, key: "ca.crt", mode: 0o440 });
      expect(secretFile(r, r.toml.forward.fluentd.cert)).toEqual({ secret: fluentdSecret, key: "client.crt", mode: 0o440 });
      expect(secretFile(r, r.toml.forward.fluentd.key)).toEqual({ secret: fluentdSecret, key: "client.key", mode: 0o440 });
      // tls.existingCASecretName: trusted through SSL_CERT_FILE, as in the Go chart.
      const sslCertFile = r.container.env.find((e: any) => e.name === "SSL_CERT_FILE").value;
      expect(secretFile(r, sslCertFile)?.secret).toBe("teleport-proxy-ca");
    });

    test("keeps the progress on the PVC, mounted where the storage setting points", () => {
      expect(r.toml.storage).toBe("/var/lib/teleport/plugins/event-handler/storage");
      const mount = r.container.volumeMounts.find((m: any) => m.mountPath === r.toml.storage);
      const volume = r.deployment.spec.template.spec.volumes.find((v: any) => v.name === mount.name);
      const pvc = r.objects.find((o) => o.kind === "PersistentVolumeClaim")!;
      expect(volume.persistentVolumeClaim.claimName).toBe(pvc.metadata.name);
      expect(pvc.spec.resources.requests.storage).toBe("1Gi");
    });
  });

  describe("a values file with every value set", () => {
    const r = render([EVERY_OPTION]);

    test("every setting of the options table reaches the container, as TOML, env or argument", () => {
      // The settings that exclude ones set above: Teleport credentials as a kubernetes.io/tls secret
      // instead of an identity file, and an inline key passphrase from a secret through extraEnv.
      const alternative = render(
        [EVERY_OPTION],
        [
          "teleport.identitySecretName=",
          "teleport.tlsSecretName=eh-teleport-tls",
          "extraEnv[0].name=FDFWD_FLUENTD_KEY_PASSPHRASE",
          "extraEnv[0].valueFrom.secretKeyRef.name=eh-key-passphrase",
          "extraEnv[0].valueFrom.secretKeyRef.key=pass",
        ],
      );
      const reached = (x: Rendered, o: OptionDef) =>
        (o.toml !== null && at(x.toml, o.toml) !== undefined) || o.env.some((e) => envNames(x).includes(e)) || x.container.args.includes(`--${o.flag}`);
      const unreached = OPTION_LIST.filter(([, o]) => !reached(r, o) && !reached(alternative, o)).map(([, o]) => o.flag);
      expect(unreached).toEqual([]);
    });

    test("the values land in the settings they name", () => {
      expect(r.toml).toMatchObject({
        storage: "/data/progress",
        timeout: "7s",
        batch: 50,
        "window-size": "6h",
        debug: true,
        types: ["user.login", "session.start"],
        "skip-event-types": ["app.session.chunk"],
        "skip-session-types": ["print"],
        "start-time": "2024-01-01T00:00:00Z",
        "dry-run": true,
        concurrency: 8,
        "log-format": "json",
        "lock-enabled": true,
        "lock-failed-attempts-count": 5,
        "lock-period": "2m",
        "lock-for": "1h",
        "metrics-addr": "0.0.0.0:9100",
        "ready-failure-period": "5m",
        cursor: "0123456789abcdef",
        teleport: { addr: "proxy.example.com:443", cluster: "example.com", "tls-routing": "on", refresh: { enabled: true, interval: "30s" } },
        forward: {
          fluentd: {
            "max-connections": 12,
            "batch-size": 40,
            "batch-bytes": "512KiB",
            timeout: "20s",
            "allow-insecure": true,
            compress: "gzip",
            username: "handler",
          },
        },
      });
      expect(secretFile(r, r.toml.forward.fluentd.ca)).toMatchObject({ secret: "eh-fluentd-ca", key: "ca.crt" });
      expect(secretFile(r, r.toml.forward.fluentd.cert)).toMatchObject({ secret: "eh-fluentd-tls", key: "tls.crt" });
      expect(secretFile(r, r.toml.forward.fluentd.key)).toMatchObject({ secret: "eh-fluentd-tls", key: "tls.key" });
      expect(secretFile(r, r.toml.forward.fluentd["key-passphrase-file"])).toMatchObject({ secret: "eh-key-passphrase", key: "pass" });
      // Header values, the shared key and the password are secrets: they come from secrets into the env.
      const fromSecret = (name: string) => r.container.env.find((e: any) => e.name === name)?.valueFrom?.secretKeyRef;
      expect(fromSecret("FDFWD_FLUENTD_HEADER")).toEqual({ name: "eh-headers", key: "lines" });
      expect(fromSecret("FDFWD_FLUENTD_SHARED_KEY")).toEqual({ name: "eh-forward", key: "key" });
      expect(fromSecret("FDFWD_FLUENTD_PASSWORD")).toEqual({ name: "eh-forward", key: "pass" });
      const configMap = r.objects.find((o) => o.kind === "ConfigMap")!;
      expect(configMap.data["teleport-event-handler.toml"]).not.toMatch(/shared-key|password|header/);
      expect(r.container.args).toEqual(["start", "--config", "/etc/teleport-event-handler/config/teleport-event-handler.toml", "--exit-on-last-event"]);
      expect(r.container.env).toContainEqual({ name: "TZ", value: "UTC" });
      expect(r.container.image).toBe("registry.example.com/teleport-event-handler:9.9.9");
      expect(r.container.ports[0].containerPort).toBe(9100);
      expect(r.deployment.spec.template.spec.serviceAccountName).toBe("eh-sa");
      expect(r.deployment.spec.replicas).toBe(1);
    });

    test("renders the ServiceMonitor and the PVC it asks for", () => {
      const monitor = r.objects.find((o) => o.kind === "ServiceMonitor")!;
      expect(monitor.metadata.labels?.release).toBe("prometheus");
      expect(monitor.spec.endpoints).toEqual([{ port: "metrics", path: "/metrics", interval: "30s", scrapeTimeout: "10s" }]);
      const pvc = r.objects.find((o) => o.kind === "PersistentVolumeClaim")!;
      expect(pvc.spec).toMatchObject({ accessModes: ["ReadWriteOncePod"], storageClassName: "fast", resources: { requests: { storage: "5Gi" } } });
    });
  });

  test("a kubernetes.io/tls secret serves as the Teleport credentials", () => {
    const r = render([GO_TYPICAL], ["teleport.identitySecretName=", "teleport.tlsSecretName=eh-teleport-tls"]);
    expect(r.toml.teleport.identity).toBeUndefined();
    for (const [setting, key] of [["cert", "tls.crt"], ["key", "tls.key"], ["ca", "ca.crt"]] as const) {
      expect(secretFile(r, r.toml.teleport[setting])).toMatchObject({ secret: "eh-teleport-tls", key });
    }
  });

  test("tbot.enabled reads the identity from the secret tbot writes", () => {
    const r = render([GO_TYPICAL], ["teleport.identitySecretName=", "tbot.enabled=true", "tbot.clusterName=example.com"]);
    expect(secretFile(r, r.toml.teleport.identity)?.secret).toBe("teh-tbot-identity");
    expect(r.toml.teleport.refresh.enabled).toBe(true);
  });

  test("a relative storage path (what the Go configure writes) becomes one inside the image's volume", () => {
    const r = render([GO_TYPICAL], ["eventHandler.storagePath=./storage"]);
    expect(r.toml.storage).toBe("/var/lib/teleport-event-handler/storage");
    expect(r.container.volumeMounts.map((m: any) => m.mountPath)).toContain("/var/lib/teleport-event-handler/storage");
  });

  test("the values `configure` writes render with this chart", () => {
    const dir = tempDir("teh-helm-values-");
    const files = { caCert: "/x/ca.crt", serverCert: "/x/server.crt", serverKey: "/x/server.key", clientCert: "/x/client.crt", clientKey: "/x/client.key" };
    const file = join(dir, "values.yaml");
    writeFileSync(file, helmValues({ addr: "teleport.example.com:443", fluentdHost: "localhost", files, passphrase: "p", bufferDir: "/x", protocol: "http" }));
    const r = render([file]);
    expect(r.toml.teleport.addr).toBe("teleport.example.com:443");
    expect(r.toml.storage).toBe("/var/lib/teleport-event-handler");
    expect(secretFile(r, r.toml.forward.fluentd.key)?.key).toBe("client.key");
    expect(r.objects.some((o) => o.kind === "PersistentVolumeClaim")).toBe(true);
  });

  test("missing required values fail the render with one line naming the value", () => {
    const noAddress = helm(["template", "teh", CHART, "-f", GO_TYPICAL, "--set", "teleport.address="]);
    expect(noAddress.code).not.toBe(0);
    expect(noAddress.stderr).toContain("teleport.address is required");
    const noIdentity = helm(["template", "teh", CHART, "-f", GO_TYPICAL, "--set", "teleport.identitySecretName="]);
    expect(noIdentity.code).not.toBe(0);
    expect(noIdentity.stderr).toContain("teleport.identitySecretName is required");
  });
});
