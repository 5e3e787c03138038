import { basename } from "node:path";
import type { TemplateContext } from "./context.ts";
import { EVENTS_TAG, SESSION_PATH } from "./endpoints.ts";
import { yamlString } from "./quote.ts";

/**
 * Values for our chart, deploy/helm/teleport-event-handler. They use only names that Teleport's
 * teleport-plugin-event-handler chart also has, so the file stays readable by both charts; the
 * differences from what the Go tool writes:
 * - storagePath is absolute (the Go tool writes "./storage"): our chart mounts the PVC there, and a
 *   relative path would resolve against the read-only config directory;
 * - sessionUrl ends in /session (the handler appends `.<sid>.log`; /session.log gave
 *   `session.log.<sid>.log`) and the secrets carry the chart's newer teleport-plugin-… names;
 * - metrics.enabled (ours only): the probes and the metrics Service need the metrics listener.
 * The certificate paths are keys of a secret made from the generated files, hence their base names.
 */
export function helmValues(ctx: TemplateContext): string {
  const fluentd = "https://fluentd.fluentd.svc.cluster.local";
  return `# Values for the teleport-event-handler chart (deploy/helm/teleport-event-handler); the names are
# also those of Teleport's teleport-plugin-event-handler chart. Create the two secrets first:
#   kubectl create secret generic teleport-plugin-event-handler-identity --from-file=identity
#   kubectl create secret generic teleport-plugin-event-handler-client-tls \\
#     --from-file=${basename(ctx.files.caCert)} --from-file=${basename(ctx.files.clientCert)} --from-file=${basename(ctx.files.clientKey)}
eventHandler:
  storagePath: "/var/lib/teleport-event-handler"
  timeout: "10s"
  batch: 20

teleport:
  address: ${yamlString(ctx.addr)}
  identitySecretName: teleport-plugin-event-handler-identity
  identitySecretPath: identity

fluentd:
  url: ${yamlString(`${fluentd}/${EVENTS_TAG}`)}
  sessionUrl: ${yamlString(`${fluentd}/${SESSION_PATH}`)}
  certificate:
    secretName: "teleport-plugin-event-handler-client-tls"
    caPath: ${yamlString(basename(ctx.files.caCert))}
    certPath: ${yamlString(basename(ctx.files.clientCert))}
    keyPath: ${yamlString(basename(ctx.files.clientKey))}

persistentVolumeClaim:
  enabled: true

metrics:
  enabled: true
`;
}
