import { basename } from "node:path";
import type { TemplateContext } from "./context.ts";
import { EVENTS_TAG, SESSION_PATH } from "./endpoints.ts";
import { yamlString } from "./quote.ts";

/**
 * Values for the teleport-plugin-event-handler Helm chart, as the Go tool writes them, with two fixes
 * from upstream: sessionUrl ends in /session (the handler appends `.<sid>.log`; /session.log gave
 * `session.log.<sid>.log`) and the secrets carry the chart's newer teleport-plugin-… names.
 * The certificate paths are keys of a secret made from the generated files, hence their base names.
 */
export function helmValues(ctx: TemplateContext): string {
  const fluentd = "https://fluentd.fluentd.svc.cluster.local";
  return `eventHandler:
  storagePath: "./storage"
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
`;
}
